// Running a Graph: the reference's arithmetic cases, dataflow concurrency,
// failures and the execution options.
#include <catch2/catch.hpp>

#include <atomic>
#include <latch>
#include <mutex>
#include <set>
#include <thread>

#include "../runtime/held_scheduler.hpp"
#include "../runtime/support.hpp"
#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/graph/graph.hpp"
#include "ember/xcs/runtime/operator_actor.hpp"
#include "ember/xcs/runtime/runtime.hpp"
#include "ember/xcs/runtime/this_call.hpp"
#include "ember/xcs/transforms/vmap.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using ember::testing::eventually;
using ember::testing::Gate;
using ember::testing::timeout_message_of_started_run;

namespace {

// {value} -> {out: value * factor}
OperatorRef scale(const std::string& name, std::int64_t factor, const std::string& out = "result") {
  return function_operator(name, [=](const Record& in) {
    return Record{{out, in.get<std::int64_t>("value") * factor}};
  });
}

// {value} -> {result: value + offset}
OperatorRef offset(const std::string& name, std::int64_t amount) {
  return function_operator(name, [=](const Record& in) {
    return Record{{"result", in.get<std::int64_t>("value") + amount}};
  });
}

OperatorRef identity(const std::string& name, OperatorKind kind = OperatorKind::cpu) {
  return function_operator(name, [](const Record& in) { return in; }, {}, kind);
}

OperatorRef exploder(const std::string& name = "Exploder") {
  return function_operator(name, [](const Record&) -> Record {
    throw std::runtime_error("boom");
  });
}

// Counts bodies running at once; each waits (bounded) until `target` run
// together, so the expected concurrency shows at once and a lower one still ends.
struct Concurrency {
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  int target = 1;
  std::chrono::milliseconds patience = 500ms;

  void enter() {
    int now = ++running;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    eventually([&] { return peak.load() >= target; }, patience);
  }
  void leave() { --running; }
};

// The reference's split/merge case. split passes {value: 10} on; double and
// triple scale it into {double: 20} and {triple: 30}; merge takes both whole
// records; add_five and minus_two continue each path (25, 28) and final adds
// the two paths up (53).
Graph split_merge_graph() {
  Graph graph;
  graph.add_node("split", identity("Split"));
  graph.add_node("double", scale("Double", 2, "double"));
  graph.add_node("triple", scale("Triple", 3, "triple"));
  graph.add_node("merge", identity("Merge"));
  graph.add_node("add_five", offset("AddFive", 5));
  graph.add_node("minus_two", offset("MinusTwo", -2));
  graph.add_node("final", function_operator("Sum", [](const Record& in) {
    return Record{{"final", in.get<std::int64_t>("left") + in.get<std::int64_t>("right")}};
  }));
  graph.add_edge("split", "double").add_edge("split", "triple");
  graph.add_edge("double", "merge").add_edge("triple", "merge");
  graph.add_edge("double", "add_five", {{"double", "value"}});
  graph.add_edge("triple", "minus_two", {{"triple", "value"}});
  graph.add_edge("add_five", "final", {{"result", "left"}});
  graph.add_edge("minus_two", "final", {{"result", "right"}});
  return graph;
}

} // namespace

TEST_CASE("A chain of x2 x3 x4 on 5 gives 10 30 120", "[graph][run][reference]") {
  Graph graph;
  graph.add_node("node1", scale("Times2", 2)).add_node("node2", scale("Times3", 3));
  graph.add_node("node3", scale("Times4", 4));
  graph.add_edge("node1", "node2", {{"result", "value"}});
  graph.add_edge("node2", "node3", {{"result", "value"}});
  auto result = graph.run(Record{{"value", 5}});
  CHECK(result.at("node1") == Record{{"result", 10}});
  CHECK(result.at("node2") == Record{{"result", 30}});
  CHECK(result.at("node3") == Record{{"result", 120}});
  CHECK(result.ok());
}

TEST_CASE("Split and merge on 10 gives double 20 and triple 30 then 25 28 and final 53",
          "[graph][run][reference]") {
  auto result = split_merge_graph().run(Record{{"value", 10}});
  CHECK(result.at("merge") == Record{{"double", 20}, {"triple", 30}});
  CHECK(result.at("add_five") == Record{{"result", 25}});
  CHECK(result.at("minus_two") == Record{{"result", 28}});
  CHECK(result.at("final") == Record{{"final", 53}});
  CHECK(result.outputs.size() == 7);
}

