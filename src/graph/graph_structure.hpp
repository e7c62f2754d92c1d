// The storage behind a Graph and the run that executes it. Private to the graph.
#pragma once

#include <atomic>
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

/// What a run needs that depends only on the shape of the graph.
struct GraphShape {
  std::vector<std::size_t> order;         ///< topological, ties by insertion index
  std::vector<std::size_t> by_id;         ///< node indices sorted by id
  std::vector<OperatorKind> kinds;        ///< each node's operator kind
  /// Whether the last parallel run took under a microsecond per node: then
  /// the next run keeps to the calling thread unless it stalls.
  mutable std::atomic<bool> cheap_nodes{false};
};

/// A GraphShape computed on first use and shared by every later run until the
/// graph changes. Runs on several threads may ask at once; a copy (the start
/// of a change) begins empty.
class ShapeCache {
public:
  ShapeCache() = default;
  ShapeCache(const ShapeCache&) noexcept {}
  ShapeCache& operator=(const ShapeCache&) = delete;

  std::shared_ptr<const GraphShape> load() const noexcept { return shape_.load(); }
  void store(std::shared_ptr<const GraphShape> shape) const noexcept { shape_.store(std::move(shape)); }

private:
  mutable std::atomic<std::shared_ptr<const GraphShape>> shape_;
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

  /// The shape facts, computed by the first caller after a change. Throws
  /// GraphCycleError naming the nodes of one cycle.
  std::shared_ptr<const GraphShape> shape() const;
  /// Called before the structure changes in place: the facts are stale.
  void changing() noexcept { shape_cache.store(nullptr); }

  ShapeCache shape_cache;
};

/// Executes the graph as dataflow under the options in force (see Graph::run).
GraphResult run_graph(std::shared_ptr<const GraphStructure> structure, const Record& inputs);

} // namespace ember::xcs::detail
