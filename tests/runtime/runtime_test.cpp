#include <catch2/catch.hpp>

#include <cstdlib>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/runtime/operator_actor.hpp"
#include "ember/xcs/runtime/runtime.hpp"
#include "runtime/runtime_core.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::Gate;
using ember::testing::time_out_a_started_body;

TEST_CASE("runtime options parse from strings and reject what they do not know", "[runtime][config]") {
  auto config = parse_runtime_config({{"scheduler_threads", "3"}, {"shutdown_grace_ms", "0"}});
  CHECK(config.scheduler_threads == 3u);
  CHECK(config.shutdown_grace == 0ms);
  CHECK(config.blocking_threads == RuntimeConfig{}.blocking_threads);
  CHECK_THROWS_WITH(parse_runtime_config({{"threads", "3"}}), "Invalid runtime option: threads");
  CHECK_THROWS_WITH(parse_runtime_config({{"scheduler_threads", "0"}}),
                    "Invalid value for runtime option 'scheduler_threads': '0' "
                    "(allowed: a positive integer up to 1024)");
  CHECK_THROWS_AS(parse_runtime_config({{"blocking_threads", "4x"}}), std::invalid_argument);
}

TEST_CASE("the scheduler thread count comes from the environment", "[runtime][config]") {
  ::setenv("EMBER_XCS_SCHEDULER_THREADS", "2", 1);
  auto config = runtime_config_from_environment();
  ::unsetenv("EMBER_XCS_SCHEDULER_THREADS");
  CHECK(config.scheduler_threads == 2u);
}

TEST_CASE("the runtime refuses a new configuration once started", "[runtime][config]") {
  shutdown_runtime();
  configure_runtime(RuntimeConfig{.scheduler_threads = 2});
  actor_system();
  CHECK(runtime_config().scheduler_threads == 2u);
  CHECK_THROWS_AS(configure_runtime(RuntimeConfig{}), std::logic_error);
  shutdown_runtime();
  configure_runtime(RuntimeConfig{});
}

TEST_CASE("shutdown with a body still running returns after the grace period",
          "[runtime][shutdown]") {
  shutdown_runtime();
  configure_runtime(RuntimeConfig{.shutdown_grace = 100ms});
  auto gate = std::make_shared<Gate>(); // shared: an abandoned body may outlive the test
  auto started = std::make_shared<std::atomic<int>>(0);
  auto op = function_operator("Endless", [gate, started](const Record& in) {
    ++*started;
    gate->wait(30000ms);
    return in;
  });
  {
    auto scope = execution_options({.timeout_seconds = 0.01});
    REQUIRE(time_out_a_started_body([&] { op(Record{}); }, *started));
  }
  auto begin = std::chrono::steady_clock::now();
  CHECK_FALSE(shutdown_runtime()); // one body was abandoned
  CHECK(std::chrono::steady_clock::now() - begin < 2s);
  gate->open();

  // A runtime started after a shutdown works.
  configure_runtime(RuntimeConfig{});
  auto echo = function_operator("Echo", [](const Record& in) { return in; });
  auto scope = execution_options({.timeout_seconds = 5.0});
  CHECK(echo(Record{{"x", 1}}).get<std::int64_t>("x") == 1);
}

TEST_CASE("idle blocking threads are reused", "[runtime][threads]") {
  shutdown_runtime();
  // I/O-bound: its pool may grow to 64 threads, so reuse is what keeps it small.
  auto echo = function_operator("Echo", [](const Record& in) { return in; }, {}, OperatorKind::io);
  auto scope = execution_options({.timeout_seconds = 5.0});
  auto& pool = xcs::detail::runtime_core()->executor(xcs::detail::Device::io);
  for (int i = 0; i < 50; ++i) {
    echo(Record{{"i", i}});
    // The caller returns as the body ends, before its thread is back to
    // waiting; a call posted in that window rightly starts a second thread.
    // Once the thread waits again, the next call must take it.
    REQUIRE(ember::testing::eventually([&] { return pool.idle_count() == pool.thread_count(); }));
  }
  CHECK(pool.thread_count() == 1);
}

TEST_CASE("program exit with a body still running is bounded by the grace period",
          "[runtime][shutdown]") {
  const char* program = std::getenv("EMBER_XCS_EXIT_PROGRAM");
  REQUIRE(program != nullptr);
  auto begin = std::chrono::steady_clock::now();
  int status = std::system((std::string{"EMBER_XCS_SHUTDOWN_GRACE_MS=300 "} + program).c_str());
  auto took = std::chrono::steady_clock::now() - begin;
  CHECK(status == 0);
  CHECK(took < 5s); // the body sleeps 60 s: only the bounded shutdown ends it sooner
}

TEST_CASE("shutdown after spawning an operator actor from this thread is bounded",
          "[runtime][shutdown]") {
  // Regression: CAF 0.17 keeps the system alive while a thread that spawned
  // from outside it lives, so shutdown from that thread used to hang.
  shutdown_runtime();
  auto echo = function_operator("Echo", [](const Record& in) { return in; });
  auto actor = spawn_operator(echo);
  auto begin = std::chrono::steady_clock::now();
  shutdown_runtime();
  CHECK(std::chrono::steady_clock::now() - begin < 5s);
}