TEST_CASE("Whole record merges apply in edge insertion order", "[graph][run]") {
  Graph graph;
  graph.add_node("first", function_operator("First", [](const Record&) {
    return Record{{"x", 1}, {"only_first", true}};
  }));
  graph.add_node("second", function_operator("Second", [](const Record&) {
    return Record{{"x", 2}};
  }));
  graph.add_node("join", identity("Join"));
  graph.add_edge("second", "join").add_edge("first", "join");
  CHECK(graph.run({}).at("join") == Record{{"x", 1}, {"only_first", true}});
}

TEST_CASE("A mapping that names a field its source did not return fails the target",
          "[graph][run][failure]") {
  Graph graph;
  graph.add_node("a", scale("Times2", 2)).add_node("b", scale("Times3", 3));
  graph.add_edge("a", "b", {{"missing", "value"}});
  CHECK_THROWS_WITH(graph.run(Record{{"value", 1}}),
                    Contains("node 'b'") && Contains("maps output field 'missing'"));
}

TEST_CASE("The two branches of a diamond overlap in time", "[graph][run][concurrency]") {
  std::latch both{2};
  auto branch = [&](const std::string& name) {
    return function_operator(name, [&, name](const Record& in) {
      both.count_down();
      if (!eventually([&] { return both.try_wait(); }, 2000ms))
        throw std::runtime_error(name + " ran without the other branch alongside");
      return Record{{name, in.at("value")}};
    }, {}, OperatorKind::io);
  };
  Graph graph;
  graph.add_node("top", identity("Top")).add_node("left", branch("left"));
  graph.add_node("right", branch("right")).add_node("bottom", identity("Bottom"));
  graph.add_edge("top", "left").add_edge("top", "right");
  graph.add_edge("left", "bottom").add_edge("right", "bottom");
  auto result = graph.run(Record{{"value", 7}});
  CHECK(result.at("bottom") == Record{{"left", 7}, {"right", 7}});
}

TEST_CASE("After runs of cheap nodes a graph still overlaps branches that wait for each other",
          "[graph][run][concurrency]") {
  // Runs that average under a microsecond per node make the next run keep to
  // the calling thread; a node that then stalls while another is ready must
  // still get a helper, or these two branches would wait for each other forever.
  std::atomic<bool> meet{false};
  std::atomic<int> arrived{0};
  auto branch = [&](const std::string& name) {
    return function_operator(name, [&, name](const Record& in) {
      if (meet) {
        ++arrived;
        if (!eventually([&] { return arrived.load() >= 2; }, 5000ms))
          throw std::runtime_error(name + " ran without the other branch alongside");
      }
      return Record{{name, in.at("value")}};
    });
  };
  Graph graph;
  graph.add_node("top", identity("Top")).add_node("left", branch("left"));
  graph.add_node("right", branch("right")).add_node("bottom", identity("Bottom"));
  graph.add_edge("top", "left").add_edge("top", "right");
  graph.add_edge("left", "bottom").add_edge("right", "bottom");
  for (int i = 0; i < 300; ++i)
    graph.add_node("filler" + std::to_string(i), identity("Filler"));
  const Record expected{{"left", 7}, {"right", 7}};
  for (int run = 0; run < 3; ++run)
    CHECK(graph.run(Record{{"value", 7}}).at("bottom") == expected);
  meet = true;
  CHECK(graph.run(Record{{"value", 7}}).at("bottom") == expected);
}

TEST_CASE("The overlap check fails when the branches run one after the other",
          "[graph][run][concurrency]") {
  std::latch both{2};
  auto branch = [&](const std::string& name) {
    return function_operator(name, [&](const Record& in) {
      both.count_down();
      if (!eventually([&] { return both.try_wait(); }, 200ms))
        throw std::runtime_error("no overlap");
      return in;
    }, {}, OperatorKind::io);
  };
  Graph graph;
  graph.add_node("left", branch("Left")).add_node("right", branch("Right"));
  auto scope = execution_options({.use_parallel = false});
  CHECK_THROWS_WITH(graph.run({}), Contains("no overlap"));
}

