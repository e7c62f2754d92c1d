#include <catch2/catch.hpp>

#include "ember/core/exceptions.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::testing;
using namespace std::chrono_literals;

namespace {

ScriptedReply status(int code, std::string body = "{}") {
  ScriptedReply reply;
  reply.status = code;
  reply.body = std::move(body);
  return reply;
}

ScriptedReply ok(const std::string& text) {
  return status(200, openai_reply(text, 1, 1));
}

} // namespace

TEST_CASE("a 500 then a success is retried and answers", "[models][retry]") {
  TestServer server{[](const ReceivedRequest&, int index) {
    return index == 0 ? status(500, R"({"error": {"message": "overloaded"}})") : ok("fine");
  }};
  auto model = models::chat_model(local_model(server));
  CHECK(model(Record{{"prompt", "q"}}).get<std::string>("text") == "fine");
  CHECK(server.received().size() == 2);
}

TEST_CASE("retries stop at max_attempts and the error names the model and the status",
          "[models][retry]") {
  TestServer server{[](const ReceivedRequest&, int) {
    return status(503, R"({"error": {"message": "try later"}})");
  }};
  auto config = local_model(server);
  config.client.retry.max_attempts = 3;
  auto model = models::chat_model(config);
  auto call = [&] { model(Record{{"prompt", "q"}}); };
  auto error = request_error_of(call);
  REQUIRE(error != nullptr);
  CHECK(error->status() == 503);
  CHECK(error->model() == "local:test-model");
  CHECK_THAT(error_of(call), Catch::Contains("local:test-model") &&
                                 Catch::Contains("after 3 attempt(s)") &&
                                 Catch::Contains("HTTP 503") && Catch::Contains("try later"));
  CHECK(server.received().size() == 6); // 3 attempts per call, two calls
}

TEST_CASE("a 429 waits for its Retry-After seconds before the next attempt", "[models][retry]") {
  // The jitter is 0, so without Retry-After the retry would follow at once.
  TestServer server{[](const ReceivedRequest&, int index) {
    if (index > 0)
      return ok("after the wait");
    auto reply = status(429, R"({"error": {"message": "rate limited"}})");
    reply.headers.emplace_back("Retry-After", "1");
    return reply;
  }};
  auto model = models::chat_model(local_model(server));
  CHECK(model(Record{{"prompt", "q"}}).get<std::string>("text") == "after the wait");
  auto requests = server.received();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].at - requests[0].at >= 1s);
}

TEST_CASE("backoff grows exponentially up to its cap", "[models][retry]") {
  // jitter 1: the delays are the ceilings 40, 80, 160 (capped at 100) ms.
  TestServer server{
      [](const ReceivedRequest&, int index) { return index < 3 ? status(502) : ok("done"); }};
  auto config = local_model(server);
  config.client.retry.backoff_base = 40ms;
  config.client.retry.backoff_cap = 100ms;
  config.client.retry.jitter = [] { return 1.0; };
  auto model = models::chat_model(config);
  CHECK(model(Record{{"prompt", "q"}}).get<std::string>("text") == "done");
  auto requests = server.received();
  REQUIRE(requests.size() == 4);
  CHECK(requests[1].at - requests[0].at >= 40ms);
  CHECK(requests[2].at - requests[1].at >= 80ms);
  CHECK(requests[3].at - requests[2].at >= 100ms);
}

TEST_CASE("a 400 is not retried and names the model, the status and the provider's message",
          "[models][retry]") {
  TestServer server{[](const ReceivedRequest&, int) {
    return status(
        400,
        R"({"error": {"message": "max_tokens is too large", "type": "invalid_request_error"}})");
  }};
  auto model = models::chat_model(local_model(server));
  auto call = [&] { model(Record{{"prompt", "q"}}); };
  auto error = request_error_of(call);
  REQUIRE(error != nullptr);
  CHECK(error->status() == 400);
  CHECK(error->provider_message() == "max_tokens is too large");
  CHECK_THAT(error_of(call), Catch::Contains("local:test-model") && Catch::Contains("400") &&
                                 Catch::Contains("max_tokens is too large"));
  CHECK(server.received().size() == 2); // one request per call: no retry
}

