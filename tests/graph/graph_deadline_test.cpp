// A Graph run answers at its deadline even when a node never polls its stop
// token: the body that would break the guarantee blocks on a gate only the
// test opens, so "the caller answered first" is an order of events, not a
// measured time.
#include <catch2/catch.hpp>

#include <atomic>

#include "../runtime/stubborn.hpp"
#include "../runtime/support.hpp"
#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/graph/graph.hpp"
#include "ember/xcs/transforms/vmap.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using ember::testing::eventually;
using ember::testing::Stubborn;

TEST_CASE("a graph whose last node never polls times out at the deadline instead of returning",
          "[graph][run][deadline][regression]") {
  for (bool fail_fast : {true, false}) {
    for (bool parallel : {true, false}) {
      INFO("fail_fast " << fail_fast << ", use_parallel " << parallel);
      Stubborn stubborn;
      Graph graph;
      graph.add_node("only", stubborn.op("NeverPolls"));
      {
        auto scope = execution_options(
            {.use_parallel = parallel, .timeout_seconds = 0.1, .fail_fast = fail_fast});
        auto message = ember::testing::timeout_message_of_started_run(
            [&] { graph.run(Record{{"x", 1}}); },
            [](const std::string& text) { return text.find("not started") != std::string::npos; });
        CHECK(message == "graph timed out: the deadline of timeout_seconds=0.1 passed with node "
                         "'only' (operator 'NeverPolls') still running");
      }
      CHECK(stubborn.ended == 0); // the caller was answered while the body still ran
      CHECK(stubborn.release());
    }
  }
}

TEST_CASE("a graph node that runs vmap of a body that never polls is cut at the deadline",
          "[graph][run][deadline][nesting][regression]") {
  Stubborn stubborn;
  auto leaf = stubborn.op("NeverPollsLeaf");
  Graph graph;
  graph.add_node("batch", function_operator("RunsVmap", [leaf](const Record& in) {
    return vmap(leaf)(in);
  }));
  graph.add_node("after", function_operator("After", [](const Record& in) { return in; }));
  graph.add_edge("batch", "after");
  {
    auto scope = execution_options({.timeout_seconds = 0.1});
    CHECK_THROWS_WITH(graph.run(Record{{"x", List{1, 2, 3}}}),
                      Contains("graph timed out") && Contains("timeout_seconds=0.1"));
  }
  CHECK(stubborn.ended == 0);
  CHECK(stubborn.release());
}

TEST_CASE("a timed graph whose nodes end in time returns their outputs",
          "[graph][run][deadline]") {
  Graph graph;
  graph.add_node("a", function_operator("Inc", [](const Record& in) {
    return Record{{"x", in.get<std::int64_t>("x") + 1}};
  }));
  graph.add_node("b", function_operator("Double", [](const Record& in) {
    return Record{{"x", in.get<std::int64_t>("x") * 2}};
  }));
  graph.add_edge("a", "b");
  auto scope = execution_options({.timeout_seconds = 30.0});
  auto result = graph.run(Record{{"x", 4}});
  CHECK(result.at("b") == Record{{"x", 10}});
}