TEST_CASE("A node starts when its predecessors finish without waiting for a slower sibling",
          "[graph][run][dataflow]") {
  // In supersteps, after_fast (level 1) would wait for slow (level 0), which
  // waits for after_fast: only dataflow finishes this graph.
  Gate released;
  Graph graph;
  graph.add_node("slow", function_operator("Slow", [&](const Record& in) {
    if (!released.wait(2000ms))
      throw std::runtime_error("after_fast never ran while slow was running");
    return in;
  }, {}, OperatorKind::io));
  graph.add_node("fast", identity("Fast", OperatorKind::io));
  graph.add_node("after_fast", function_operator("Release", [&](const Record& in) {
    released.open();
    return in;
  }, {}, OperatorKind::io));
  graph.add_edge("fast", "after_fast");
  auto result = graph.run(Record{{"value", 1}});
  CHECK(result.ok());
  CHECK(result.outputs.size() == 3);
}

TEST_CASE("A failing node fails the run naming the node its operator and the cause",
          "[graph][run][failure]") {
  std::atomic<int> downstream_calls{0};
  Graph graph;
  graph.add_node("start", identity("Start")).add_node("bad", exploder("Exploder"));
  graph.add_node("after", function_operator("After", [&](const Record& in) {
    ++downstream_calls;
    return in;
  }));
  graph.add_edge("start", "bad").add_edge("bad", "after");
  try {
    graph.run(Record{{"value", 1}});
    FAIL("the run did not throw");
  } catch (const ExecutionError& error) {
    CHECK(std::string{error.what()} == "graph: node 'bad' (operator 'Exploder') failed: boom");
    CHECK_THROWS_WITH(std::rethrow_if_nested(error), "boom");
  }
  CHECK(downstream_calls == 0);
}

TEST_CASE("With fail_fast false independent branches finish and downstream nodes are skipped",
          "[graph][run][failure]") {
  Graph graph;
  graph.add_node("start", identity("Start"));
  graph.add_node("bad", exploder()).add_node("after_bad", identity("AfterBad"));
  graph.add_node("good", scale("Times2", 2)).add_node("after_good", scale("Times3", 3));
  graph.add_node("join", identity("Join"));
  graph.add_edge("start", "bad").add_edge("bad", "after_bad");
  graph.add_edge("start", "good").add_edge("good", "after_good", {{"result", "value"}});
  graph.add_edge("after_bad", "join").add_edge("after_good", "join");
  auto scope = execution_options({.fail_fast = false});
  auto result = graph.run(Record{{"value", 4}});
  CHECK(result.at("after_good") == Record{{"result", 24}});
  CHECK(result.outputs.size() == 3);
  CHECK(result.failed == boost::container::flat_map<std::string, std::string>{{"bad", "boom"}});
  CHECK(result.skipped == boost::container::flat_set<std::string>{"after_bad", "join"});
  CHECK_FALSE(result.ok());
  CHECK_THROWS_WITH(result.at("join"), Contains("skipped"));
  CHECK_THROWS_WITH(result.at("bad"), Contains("failed: boom"));
}

