// Bad input to Graph: odd ids, wrong types into nodes, huge and deep inputs,
// nodes that throw non-standard exceptions or never return.
#include <catch2/catch.hpp>

#include <cmath>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/graph/graph.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::xcs;
using ember::testing::endless;
using ember::testing::EndlessCounts;
using ember::testing::expect_timeout;

namespace {

OperatorRef echo(const std::string& name) {
  return function_operator(name, [](const Record& in) { return in; });
}

} // namespace

TEST_CASE("a graph node throwing a non-standard exception names the node and operator",
          "[bad_input][graph][non_std]") {
  Graph graph;
  graph.add_node("source", echo("Source"))
      .add_node("bad", function_operator("ThrowsInt", [](const Record&) -> Record { throw 42; }))
      .add_node("after", echo("After"))
      .add_node("independent", echo("Independent"));
  graph.add_edge("source", "bad").add_edge("bad", "after");
  CHECK_THROWS_MATCHES(graph.run(Record{{"x", 1}}), ExecutionError,
                       ember::testing::message_that(Catch::Contains("'bad'") &&
                                                    Catch::Contains("ThrowsInt") &&
                                                    Catch::Contains("a non-standard exception")));
  auto scope = execution_options({.fail_fast = false});
  const GraphResult result = graph.run(Record{{"x", 1}});
  CHECK(result.failed.at("bad") == "a non-standard exception");
  CHECK(result.skipped == boost::container::flat_set<std::string>{"after"});
  CHECK(result.at("independent") == Record{{"x", 1}});
  CHECK_THROWS_MATCHES(result.at("bad"), std::out_of_range,
                       Catch::Message("graph node 'bad' failed: a non-standard exception"));
}

TEST_CASE("a graph node given the wrong input type fails naming the node and the field",
          "[bad_input][graph][types]") {
  Graph graph;
  graph.add_node("typed",
                 function_operator(
                     "NeedsText", [](const Record& in) { return in; },
                     Specification{{Field::required_field("text", FieldType::string)}, {}}));
  CHECK_THROWS_MATCHES(graph.run(Record{{"text", List{}}}), ExecutionError,
                       ember::testing::message_that(
                           Catch::Contains("'typed'") &&
                           Catch::Contains("operator 'NeedsText': input field 'text' is a list, "
                                           "expected a string")));
}

TEST_CASE("graph ids that are empty, odd or huge are refused or kept as given",
          "[bad_input][graph][empty][utf8][huge]") {
  Graph graph;
  CHECK_THROWS_AS(graph.add_node("", echo("Empty")), std::invalid_argument);
  const std::string odd = "line\nbreak \xFF";
  const std::string huge(1 << 20, 'n');
  graph.add_node(odd, echo("Odd")).add_node(huge, echo("Huge"));
  graph.add_edge(odd, huge, {{"", ""}});
  CHECK(graph.topological_order() == std::vector<std::string>{odd, huge});
  CHECK(graph.run(Record{{"", 1}}).at(huge) == Record{{"", 1}});
  CHECK_THROWS_MATCHES(
      graph.add_edge("missing", odd), std::invalid_argument,
      ember::testing::message_that(Catch::Contains("source node 'missing' does not exist")));
  CHECK(graph.to_dot().size() > 2 * huge.size());
}

TEST_CASE("NaN and deeply nested records flow through a graph unchanged",
          "[bad_input][graph][nan][deep]") {
  Value deep = List{};
  for (int i = 0; i < 100'000; ++i)
    deep = List{deep};
  const Record inputs{{"nan", std::nan("")}, {"deep", deep}};
  Graph graph;
  graph.add_node("a", echo("A")).add_node("b", echo("B"));
  graph.add_edge("a", "b");
  CHECK(graph.run(inputs).at("b") == inputs);
}

TEST_CASE("a never-returning graph node times out and is stopped", "[bad_input][graph][timeout]") {
  auto counts = std::make_shared<EndlessCounts>();
  Graph graph;
  graph.add_node("stuck", endless("Endless", counts)).add_node("after", echo("After"));
  graph.add_edge("stuck", "after");
  auto scope = execution_options({.timeout_seconds = 0.3});
  CHECK_THAT(expect_timeout([&] { graph.run(Record{}); }),
             Catch::StartsWith("graph timed out: the deadline of timeout_seconds=0.3 passed"));
  REQUIRE(counts->all_ended());
  // Whether the node started before its deadline is up to the scheduler; if
  // it did, it was stopped, and the node after it never started.
  CHECK(counts->started <= 1);
  CHECK(counts->stopped == counts->started);
}

TEST_CASE("a graph timeout names the nodes still running and the timeout",
          "[bad_input][graph][timeout]") {
  auto counts = std::make_shared<EndlessCounts>();
  Graph graph;
  graph.add_node("stuck", endless("Endless", counts)).add_node("after", endless("After", counts));
  graph.add_edge("stuck", "after");
  auto scope = execution_options({.timeout_seconds = 0.1});
  const std::string message = expect_timeout([&] { graph.run(Record{}); });
  CHECK_THAT(message, Catch::Contains("'stuck'") && Catch::Contains("timeout_seconds=0.1"));
  REQUIRE(counts->all_ended());
}
