// Asynchronous operators as graph nodes: each starts once its inputs are
// there and ends through its completion, holding a permit of the run's budget
// instead of a thread.
#include <catch2/catch.hpp>

#include <future>
#include <vector>
#include <stop_token>
#include <stdexcept>
#include <mutex>
#include <memory>
#include <functional>
#include <atomic>
#include <string>

#include "../runtime/parked.hpp"
#include "../runtime/pool_threads.hpp"
#include "../runtime/support.hpp"
#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_context.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/graph/graph.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::busy_pool_threads;
using ember::testing::complete_until_ready;
using ember::testing::CompleteOnExit;
using ember::testing::eventually;
using ember::testing::Parked;

namespace {

// Runs `graph` on another thread under the options in force here.
std::future<GraphResult> run_elsewhere(const Graph& graph, Record inputs) {
  return std::async(std::launch::async, [graph, inputs, options = current_execution_snapshot()] {
    ExecutionContextGuard scope{options};
    return graph.run(inputs);
  });
}

} // namespace

TEST_CASE("asynchronous graph nodes hold no thread while they wait", "[graph][async][threads]") {
  constexpr int nodes = 32;
  auto op = std::make_shared<Parked>();
  Graph graph;
  for (int i = 0; i < nodes; ++i)
    graph.add_node("n" + std::to_string(i), OperatorRef{op});
  auto scope = execution_options({.max_workers = 64});
  auto result = run_elsewhere(graph, Record{{"x", 21}});
  CompleteOnExit guard{*op, result};
  REQUIRE(eventually([&] { return op->parked() == nodes; }));
  // Every node is in flight and no pool thread is busy waiting for one.
  CHECK(eventually([] { return busy_pool_threads() == 0; }));
  op->complete_all();
  REQUIRE(result.wait_for(5s) == std::future_status::ready);
  auto outputs = result.get().outputs;
  REQUIRE(outputs.size() == nodes);
  for (const auto& [id, output] : outputs)
    CHECK(output == Record{{"y", 42}});
}

TEST_CASE("an asynchronous node starts when its asynchronous predecessor completes",
          "[graph][async]") {
  auto op = std::make_shared<Parked>();
  Graph graph;
  graph.add_node("a", OperatorRef{op}).add_node("b", OperatorRef{op}).add_node("c", OperatorRef{op});
  graph.add_edge("a", "b", {{"y", "x"}}).add_edge("b", "c", {{"y", "x"}});
  auto result = run_elsewhere(graph, Record{{"x", 1}});
  CompleteOnExit guard{*op, result};
  for (int step = 0; step < 3; ++step) {
    // One node at a time: its successor waits for its output.
    REQUIRE(eventually([&] { return op->parked() == 1; }));
    op->complete_all();
  }
  REQUIRE(result.wait_for(5s) == std::future_status::ready);
  CHECK(result.get().outputs.at("c") == Record{{"y", 8}});
  CHECK(op->peak() == 1);
}

TEST_CASE("max_workers bounds the asynchronous graph nodes in flight", "[graph][async][max_workers]") {
  constexpr int nodes = 16;
  auto op = std::make_shared<Parked>();
  Graph graph;
  for (int i = 0; i < nodes; ++i)
    graph.add_node("n" + std::to_string(i), OperatorRef{op});
  auto scope = execution_options({.max_workers = 4});
  auto result = run_elsewhere(graph, Record{{"x", 1}});
  CompleteOnExit guard{*op, result};
  REQUIRE(complete_until_ready(*op, result));
  CHECK(result.get().outputs.size() == nodes);
  CHECK(op->peak() <= 4);
}

TEST_CASE("an asynchronous node's failure and its skipped successors are reported",
          "[graph][async][failures]") {
  class Refusing final : public AsyncOperator {
  public:
    Refusing() : AsyncOperator("Refusing", {}, OperatorKind::io) {}
    void start(const Record&, Completion done) const override {
      done.fail(std::make_exception_ptr(std::runtime_error("quota exhausted")));
    }
  };
  auto parked = std::make_shared<Parked>();
  Graph graph;
  graph.add_node("refused", make_operator<Refusing>())
      .add_node("after", OperatorRef{parked})
      .add_node("other", OperatorRef{parked});
  graph.add_edge("refused", "after");
  {
    auto scope = execution_options({.fail_fast = false});
    auto result = run_elsewhere(graph, Record{{"x", 3}});
    CompleteOnExit guard{*parked, result};
    REQUIRE(complete_until_ready(*parked, result));
    auto outcome = result.get();
    CHECK(outcome.failed.at("refused").find("quota exhausted") != std::string::npos);
    CHECK(outcome.skipped.count("after") == 1);
    CHECK(outcome.outputs.at("other") == Record{{"y", 6}});
  }
  auto result = run_elsewhere(graph, Record{{"x", 3}});
  CompleteOnExit guard{*parked, result};
  REQUIRE(complete_until_ready(*parked, result));
  CHECK_THROWS_WITH(result.get(), Catch::Contains("refused") && Catch::Contains("Refusing"));
}

TEST_CASE("a timed graph answers at the deadline of an asynchronous node that never completes",
          "[graph][async][timeout]") {
  // Retried while the deadline passed before the node started (a loaded
  // machine): the guarantee is about a node in flight.
  bool answered_in_flight = false;
  for (int attempt = 0; attempt < 20 && !answered_in_flight; ++attempt) {
    auto op = std::make_shared<Parked>();
    Graph graph;
    graph.add_node("stuck", OperatorRef{op});
    auto scope = execution_options({.timeout_seconds = 0.05});
    auto result = run_elsewhere(graph, Record{{"x", 1}});
    CompleteOnExit guard{*op, result};
    REQUIRE(result.wait_for(5s) == std::future_status::ready);
    CHECK_THROWS_AS(result.get(), TimeoutError);
    answered_in_flight = op->parked() == 1; // still in flight: the deadline answered
    op->complete_all();
  }
  CHECK(answered_in_flight);
}

TEST_CASE("an asynchronous node that completes from its stop callback does not deadlock the run",
          "[graph][async][failures][regression]") {
  // The failing node stops the run; the stop runs the parked node's stop
  // callback on the same thread, which completes the node: that end must not
  // wait for the run's lock the stopping thread holds.
  class Stoppable final : public AsyncOperator {
  public:
    Stoppable() : AsyncOperator("Stoppable", {}, OperatorKind::io) {}
    void start(const Record&, Completion done) const override {
      std::lock_guard lock{mutex_};
      callbacks_.push_back(std::make_unique<std::stop_callback<std::function<void()>>>(
          done.stop_token(), std::function<void()>{[done] {
            done.fail(std::make_exception_ptr(CancelledError("stopped")));
          }}));
      ++started;
    }
    mutable std::atomic<int> started{0};

  private:
    mutable std::mutex mutex_;
    mutable std::vector<std::unique_ptr<std::stop_callback<std::function<void()>>>> callbacks_;
  };
  auto stoppable = std::make_shared<Stoppable>();
  auto failing = function_operator(
      "FailsAfterTheOtherStarted",
      [&](const Record&) -> Record {
        eventually([&] { return stoppable->started.load() == 1; });
        throw std::runtime_error("broken");
      },
      {}, OperatorKind::io);
  Graph graph;
  graph.add_node("parked", OperatorRef{stoppable}).add_node("failing", failing);
  auto result = run_elsewhere(graph, Record{{"x", 1}});
  REQUIRE(result.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_WITH(result.get(), Catch::Contains("failing") && Catch::Contains("broken"));
}