TEST_CASE("use_parallel false runs nodes one at a time in topological order on the caller",
          "[graph][run][options]") {
  std::mutex mutex;
  std::vector<std::string> order;
  std::set<std::thread::id> threads;
  Concurrency concurrency;
  concurrency.target = 2;
  concurrency.patience = 100ms;
  auto recorder = [&](const std::string& name) {
    return function_operator(name, [&, name](const Record& in) {
      concurrency.enter();
      {
        std::lock_guard lock{mutex};
        order.push_back(name);
        threads.insert(std::this_thread::get_id());
      }
      concurrency.leave();
      return in;
    }, {}, OperatorKind::io);
  };
  Graph graph;
  for (const auto* id : {"e", "c", "a", "d", "b"})
    graph.add_node(id, recorder(id));
  graph.add_edge("c", "a").add_edge("e", "d").add_edge("a", "b");
  auto scope = execution_options({.use_parallel = false});
  graph.run({});
  CHECK(order == graph.topological_order());
  CHECK(concurrency.peak == 1);
  CHECK(threads == std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST_CASE("max_workers bounds the node bodies running at once", "[graph][run][options]") {
  Concurrency concurrency;
  concurrency.target = 3;
  concurrency.patience = 100ms;
  auto body = function_operator("Counted", [&](const Record& in) {
    concurrency.enter();
    concurrency.leave();
    return in;
  }, {}, OperatorKind::io);
  Graph graph;
  for (int i = 0; i < 6; ++i)
    graph.add_node("n" + std::to_string(i), body);
  auto scope = execution_options({.max_workers = 2});
  graph.run({});
  CHECK(concurrency.peak == 2);
}

TEST_CASE("Node bodies run under the options of the call site on every thread",
          "[graph][run][options]") {
  std::atomic<int> matching{0};
  auto body = function_operator("Reader", [&](const Record& in) {
    if (get_execution_options().max_workers == 3)
      ++matching;
    return in;
  }, {}, OperatorKind::io);
  Graph graph;
  for (int i = 0; i < 4; ++i)
    graph.add_node("n" + std::to_string(i), body);
  auto scope = execution_options({.max_workers = 3});
  graph.run({});
  CHECK(matching == 4);
}

TEST_CASE("timeout_seconds stops a running node and queued nodes never start",
          "[graph][run][options]") {
  std::atomic<bool> saw_stop{false};
  std::atomic<int> downstream_calls{0};
  Graph graph;
  graph.add_node("blocker", function_operator("Blocker", [&](const Record& in) {
    saw_stop = eventually([] { return this_call::stop_requested(); }, 5000ms);
    return in;
  }));
  graph.add_node("after", function_operator("After", [&](const Record& in) {
    ++downstream_calls;
    return in;
  }));
  graph.add_edge("blocker", "after");
  for (bool parallel : {true, false}) {
    INFO("use_parallel " << parallel);
    auto scope = execution_options({.use_parallel = parallel, .timeout_seconds = 0.1});
    // The message names the node the deadline caught, the timeout and what never started.
    auto message = timeout_message_of_started_run(
        [&] { graph.run({}); },
        [](const std::string& text) { return text.find("2 nodes not started") != std::string::npos; });
    CHECK(message == "graph timed out: the deadline of timeout_seconds=0.1 passed with node "
                     "'blocker' (operator 'Blocker') still running and 1 node not started");
    // The run answered at the deadline; the node, on another thread, sees
    // its stop token soon after.
    CHECK(eventually([&] { return saw_stop.load(); }));
    CHECK(downstream_calls == 0);
  }
}

TEST_CASE("enable_caching memoizes node bodies across runs", "[graph][run][options]") {
  std::atomic<int> calls{0};
  Graph graph;
  graph.add_node("counted", function_operator("CountedForCache", [&](const Record& in) {
    ++calls;
    return in;
  }));
  auto scope = execution_options({.enable_caching = true});
  graph.run(Record{{"value", 1}});
  auto result = graph.run(Record{{"value", 1}});
  CHECK(result.at("counted") == Record{{"value", 1}});
  CHECK(calls == 1);
}

TEST_CASE("A graph run inside vmap items shares the call's budget even with max_workers 1",
          "[graph][run][nesting]") {
  Graph inner = split_merge_graph();
  auto op = function_operator("RunsGraph", [inner](const Record& in) {
    return inner.run(in).at("final");
  });
  auto scope = execution_options({.max_workers = 1});
  auto output = vmap(op)(Record{{"value", List{10, 20, 30}}});
  CHECK(output == Record{{"final", List{53, 103, 153}}});
}

TEST_CASE("An empty graph runs to an empty result", "[graph][run]") {
  auto result = Graph{}.run(Record{{"value", 1}});
  CHECK(result.outputs.empty());
  CHECK(result.ok());
}

TEST_CASE("a nested call that hits the deadline times the graph out before its timer fires",
          "[graph][run][options]") {
  // A node's nested call checks the shared deadline itself; its TimeoutError
  // was recorded as the node failing when it came before the supervisor's
  // timer, and with fail_fast = false the run returned after its deadline.
  // Here the one CAF scheduler thread is held, so the timer cannot fire first.
  ember::testing::HeldScheduler held;
  auto leaf = function_operator("Leaf", [](const Record& in) { return in; });
  Graph graph;
  graph.add_node("late", function_operator("PastDeadline", [leaf](const Record&) {
    // Outlives the deadline, ignoring cancellation; then the nested call times out.
    eventually([] { return this_call::Clock::now() > *this_call::deadline(); });
    return vmap(leaf)(Record{{"y", List{1, 2}}});
  }));
  {
    auto scope = execution_options({.timeout_seconds = 0.02, .fail_fast = false});
    CHECK_THROWS_MATCHES(graph.run({}), TimeoutError,
                         Catch::Message("graph timed out: the deadline of timeout_seconds=0.02 "
                                        "passed with node 'late' (operator 'PastDeadline') "
                                        "still running"));
  }
}
