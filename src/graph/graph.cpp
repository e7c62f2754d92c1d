// Building a Graph and reading its shape: order, waves, DOT.
#include "ember/xcs/graph/graph.hpp"

#include <algorithm>
#include <functional>
#include <queue>
#include <sstream>

#include "graph/graph_structure.hpp"

namespace ember::xcs {
namespace detail {
namespace {

// Walks back from a node Kahn's algorithm could not place: each such node has
// a predecessor that could not be placed either, so the walk must repeat a
// node, and the repeat closes a cycle.
std::string describe_cycle(const GraphStructure& graph, const std::vector<std::size_t>& pending) {
  std::size_t start = 0;
  while (pending[start] == 0)
    ++start;
  std::vector<std::size_t> walk;
  std::vector<std::size_t> seen_at(graph.nodes.size(), graph.nodes.size());
  std::size_t node = start;
  while (seen_at[node] == graph.nodes.size()) {
    seen_at[node] = walk.size();
    walk.push_back(node);
    for (auto edge : graph.nodes[node].inbound)
      if (pending[graph.edge_from[edge]] != 0) {
        node = graph.edge_from[edge];
        break;
      }
  }
  // walk[seen_at[node]..] follows the edges backwards; print it forwards.
  std::string text = "Graph contains a cycle: " + graph.nodes[node].id;
  for (auto i = walk.size(); i-- > seen_at[node];)
    text += " -> " + graph.nodes[walk[i]].id;
  return text;
}

// Kahn's algorithm, lowest insertion index first among the ready nodes.
std::vector<std::size_t> topological_order(const GraphStructure& graph) {
  std::vector<std::size_t> pending(graph.nodes.size());
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    pending[i] = graph.nodes[i].inbound.size();
    if (pending[i] == 0)
      ready.push(i);
  }
  std::vector<std::size_t> sorted;
  sorted.reserve(graph.nodes.size());
  while (!ready.empty()) {
    auto node = ready.top();
    ready.pop();
    sorted.push_back(node);
    for (auto edge : graph.nodes[node].outbound)
      if (--pending[graph.edge_to[edge]] == 0)
        ready.push(graph.edge_to[edge]);
  }
  if (sorted.size() != graph.nodes.size())
    throw GraphCycleError(describe_cycle(graph, pending));
  return sorted;
}

} // namespace

std::shared_ptr<const GraphShape> GraphStructure::shape() const {
  if (auto known = shape_cache.load())
    return known;
  auto shape = std::make_shared<GraphShape>();
  shape->order = topological_order(*this);
  shape->by_id.resize(nodes.size());
  for (std::size_t node = 0; node < nodes.size(); ++node) {
    shape->by_id[node] = node;
    shape->kinds.push_back(nodes[node].op->kind());
  }
  std::sort(shape->by_id.begin(), shape->by_id.end(),
            [&](auto lhs, auto rhs) { return nodes[lhs].id < nodes[rhs].id; });
  shape_cache.store(shape);
  return shape;
}

} // namespace detail

namespace {

// Text for inside a DOT string: quotes and backslashes escaped.
std::string escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

std::string quoted(std::string_view text) { return '"' + escaped(text) + '"'; }

// One line per mapped field; "\n" is DOT's line break inside a label.
std::string mapping_label(const FieldMapping& mapping) {
  std::string label;
  for (const auto& [output, input] : mapping) {
    if (!label.empty())
      label += "\\n";
    label += escaped(output) + " -> " + escaped(input);
  }
  return '"' + label + '"';
}

} // namespace

const Record& GraphResult::at(std::string_view id) const {
  std::string key{id};
  if (auto found = outputs.find(key); found != outputs.end())
    return found->second;
  if (auto found = failed.find(key); found != failed.end())
    throw std::out_of_range("graph node '" + key + "' failed: " + found->second);
  if (skipped.contains(key))
    throw std::out_of_range("graph node '" + key +
                            "' was skipped because a node upstream of it failed");
  throw std::out_of_range("graph result has no node '" + key + "'");
}

Graph::Graph() : structure_(std::make_shared<detail::GraphStructure>()) {}

