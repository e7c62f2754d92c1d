#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

#include "ember/core/non/most_common.hpp"
#include "ember/core/non/uniform_ensemble.hpp"
#include "ember/models/model_registry.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::testing;
using Catch::Contains;
using models::ModelConfigError;
using models::ModelRegistry;

namespace {

/// An environment that holds only `variables` (the process's is not read).
models::Environment environment(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const std::string& name) -> std::optional<std::string> {
    auto found = variables.find(name);
    if (found == variables.end())
      return std::nullopt;
    return found->second;
  };
}

/// A configuration file holding `text`, removed at scope exit.
struct ConfigFile {
  explicit ConfigFile(const std::string& text)
      : path(std::filesystem::temp_directory_path() /
             ("ember-models-" + std::to_string(::getpid()) + "-" +
              std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".json")) {
    std::ofstream{path} << text;
  }
  ~ConfigFile() { std::filesystem::remove(path); }
  std::filesystem::path path;
};

ScriptedReply ok(const std::string& text, int in, int out) {
  ScriptedReply reply;
  reply.body = openai_reply(text, in, out);
  return reply;
}

} // namespace

TEST_CASE("an unknown model id is an error naming it, before any request", "[models][registry]") {
  ModelRegistry registry{environment({{"OPENAI_API_KEY", "k"}})};
  CHECK_THROWS_AS(registry.model("nowhere:model-x"), ModelConfigError);
  CHECK_THROWS_WITH(registry.model("nowhere:model-x"), Contains("nowhere:model-x") &&
                                                           Contains("no provider 'nowhere'") &&
                                                           Contains("anthropic, openai"));
  CHECK_THROWS_WITH(registry.model("gpt-4o-mini"),
                    Contains("gpt-4o-mini") && Contains("provider:model"));
}

TEST_CASE("a missing API key is an error naming the variable", "[models][registry]") {
  ModelRegistry registry{environment({{"OPENAI_BASE_URL", "http://127.0.0.1:9/v1"}})};
  CHECK_THROWS_AS(registry.model("openai:gpt-4o-mini"), ModelConfigError);
  CHECK_THROWS_WITH(registry.model("openai:gpt-4o-mini"),
                    Contains("openai:gpt-4o-mini") && Contains("OPENAI_API_KEY"));
  CHECK_THROWS_WITH(registry.model("anthropic:claude-3-5-haiku-latest"),
                    Contains("ANTHROPIC_API_KEY"));
}

TEST_CASE("a CA file that cannot be loaded is an error naming it, before any request",
          "[models][registry][tls]") {
  ModelRegistry registry{environment({})};
  registry.add_provider(
      "secure", {models::Protocol::openai, "https://127.0.0.1:9/v1", "", "/nonexistent/ca.pem"});
  CHECK_THROWS_AS(registry.model("secure:m"), ModelConfigError);
  CHECK_THROWS_WITH(registry.model("secure:m"),
                    Contains("secure:m") && Contains("/nonexistent/ca.pem"));
}

TEST_CASE("OPENAI_BASE_URL and OPENAI_API_KEY point openai: ids at a server",
          "[models][registry]") {
  TestServer server{[](const ReceivedRequest&, int) { return ok("hi", 1, 1); }};
  ModelRegistry registry{
      environment({{"OPENAI_API_KEY", "sk-test"}, {"OPENAI_BASE_URL", server.base_url("/v1")}})};
  auto model = registry.model("openai:gpt-4o-mini");
  CHECK(model.name() == "openai:gpt-4o-mini");
  CHECK(model(Record{{"prompt", "q"}}).get<std::string>("text") == "hi");
  auto requests = server.received();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].headers["authorization"] == "Bearer sk-test");
  CHECK(requests[0].body.find("\"gpt-4o-mini\"") != std::string::npos);
}

TEST_CASE("a malformed configuration file is an error naming the file and the line",
          "[models][registry][config]") {
  ConfigFile file{"{\n  \"providers\": {\n    \"local\": {\"protocol\": \"openai\",, }\n  }\n}\n"};
  auto env = environment({{"EMBER_CONFIG", file.path.string()}});
  CHECK_THROWS_AS(ModelRegistry::from_environment(env), ModelConfigError);
  CHECK_THROWS_WITH(ModelRegistry::from_environment(env),
                    Contains(file.path.string()) && Contains("line 3"));
}

