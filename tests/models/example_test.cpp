// The ensemble_judge example, run as a user runs it: against an
// OpenAI-compatible endpoint named by the environment (here the scripted
// server), and without one, where it must say what to set.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>

#include "test_server.hpp"

using namespace ember::testing;

namespace {

struct Run {
  int status = -1;
  std::string output;
};

// Runs the example with `environment` (NAME=value ...) before it; stdout and
// stderr together.
Run run_example(const std::string& environment) {
  const char* program = std::getenv("EMBER_XCS_ENSEMBLE_JUDGE");
  REQUIRE(program != nullptr);
  std::string command = "env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u EMBER_CONFIG "
                        "-u EMBER_EXAMPLE_MODEL " +
                        environment + " '" + program + "' 2>&1";
  Run run;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe))
    run.output.append(buffer, n);
  int status = ::pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

int count(const std::string& text, const std::string& part) {
  int found = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
    ++found;
  return found;
}

} // namespace

TEST_CASE("the ensemble_judge example answers every question through an endpoint from the environment",
          "[models][example]") {
  // Ensemble members get the example's "Answer briefly" prompt; the judge
  // gets Ember's synthesis prompt and answers in its format.
  TestServer server{[](const ReceivedRequest& request, int) {
    ScriptedReply reply;
    if (prompt_of(request).rfind("Answer briefly", 0) == 0)
      reply.body = openai_reply("Canberra.", 12, 3);
    else
      reply.body = openai_reply("Reasoning: the answers agree.\nFinal Answer: Canberra", 80, 9);
    return reply;
  }};
  auto run = run_example("OPENAI_BASE_URL=" + server.base_url() +
                         " OPENAI_API_KEY=test-key EMBER_EXAMPLE_MODEL=openai:local-model");
  INFO(run.output);
  CHECK(run.status == 0);
  CHECK(count(run.output, "A: Canberra") == 3);
  // 3 questions x (5 ensemble members + 1 judge), tokens summed per call.
  CHECK_THAT(run.output, Catch::Contains("openai:local-model: 18 calls, 420 prompt + 72 completion tokens"));
  CHECK(server.received().size() == 18);
  CHECK(server.received().front().headers.at("authorization") == "Bearer test-key");
}

TEST_CASE("the ensemble_judge example without an endpoint says what to set", "[models][example]") {
  auto run = run_example("");
  INFO(run.output);
  CHECK(run.status == 2);
  CHECK_THAT(run.output, Catch::Contains("OPENAI_API_KEY") && Catch::Contains("OPENAI_BASE_URL") &&
                             Catch::Contains("EMBER_EXAMPLE_MODEL"));
}
