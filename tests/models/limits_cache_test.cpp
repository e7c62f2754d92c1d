// Rate limits and the persistent cache against the scripted server: calls
// beyond a limit wait instead of failing and a deadline cuts the wait; a
// cached re-run sends no request; limits come from the configuration file.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <unistd.h>

#include "ember/core/exceptions.hpp"
#include "ember/core/types/json.hpp"
#include "ember/models/model_registry.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/engine/result_cache.hpp"
#include "ember/xcs/transforms/vmap.hpp"
#include "support.hpp"
#include "../runtime/support.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace ember::testing;
using namespace std::chrono_literals;
using Catch::Contains;

namespace {

ScriptedReply echo_reply(const ReceivedRequest& request, int) {
  ScriptedReply reply;
  reply.body = openai_reply("re: " + prompt_of(request), 5, 2);
  return reply;
}

List prompts(int n) {
  List list;
  for (int i = 0; i < n; ++i)
    list.emplace_back("p" + std::to_string(i));
  return list;
}

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("ember-models-" + std::to_string(::getpid()) + "-" + name);
}

} // namespace

TEST_CASE("calls beyond a request limit wait their turn instead of failing",
          "[models][rate_limit][server]") {
  TestServer server{echo_reply};
  auto config = local_model(server);
  // 120 a minute: 120 go at once, the 121st two per second later (0.5 s).
  config.rate_limiter = std::make_shared<models::RateLimiter>(
      config.id, models::RateLimit{.requests_per_minute = 120});
  auto model = models::chat_model(config);
  auto scope = execution_options({.max_workers = 256});
  auto begin = std::chrono::steady_clock::now();
  auto out = vmap(model)(Record{{"prompt", prompts(121)}});
  auto took = std::chrono::steady_clock::now() - begin;
  REQUIRE(out.get<List>("text").size() == 121);
  CHECK(out.get<List>("text")[120].as_string() == "re: p120");
  CHECK(server.received().size() == 121);
  // The limiter held the last call back until the bucket had refilled one
  // request, half a second after the first took its place (a lower bound: a
  // loaded machine only makes the call later).
  CHECK(took >= 490ms);
}

TEST_CASE("a deadline cuts a call waiting for the rate limit and gives its place back",
          "[models][rate_limit][server][timeout]") {
  TestServer server{echo_reply};
  auto config = local_model(server);
  // 6 a minute: the 7th call would wait 10 s; the 2 s deadline cuts it.
  auto limiter = std::make_shared<models::RateLimiter>(
      config.id, models::RateLimit{.requests_per_minute = 6});
  config.rate_limiter = limiter;
  auto model = models::chat_model(config);
  {
    auto scope = execution_options({.max_workers = 16, .timeout_seconds = 2.0});
    CHECK_THROWS_AS(vmap(model)(Record{{"prompt", prompts(7)}}), TimeoutError);
  }
  CHECK(eventually([&] { return server.received().size() == 6; }));
  CHECK(server.received().size() == 6); // the 7th was never sent
  // The cut call's reservation comes back (the cut runs on the I/O thread,
  // just after the caller's answer): a next call waits about 8 s (10 s for
  // one request, less the 2 s that refilled), not about 18 s. Probed with
  // reservations given back at once.
  auto probe = [&] {
    auto next = limiter->reserve(0);
    limiter->cancel(next);
    return next.wait;
  };
  CHECK(eventually([&] { return probe() < 10s; }));
  CHECK(probe() > 5s);
}

TEST_CASE("rate limits come from the configuration file and a bad one names the file and the key",
          "[models][rate_limit][config]") {
  auto path = temp_file("limits.json");
  struct Remove {
    std::filesystem::path path;
    ~Remove() { std::filesystem::remove(path); }
  } remove{path};
  std::ofstream{path} << R"({"rate_limits": {"openai:m": {"requests_per_minute": "lots"}}})";
  auto no_environment = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  CHECK_THROWS_WITH(models::ModelRegistry::from_file(path, no_environment),
                    Contains(path.string()) && Contains("rate_limits.openai:m.requests_per_minute"));
  std::ofstream{path} << R"({"rate_limits": {"openai:m": {"per_hour": 5}}})";
  CHECK_THROWS_WITH(models::ModelRegistry::from_file(path, no_environment),
                    Contains("per_hour") && Contains("requests_per_minute, tokens_per_minute"));
}

TEST_CASE("a cached re-run of model calls from the cache file sends no request",
          "[models][cache][server]") {
  TestServer server{echo_reply};
  auto path = temp_file("models-cache.db");
  auto model = models::chat_model(local_model(server));
  auto other_temperature = [&] {
    auto config = local_model(server);
    config.parameters.temperature = 0.5;
    return models::chat_model(config);
  }();
  CHECK(model->persistent_identity() != other_temperature->persistent_identity());
  result_cache().persist_to(path.string());
  struct Reset {
    std::filesystem::path path;
    ~Reset() {
      result_cache().stop_persisting();
      result_cache().clear();
      for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(path.string() + suffix);
    }
  } reset{path};
  auto scope = execution_options({.max_workers = 8, .enable_caching = true});
  auto first = vmap(model)(Record{{"prompt", prompts(20)}});
  REQUIRE(server.received().size() == 20);
  result_cache().clear(); // a new process: an empty memory, the same file
  CHECK(vmap(model)(Record{{"prompt", prompts(20)}}) == first);
  CHECK(server.received().size() == 20);
  // The same prompts at another temperature are other requests.
  vmap(other_temperature)(Record{{"prompt", prompts(3)}});
  CHECK(server.received().size() == 23);
}
