// The shape of a Graph: building it, its orders and its DOT text.
#include <catch2/catch.hpp>

#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/graph/graph.hpp"

using namespace ember;
using namespace ember::xcs;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

OperatorRef identity(const std::string& name) {
  return function_operator(name, [](const Record& in) { return in; });
}

using Ids = std::vector<std::string>;

} // namespace

TEST_CASE("A repeated node id is refused with the reference's message", "[graph][build]") {
  Graph graph;
  graph.add_node("x", identity("First"));
  REQUIRE_THROWS_WITH(graph.add_node("x", identity("Second")), "Node with ID 'x' already exists.");
  REQUIRE_THROWS_AS(graph.add_node("x", identity("Second")), std::invalid_argument);
  CHECK(graph.size() == 1);
  CHECK(graph.node("x").name() == "First");
}

TEST_CASE("An empty id or operator is refused", "[graph][build]") {
  Graph graph;
  CHECK_THROWS_AS(graph.add_node("", identity("A")), std::invalid_argument);
  CHECK_THROWS_WITH(graph.add_node("a", OperatorRef{}), Contains("'a'") && Contains("empty"));
  CHECK(graph.size() == 0);
}

TEST_CASE("An edge to or from a missing node names the missing endpoint", "[graph][build]") {
  Graph graph;
  graph.add_node("a", identity("A"));
  CHECK_THROWS_WITH(graph.add_edge("ghost", "a"), Contains("source node 'ghost' does not exist"));
  CHECK_THROWS_WITH(graph.add_edge("a", "phantom"),
                    Contains("target node 'phantom' does not exist"));
  CHECK_THROWS_AS(graph.add_edge("a", "phantom"), std::invalid_argument);
  CHECK(graph.edges().empty());
}

TEST_CASE("Topological order breaks ties by insertion order", "[graph][order]") {
  Graph graph;
  for (const auto* id : {"c", "a", "d", "b"})
    graph.add_node(id, identity(id));
  graph.add_edge("c", "b").add_edge("a", "b").add_edge("b", "d");
  CHECK(graph.topological_order() == Ids{"c", "a", "b", "d"});
  CHECK(graph.nodes() == Ids{"c", "a", "d", "b"});
}

TEST_CASE("Waves group nodes by their longest path from a source", "[graph][order]") {
  Graph graph;
  for (const auto* id : {"split", "long1", "long2", "short", "join"})
    graph.add_node(id, identity(id));
  graph.add_edge("split", "long1").add_edge("long1", "long2").add_edge("long2", "join");
  graph.add_edge("split", "short").add_edge("short", "join");
  auto waves = graph.waves();
  REQUIRE(waves.size() == 4);
  CHECK(waves[0] == Ids{"split"});
  CHECK(waves[1] == Ids{"long1", "short"});
  CHECK(waves[2] == Ids{"long2"});
  CHECK(waves[3] == Ids{"join"});
  CHECK(Graph{}.waves().empty());
}

TEST_CASE("A cycle is reported with the nodes on it", "[graph][cycle]") {
  Graph graph;
  for (const auto* id : {"entry", "a", "b", "c"})
    graph.add_node(id, identity(id));
  graph.add_edge("entry", "a").add_edge("a", "b").add_edge("b", "c").add_edge("c", "a");
  CHECK_THROWS_AS(graph.topological_order(), GraphCycleError);
  CHECK_THROWS_AS(graph.topological_order(), std::invalid_argument);
  CHECK_THROWS_WITH(graph.topological_order(),
                    StartsWith("Graph contains a cycle") && Contains("a -> b -> c -> a"));
  CHECK_THROWS_WITH(graph.waves(), StartsWith("Graph contains a cycle"));
  CHECK_THROWS_WITH(graph.run(Record{{"value", 1}}), StartsWith("Graph contains a cycle"));
}

TEST_CASE("A self loop is a cycle", "[graph][cycle]") {
  Graph graph;
  graph.add_node("loop", identity("Loop"));
  graph.add_edge("loop", "loop");
  CHECK_THROWS_WITH(graph.topological_order(), "Graph contains a cycle: loop -> loop");
}

TEST_CASE("DOT text holds every node with its operator and every edge with its mapping",
          "[graph][dot]") {
  Graph graph;
  graph.add_node("split", identity("Split")).add_node("double", identity("Doubler"));
  graph.add_node("say \"hi\"", identity("Quoted"));
  graph.add_edge("split", "double", {{"value", "x"}, {"extra", "y"}});
  graph.add_edge("double", "say \"hi\"");
  auto dot = graph.to_dot();
  CHECK_THAT(dot, StartsWith("digraph Graph {"));
  CHECK_THAT(dot, Contains(R"("split" [label="split\nSplit"];)"));
  CHECK_THAT(dot, Contains(R"("double" [label="double\nDoubler"];)"));
  CHECK_THAT(dot, Contains(R"("say \"hi\"" [label="say \"hi\"\nQuoted"];)"));
  CHECK_THAT(dot, Contains(R"("split" -> "double" [label="extra -> y\nvalue -> x"];)"));
  CHECK_THAT(dot, Contains(R"("double" -> "say \"hi\"";)"));
}

TEST_CASE("A copied graph changes independently of its original", "[graph][build]") {
  Graph original;
  original.add_node("a", identity("A"));
  Graph copy = original;
  copy.add_node("b", identity("B")).add_edge("a", "b");
  CHECK(original.size() == 1);
  CHECK(original.edges().empty());
  CHECK(copy.topological_order() == Ids{"a", "b"});
}

// The order is computed once and kept with the graph's storage: a change made
// after it was read must be seen, whether the storage is changed in place or
// copied because a copy of the graph still shares it.
TEST_CASE("A graph changed after its order was read orders its new shape", "[graph][order]") {
  Graph graph;
  graph.add_node("a", identity("A")).add_node("b", identity("B")).add_edge("a", "b");
  REQUIRE(graph.topological_order() == Ids{"a", "b"});

  graph.add_node("c", identity("C")).add_edge("c", "a");
  CHECK(graph.topological_order() == Ids{"c", "a", "b"});

  Graph shared = graph;
  graph.add_edge("b", "c");
  CHECK_THROWS_AS(graph.topological_order(), GraphCycleError);
  CHECK_THROWS_AS(graph.run(Record{}), GraphCycleError);
  CHECK(shared.topological_order() == Ids{"c", "a", "b"});
}
