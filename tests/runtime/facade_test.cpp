#include <catch2/catch.hpp>

#include <thread>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/runtime/runtime.hpp"
#include "ember/xcs/runtime/this_call.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::eventually;
using ember::testing::Gate;
using ember::testing::time_out_a_started_body;

TEST_CASE("a timed call throws TimeoutError at the deadline while the body runs on",
          "[facade][timeout]") {
  auto gate = std::make_shared<Gate>(); // shared: an abandoned body may outlive the test
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  auto op = function_operator("Stuck", [&, gate](const Record& in) {
    ++started;
    gate->wait();
    ++finished;
    return in;
  });
  auto scope = execution_options({.timeout_seconds = 0.1});
  auto begin = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(op(Record{{"x", 1}}), TimeoutError);
  auto waited = std::chrono::steady_clock::now() - begin;
  CHECK(waited >= 100ms);
  CHECK(waited < 1s); // early, not precise: the body is still blocked (timing is in bench/)
  CHECK(started == 1);
  CHECK(finished == 0);
  gate->open();
  CHECK(eventually([&] { return finished == 1; }));
}

TEST_CASE("the timeout message names the operator and the timeout", "[facade][timeout]") {
  auto gate = std::make_shared<Gate>(); // shared: an abandoned body may outlive the test
  auto op = function_operator("SlowModel", [&, gate](const Record& in) {
    gate->wait();
    return in;
  });
  auto scope = execution_options({.timeout_seconds = 0.05});
  CHECK_THROWS_WITH(op(Record{}), Catch::Contains("operator 'SlowModel' timed out") &&
                                      Catch::Contains("timeout_seconds=0.05"));
  gate->open();
}

TEST_CASE("an abandoned body's task and inputs are freed when it ends", "[facade][timeout]") {
  auto gate = std::make_shared<Gate>(); // shared: an abandoned body may outlive the test
  std::atomic<bool> started{false};
  std::atomic<bool> done{false};
  auto op = function_operator("Abandoned", [&, gate](const Record& in) {
    started = true;
    gate->wait();
    done = true;
    return in;
  });
  Record inputs{{"payload", List{1, 2, 3}}};
  {
    auto scope = execution_options({.timeout_seconds = 0.02});
    CHECK_THROWS_AS(op(inputs), TimeoutError);
  }
  CHECK(inputs.use_count() > 1); // the running (or, on a loaded machine, queued) body holds them
  gate->open();
  CHECK(eventually([&] { return inputs.use_count() == 1; }));
  CHECK(done == started.load()); // a body that started ran to its end before the inputs went
}

TEST_CASE("a body on a worker thread sees the options of the call site", "[facade][options]") {
  std::thread::id body_thread;
  ExecutionOptions seen;
  auto op = function_operator("Probe", [&](const Record& in) {
    body_thread = std::this_thread::get_id();
    seen = get_execution_options();
    return in;
  });
  auto scope = execution_options({.max_workers = 3, .device_strategy = "io",
                                  .timeout_seconds = 5.0});
  op(Record{});
  CHECK(body_thread != std::this_thread::get_id()); // a timed call runs on the pool
  CHECK(seen.max_workers == 3);
  CHECK(seen.device_strategy == "io");
  CHECK(seen.timeout_seconds == 5.0);
}

TEST_CASE("a nested call inherits the deadline and runs inline", "[facade][timeout][nesting]") {
  std::optional<this_call::Clock::time_point> outer_deadline, inner_deadline;
  std::thread::id outer_thread, inner_thread;
  ExecutionOptions inner_options;
  auto inner = function_operator("Inner", [&](const Record& in) {
    inner_deadline = this_call::deadline();
    inner_thread = std::this_thread::get_id();
    inner_options = get_execution_options();
    return in;
  });
  auto outer = function_operator("Outer", [&](const Record& in) {
    outer_deadline = this_call::deadline();
    outer_thread = std::this_thread::get_id();
    return inner(in);
  });
  auto scope = execution_options({.max_workers = 2, .timeout_seconds = 5.0});
  outer(Record{});
  REQUIRE(outer_deadline.has_value());
  CHECK(inner_deadline == outer_deadline);
  CHECK(inner_thread == outer_thread);
  CHECK(inner_options.max_workers == 2);
}

TEST_CASE("a scope inside a body can shorten the inherited deadline but not extend it",
          "[facade][timeout][nesting]") {
  std::optional<this_call::Clock::time_point> outer_deadline, longer, shorter;
  auto probe_longer = function_operator("Longer", [&](const Record& in) {
    longer = this_call::deadline();
    return in;
  });
  auto probe_shorter = function_operator("Shorter", [&](const Record& in) {
    shorter = this_call::deadline();
    return in;
  });
  auto outer = function_operator("Outer", [&](const Record& in) {
    outer_deadline = this_call::deadline();
    {
      auto wider = execution_options({.timeout_seconds = 60.0});
      probe_longer(in);
    }
    auto narrower = execution_options({.timeout_seconds = 0.5});
    return probe_shorter(in);
  });
  auto scope = execution_options({.timeout_seconds = 5.0});
  outer(Record{});
  REQUIRE(outer_deadline.has_value());
  CHECK(longer == outer_deadline);
  REQUIRE(shorter.has_value());
  CHECK(*shorter < *outer_deadline);
}

TEST_CASE("a body sees stop_requested once its deadline passed", "[facade][timeout][cancel]") {
  auto started = std::make_shared<std::atomic<int>>(0);
  auto saw_stop = std::make_shared<std::atomic<int>>(0);
  auto op = function_operator("Polite", [started, saw_stop](const Record& in) {
    ++*started;
    eventually([] { return this_call::stop_requested(); }, 10000ms);
    if (this_call::stop_requested())
      ++*saw_stop;
    return in;
  });
  auto scope = execution_options({.timeout_seconds = 0.05});
  REQUIRE(time_out_a_started_body([&] { op(Record{}); }, *started));
  // Every body that started saw the stop (none was left polling).
  CHECK(eventually([&] { return saw_stop->load() == started->load(); }));
}

TEST_CASE("a body's exception reaches the caller of a timed call unchanged", "[facade][errors]") {
  auto op = function_operator("Thrower", [](const Record&) -> Record {
    throw std::runtime_error("model server said no");
  });
  auto scope = execution_options({.timeout_seconds = 5.0});
  CHECK_THROWS_WITH(op(Record{}), "model server said no");
}

TEST_CASE("validation errors keep their type through a timed call", "[facade][errors]") {
  auto op = function_operator(
      "Typed", [](const Record& in) { return in; },
      Specification{{Field::required_field("text", FieldType::string)}, {}});
  auto scope = execution_options({.timeout_seconds = 5.0});
  CHECK_THROWS_AS(op(Record{{"text", 3}}), ValidationError);
}