TEST_CASE("a connection reset in the middle of a reply is retried", "[models][retry]") {
  TestServer server{[](const ReceivedRequest&, int index) {
    if (index > 0)
      return ok("second try");
    ScriptedReply reply;
    reply.kind = ScriptedReply::Kind::reset_mid_reply;
    reply.body = openai_reply("cut off");
    return reply;
  }};
  auto model = models::chat_model(local_model(server));
  CHECK(model(Record{{"prompt", "q"}}).get<std::string>("text") == "second try");
  auto requests = server.received();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].connection != requests[1].connection);
}

TEST_CASE("a read timeout is retried on a new connection", "[models][retry]") {
  TestServer server{[](const ReceivedRequest&, int index) {
    auto reply = ok(index == 0 ? "too late" : "on time");
    if (index == 0)
      reply.delay = 2s;
    return reply;
  }};
  auto config = local_model(server);
  config.client.read_timeout = 100ms;
  auto model = models::chat_model(config);
  CHECK(model(Record{{"prompt", "q"}}).get<std::string>("text") == "on time");
  auto requests = server.received();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].connection != requests[1].connection);
}

TEST_CASE("a refused connection is retried, then named in the error", "[models][retry]") {
  std::string closed_url;
  {
    TestServer gone{[](const ReceivedRequest&, int) { return ok("unused"); }};
    closed_url = gone.base_url();
  }
  models::ChatModelConfig config;
  config.id = "local:nobody";
  config.model = "nobody";
  config.endpoint = {models::Protocol::openai, closed_url, "", ""};
  config.client.retry.max_attempts = 3;
  config.client.retry.jitter = [] { return 0.0; };
  auto model = models::chat_model(config);
  CHECK_THAT(error_of([&] {
               model(Record{{"prompt", "q"}});
             }),
             Catch::Contains("local:nobody") && Catch::Contains("after 3 attempt(s)") &&
                 Catch::Contains("connecting to 127.0.0.1"));
}

TEST_CASE("a reply that is not JSON fails at once and says so", "[models][retry]") {
  TestServer server{[](const ReceivedRequest&, int) { return status(200, R"({"choices": [)"); }};
  auto model = models::chat_model(local_model(server));
  CHECK_THAT(error_of([&] {
               model(Record{{"prompt", "q"}});
             }),
             Catch::Contains("local:test-model") && Catch::Contains("not valid JSON"));
  CHECK(server.received().size() == 1);
}

TEST_CASE("a reply without the answer field names the field it lacks", "[models][retry]") {
  TestServer server{[](const ReceivedRequest&, int) { return status(200, R"({"choices": []})"); }};
  auto model = models::chat_model(local_model(server));
  CHECK_THAT(error_of([&] {
               model(Record{{"prompt", "q"}});
             }),
             Catch::Contains("choices[0].message.content"));
}

TEST_CASE("the deadline cuts a Retry-After wait and answers on time", "[models][deadline][retry]") {
  TestServer server{[](const ReceivedRequest&, int) {
    auto reply = status(429);
    reply.headers.emplace_back("Retry-After", "30");
    return reply;
  }};
  auto model = models::chat_model(local_model(server));
  auto scope = xcs::execution_options({.timeout_seconds = 0.3});
  auto begin = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(model(Record{{"prompt", "q"}}), TimeoutError);
  auto waited = std::chrono::steady_clock::now() - begin;
  // At the deadline, not after the server's wait: the lateness itself is a
  // figure for bench/, not a test (a loaded machine only adds to it).
  CHECK(waited >= 300ms);
  CHECK(waited < 5s);
  CHECK(server.received().size() == 1);
}
