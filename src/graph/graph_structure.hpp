// The storage behind a Graph and the run that executes it. Private to the graph.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ember/xcs/graph/graph.hpp"

namespace ember::xcs::detail {

struct GraphNode {
  std::string id;
  OperatorRef op;
  std::vector<std::size_t> inbound;  ///< edge indices, insertion order
  std::vector<std::size_t> outbound; ///< edge indices, insertion order
};

/// Nodes and edges by index, as run() walks them. A run holds the structure
/// through a shared pointer, so helpers that outlive a failed run's caller
/// never see a changed or destroyed graph.
struct GraphStructure {
  std::vector<GraphNode> nodes;
  std::vector<GraphEdge> edges;
  /// Index of each edge's endpoints, parallel to `edges`.
  std::vector<std::size_t> edge_from;
  std::vector<std::size_t> edge_to;
  std::unordered_map<std::string, std::size_t> index;

  /// Node indices in topological order, ties broken by insertion index.
  /// Throws GraphCycleError naming the nodes of one cycle.
  std::vector<std::size_t> order() const;
};

/// Executes the graph as dataflow under the options in force (see Graph::run).
GraphResult run_graph(std::shared_ptr<const GraphStructure> structure, const Record& inputs);

} // namespace ember::xcs::detail