TEST_CASE("a configuration file with a wrong field names the file and the field",
          "[models][registry][config]") {
  ConfigFile bad_protocol{
      R"({"providers": {"local": {"protocol": "grpc", "base_url": "http://x"}}})"};
  CHECK_THROWS_WITH(ModelRegistry::from_file(bad_protocol.path, environment({})),
                    Contains(bad_protocol.path.string()) && Contains("providers.local.protocol") &&
                        Contains("grpc"));
  ConfigFile no_url{R"({"providers": {"local": {"protocol": "openai"}}})"};
  CHECK_THROWS_WITH(ModelRegistry::from_file(no_url.path, environment({})),
                    Contains("providers.local") && Contains("base_url"));
  CHECK_THROWS_WITH(ModelRegistry::from_file("/nonexistent/ember.json", environment({})),
                    Contains("/nonexistent/ember.json") && Contains("cannot be read"));
}

TEST_CASE("a named provider from the configuration needs the key variable it names",
          "[models][registry][config]") {
  ConfigFile file{R"({"providers": {"local": {"protocol": "openai",
      "base_url": "http://127.0.0.1:9/v1", "api_key_env": "LOCAL_KEY"}}})"};
  auto registry = ModelRegistry::from_file(file.path, environment({}));
  CHECK_THROWS_WITH(registry.model("local:llama"),
                    Contains("local:llama") && Contains("LOCAL_KEY"));
}

TEST_CASE("usage sums tokens per model with cost from the price table, and resets",
          "[models][registry][usage]") {
  TestServer server{[](const ReceivedRequest& request, int) {
    return ok("a", prompt_of(request) == "big" ? 1000 : 10, 5);
  }};
  ConfigFile file{R"({"providers": {"local": {"protocol": "openai", "base_url": ")" +
                  server.base_url("/v1") +
                  R"(", "api_key_env": "LOCAL_KEY"}},
      "prices": {"local:priced": {"input_per_million": 2.0, "output_per_million": 8.0}}})"};
  auto registry = ModelRegistry::from_environment(
      environment({{"EMBER_CONFIG", file.path.string()}, {"LOCAL_KEY", "secret"}}));
  auto priced = registry.model("local:priced");
  auto unpriced = registry.model("local:other");
  priced(Record{{"prompt", "small"}});
  priced(Record{{"prompt", "big"}});
  unpriced(Record{{"prompt", "small"}});
  auto usage = registry.usage();
  REQUIRE(usage.size() == 2);
  CHECK(usage["local:priced"].calls == 2);
  CHECK(usage["local:priced"].prompt_tokens == 1010);
  CHECK(usage["local:priced"].completion_tokens == 10);
  CHECK(usage["local:priced"].priced);
  CHECK(usage["local:priced"].cost == Approx((1010 * 2.0 + 10 * 8.0) / 1e6));
  CHECK(usage["local:other"].calls == 1);
  CHECK_FALSE(usage["local:other"].priced);
  CHECK(usage["local:other"].cost == 0.0);
  CHECK(server.received()[0].headers["authorization"] == "Bearer secret");
  registry.reset_usage();
  CHECK(registry.usage().empty());
}

TEST_CASE("a registry model serves a NON ensemble and majority vote", "[models][registry][non]") {
  TestServer server{
      [](const ReceivedRequest&, int index) { return ok(index == 1 ? "Lyon" : "Paris", 1, 1); }};
  ModelRegistry registry{environment({})};
  registry.add_provider("local", {models::Protocol::openai, server.base_url("/v1"), "", ""});
  auto model = registry.model("local:m");
  auto ensemble = make_operator<non::UniformEnsemble>(model, 3);
  auto vote = make_operator<non::MostCommon>();
  Record responses = ensemble(Record{{"query", "Capital of France?"}});
  Record verdict =
      vote(Record{{"query", "Capital of France?"}, {"responses", responses.at("responses")}});
  CHECK(verdict.get<std::string>("final_answer") == "Paris");
  CHECK(server.received().size() == 3);
  CHECK(registry.usage()["local:m"].calls == 3);
}