detail::GraphStructure& Graph::mutable_structure() {
  if (structure_.use_count() > 1)
    structure_ = std::make_shared<detail::GraphStructure>(*structure_);
  else
    structure_->changing();
  return *structure_;
}

Graph& Graph::add_node(std::string id, OperatorRef op) {
  if (id.empty())
    throw std::invalid_argument("Graph node IDs must not be empty.");
  if (!op)
    throw std::invalid_argument("Graph node '" + id + "' has an empty operator.");
  if (contains(id))
    throw std::invalid_argument("Node with ID '" + id + "' already exists.");
  auto& graph = mutable_structure();
  graph.index.emplace(id, graph.nodes.size());
  graph.nodes.push_back(detail::GraphNode{std::move(id), std::move(op), {}, {}});
  return *this;
}

Graph& Graph::add_edge(const std::string& from, const std::string& to, FieldMapping mapping) {
  for (const auto* end : {&from, &to})
    if (!contains(*end))
      throw std::invalid_argument("Cannot add edge '" + from + "' -> '" + to + "': " +
                                  (end == &from ? "source" : "target") + " node '" + *end +
                                  "' does not exist.");
  auto& graph = mutable_structure();
  auto edge = graph.edges.size();
  auto from_index = graph.index.at(from);
  auto to_index = graph.index.at(to);
  graph.edges.push_back(GraphEdge{from, to, std::move(mapping)});
  graph.edge_from.push_back(from_index);
  graph.edge_to.push_back(to_index);
  graph.nodes[from_index].outbound.push_back(edge);
  graph.nodes[to_index].inbound.push_back(edge);
  return *this;
}

std::size_t Graph::size() const noexcept { return structure_->nodes.size(); }

bool Graph::contains(std::string_view id) const noexcept {
  return structure_->index.contains(std::string{id});
}

std::vector<std::string> Graph::nodes() const {
  std::vector<std::string> ids;
  ids.reserve(structure_->nodes.size());
  for (const auto& node : structure_->nodes)
    ids.push_back(node.id);
  return ids;
}

const OperatorRef& Graph::node(std::string_view id) const {
  auto found = structure_->index.find(std::string{id});
  if (found == structure_->index.end())
    throw std::out_of_range("graph has no node '" + std::string{id} + "'");
  return structure_->nodes[found->second].op;
}

const std::vector<GraphEdge>& Graph::edges() const noexcept { return structure_->edges; }

std::vector<std::string> Graph::topological_order() const {
  std::vector<std::string> ids;
  for (auto node : structure_->shape()->order)
    ids.push_back(structure_->nodes[node].id);
  return ids;
}

std::vector<std::vector<std::string>> Graph::waves() const {
  const auto& graph = *structure_;
  std::vector<std::size_t> level(graph.nodes.size(), 0);
  std::size_t depth = 0;
  for (auto node : graph.shape()->order) {
    for (auto edge : graph.nodes[node].inbound)
      level[node] = std::max(level[node], level[graph.edge_from[edge]] + 1);
    depth = std::max(depth, level[node] + 1);
  }
  std::vector<std::vector<std::string>> waves(graph.nodes.empty() ? 0 : depth);
  for (std::size_t node = 0; node < graph.nodes.size(); ++node)
    waves[level[node]].push_back(graph.nodes[node].id);
  return waves;
}

std::string Graph::to_dot() const {
  std::ostringstream dot;
  dot << "digraph Graph {\n  rankdir=LR;\n  node [shape=box];\n";
  for (const auto& node : structure_->nodes)
    dot << "  " << quoted(node.id) << " [label=\"" << escaped(node.id) << "\\n"
        << escaped(node.op.name()) << "\"];\n";
  for (const auto& edge : structure_->edges) {
    dot << "  " << quoted(edge.from) << " -> " << quoted(edge.to);
    if (!edge.mapping.empty())
      dot << " [label=" << mapping_label(edge.mapping) << "]";
    dot << ";\n";
  }
  dot << "}\n";
  return dot.str();
}

GraphResult Graph::run(const Record& inputs) const {
  return detail::run_graph(structure_, inputs);
}

} // namespace ember::xcs
