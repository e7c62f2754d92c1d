// Graph: operators as nodes, edges that route output fields to input fields,
// run as dataflow (a node starts the moment its last predecessor finishes).
#pragma once
#include "ember/config.hpp"

#include <cstddef>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/container/flat_map.hpp>
#include <boost/container/flat_set.hpp>

#include "ember/core/registry/operator/base/operator_ref.hpp"
#include "ember/core/types/record.hpp"

namespace ember::xcs {

namespace detail {
struct GraphStructure;
} // namespace detail

/// Output field of the edge's source node -> input field of its target node,
/// e.g. {{"result", "value"}}. Empty: the source's whole output record.
using FieldMapping = std::map<std::string, std::string>;

/// The edges of a graph close a loop, so no node order exists. what() starts
/// with "Graph contains a cycle" and then names the nodes on one cycle.
class GraphCycleError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

struct GraphEdge {
  std::string from{};
  std::string to{};
  FieldMapping mapping{};
};

/// What one run produced, by node id. Sorted flat containers (the interface
/// of std::map and std::set): a run fills each with one allocation, where a
/// node-based map would allocate once per graph node.
struct GraphResult {
  /// The output of every node that finished.
  boost::container::flat_map<std::string, Record> outputs{};
  /// fail_fast = false only: node id -> the message of its failure.
  boost::container::flat_map<std::string, std::string> failed{};
  /// fail_fast = false only: nodes that never ran because a node upstream of
  /// them failed (or was itself skipped).
  boost::container::flat_set<std::string> skipped{};

  /// The output of node `id`; throws std::out_of_range saying whether the node
  /// failed, was skipped or does not exist.
  const Record& at(std::string_view id) const;
  /// True when every node finished.
  bool ok() const noexcept { return failed.empty() && skipped.empty(); }
};

/// A directed acyclic graph of operators. Building it is cheap and checks
/// names at once; acyclicity is checked when an order is needed
/// (topological_order, waves, run), which throws GraphCycleError.
///
/// Copies are independent values that share their storage until one is
/// changed. A graph may be run from several threads at once; changing it
/// while another thread runs or reads it is a data race, as for std
/// containers.
class Graph {
public:
  Graph();

  /// Adds node `id` running `op`. Throws std::invalid_argument for an empty
  /// id or operator and "Node with ID 'x' already exists." for a repeated id.
  Graph& add_node(std::string id, OperatorRef op);

  /// Routes `from`'s output into `to`'s input: the fields named by `mapping`
  /// (output field -> input field), or the whole output record when
  /// `mapping` is empty. A missing endpoint throws std::invalid_argument
  /// naming it. Edges may close a cycle; that is reported when an order is
  /// needed.
  Graph& add_edge(const std::string& from, const std::string& to, FieldMapping mapping = {});

  std::size_t size() const noexcept;
  bool contains(std::string_view id) const noexcept;
  /// Node ids in insertion order.
  std::vector<std::string> nodes() const;
  /// The operator of node `id`; std::out_of_range naming it when absent.
  const OperatorRef& node(std::string_view id) const;
  /// Edges in insertion order.
  const std::vector<GraphEdge>& edges() const noexcept;

  /// Every node after all of its predecessors; among nodes that are ready at
  /// the same time, the one added first comes first, so the order is
  /// deterministic. Throws GraphCycleError.
  std::vector<std::string> topological_order() const;

  /// Levels for display: wave 0 holds the sources, wave k the nodes whose
  /// longest path from a source has k edges; insertion order within a wave.
  /// run() does not execute by waves. Throws GraphCycleError.
  std::vector<std::vector<std::string>> waves() const;

  /// Graphviz DOT text: one node per id labelled with id and operator name,
  /// one edge per edge labelled with its mapping ("result -> value").
  std::string to_dot() const;

  /// Runs the graph under the execution options in force.
  ///
  /// Inputs: a source node (no incoming edge) gets `inputs`; any other node
  /// gets its predecessors' outputs through its incoming edges, applied in
  /// edge insertion order (a later edge overwrites a field an earlier one
  /// set). An edge whose mapping names an output field its source did not
  /// return fails the target node.
  ///
  /// Dataflow: a node starts as soon as all its predecessors finished, on the
  /// calling thread or on a helper recruited within max_workers (shared with
  /// the enclosing call's budget when run inside an operator body). Bodies run
  /// as operator calls do: validated, memoized under enable_caching, recorded
  /// under trace_execution (transform "graph", item = the node's insertion
  /// index). use_parallel = false runs the nodes one at a time in
  /// topological_order() on this thread.
  ///
  /// Failures: fail_fast (default) stops at the first failing node and throws
  /// ExecutionError naming the node and its operator, the cause nested.
  /// fail_fast = false runs every node not downstream of a failure and
  /// reports the rest in GraphResult::failed and GraphResult::skipped.
  /// timeout_seconds throws TimeoutError and a cancelled enclosing call
  /// CancelledError, either way queued nodes never start and running bodies
  /// see this_call::stop_requested(). A cycle throws GraphCycleError before
  /// anything runs; an unavailable device_strategy throws
  /// RuntimeUnavailableError likewise.
  GraphResult run(const Record& inputs) const;

private:
  // The storage to change: this graph's own, or a private copy while a copy
  // of the graph or a run in flight shares it.
  detail::GraphStructure& mutable_structure();

  std::shared_ptr<detail::GraphStructure> structure_;
};

} // namespace ember::xcs
