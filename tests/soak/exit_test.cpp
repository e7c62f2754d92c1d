// Shutdown under load (issue 5): program exit with bodies running and
// thousands queued is bounded by the grace period, and a runtime started
// after an explicit shutdown runs transforms again.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <vector>

#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/runtime/runtime.hpp"
#include "ember/xcs/tracer/structural_jit.hpp"
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/transforms/vmap.hpp"

extern char** environ;

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Exit {
  bool in_time = false;
  int status = -1;
  Clock::duration took{};
};

// Runs the queued-items program in `mode` with a 300 ms grace period; kills it
// if it has not exited within `limit`.
Exit run_child(const std::string& mode, Clock::duration limit) {
  const char* program = std::getenv("EMBER_XCS_EXIT_QUEUED_PROGRAM");
  REQUIRE(program != nullptr);
  std::vector<std::string> env_strings{"EMBER_XCS_SHUTDOWN_GRACE_MS=300"};
  for (char** e = environ; *e != nullptr; ++e)
    if (std::string{*e}.rfind("EMBER_XCS_SHUTDOWN_GRACE_MS=", 0) != 0)
      env_strings.emplace_back(*e);
  std::vector<char*> env;
  for (auto& s : env_strings)
    env.push_back(s.data());
  env.push_back(nullptr);
  std::string name = program;
  std::vector<char*> args{name.data(), const_cast<char*>(mode.c_str()), nullptr};
  pid_t child = 0;
  auto begin = Clock::now();
  REQUIRE(posix_spawn(&child, program, nullptr, nullptr, args.data(), env.data()) == 0);
  Exit exit;
  while (Clock::now() - begin < limit) {
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == child) {
      exit.in_time = true;
      exit.status = status;
      exit.took = Clock::now() - begin;
      return exit;
    }
    std::this_thread::sleep_for(1ms);
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  return exit;
}

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

} // namespace

TEST_CASE("program exit with 5,000 actor requests queued behind running bodies is bounded",
          "[runtime][shutdown]") {
  auto exit =
      run_child("actor", 10s); // bodies sleep 60 s: only the bounded shutdown ends it sooner
  std::cout << "exit with 5,000 queued actor requests: " << seconds(exit.took) << " s\n";
  REQUIRE(exit.in_time);
  CHECK(WIFEXITED(exit.status));
  CHECK(WEXITSTATUS(exit.status) == 0);
}

TEST_CASE("program exit with a 10,000-item vmap still running is bounded", "[runtime][shutdown]") {
  auto exit = run_child("vmap", 10s);
  std::cout << "exit with a 10,000-item vmap running: " << seconds(exit.took) << " s\n";
  REQUIRE(exit.in_time);
  CHECK(WIFEXITED(exit.status));
  CHECK(WEXITSTATUS(exit.status) == 0);
}

TEST_CASE("a runtime started after an explicit shutdown runs every transform",
          "[runtime][shutdown]") {
  auto twice = function_operator("Twice", [](const Record& in) {
    return Record{{"x", in.get<std::int64_t>("x") * 2}};
  });
  auto composite =
      function_operator("Pipeline", [twice](const Record& in) { return twice(twice(in)); });
  List xs{1, 2, 3, 4, 5, 6};
  auto scope = execution_options({.max_workers = 4, .timeout_seconds = 5.0});
  CHECK(pmap(vmap(twice), 3)(Record{{"x", xs}}).at("x") == Value{List{2, 4, 6, 8, 10, 12}});
  CHECK(shutdown_runtime());
  CHECK(blocking_thread_count() == 0);
  // The next call starts a fresh runtime.
  CHECK(pmap(vmap(twice), 3)(Record{{"x", xs}}).at("x") == Value{List{2, 4, 6, 8, 10, 12}});
  CHECK(vmap(structural_jit(composite))(Record{{"x", xs}}).at("x") ==
        Value{List{4, 8, 12, 16, 20, 24}});
  CHECK(shutdown_runtime());
}
