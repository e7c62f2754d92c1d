// A Graph of operators: split a value into two paths, merge them, run it as dataflow, print the DOT.
#include <iostream>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;

namespace {

// {value} -> {field: value * factor}
OperatorRef scale(const std::string& name, std::int64_t factor, const std::string& field) {
  return function_operator(name, [=](const Record& in) {
    return Record{{field, in.get<std::int64_t>("value") * factor}};
  });
}

// {value} -> {result: value + amount}
OperatorRef add(const std::string& name, std::int64_t amount) {
  return function_operator(name, [=](const Record& in) {
    return Record{{"result", in.get<std::int64_t>("value") + amount}};
  });
}

} // namespace

int main() {
  Graph graph;
  graph.add_node("split", function_operator("Split", [](const Record& in) { return in; }));
  graph.add_node("double", scale("Double", 2, "double"));
  graph.add_node("triple", scale("Triple", 3, "triple"));
  graph.add_node("merge", function_operator("Merge", [](const Record& in) { return in; }));
  graph.add_node("add_five", add("AddFive", 5));
  graph.add_node("minus_two", add("MinusTwo", -2));
  graph.add_node("final", function_operator("Sum", [](const Record& in) {
    return Record{{"final", in.get<std::int64_t>("left") + in.get<std::int64_t>("right")}};
  }));

  // No mapping: the whole output record flows on. A mapping renames fields.
  graph.add_edge("split", "double").add_edge("split", "triple");
  graph.add_edge("double", "merge").add_edge("triple", "merge");
  graph.add_edge("double", "add_five", {{"double", "value"}});
  graph.add_edge("triple", "minus_two", {{"triple", "value"}});
  graph.add_edge("add_five", "final", {{"result", "left"}});
  graph.add_edge("minus_two", "final", {{"result", "right"}});

  GraphResult result = graph.run(Record{{"value", 10}});
  for (const auto& id : graph.topological_order())
    std::cout << id << ": " << to_json(result.at(id)) << "\n";
  std::cout << "\n" << graph.to_dot();
  return result.at("final").get<std::int64_t>("final") == 53 ? 0 : 1;
}
