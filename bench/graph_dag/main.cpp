// A 1,000-node random DAG (fixed seed, about 3 edges per node) with empty
// bodies: per-node cost of Graph::run next to oneTBB's flow::graph
// (continue_node) running the same DAG with the same bodies, in one run. And
// a 100-node random DAG of 1 ms io bodies (a blocking sleep) against its
// critical path: the longest chain of bodies.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <oneapi/tbb/flow_graph.h>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;
using Clock = std::chrono::steady_clock;
namespace flow = oneapi::tbb::flow;

namespace {

constexpr int rounds = 9;
constexpr int runs_per_round = 5;
constexpr int nodes = 1000;
constexpr int edges_per_node = 3;
constexpr std::uint64_t seed = 42;

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

// Node i gets up to 3 distinct predecessors among the nodes before it.
std::vector<std::vector<int>> random_dag(int nodes) {
  std::mt19937_64 rng{seed};
  std::vector<std::vector<int>> preds(static_cast<std::size_t>(nodes));
  for (int i = 1; i < nodes; ++i) {
    std::set<int> chosen;
    int want = std::min(i, edges_per_node);
    while (static_cast<int>(chosen.size()) < want)
      chosen.insert(std::uniform_int_distribution<int>(0, i - 1)(rng));
    preds[static_cast<std::size_t>(i)].assign(chosen.begin(), chosen.end());
  }
  return preds;
}

Graph graph_of(const std::vector<std::vector<int>>& preds, const OperatorRef& op) {
  Graph graph;
  for (std::size_t i = 0; i < preds.size(); ++i)
    graph.add_node("n" + std::to_string(i), op);
  for (std::size_t i = 0; i < preds.size(); ++i)
    for (int p : preds[i])
      graph.add_edge("n" + std::to_string(p), "n" + std::to_string(i));
  return graph;
}

// The most bodies on one path from a source to a sink.
int longest_chain(const std::vector<std::vector<int>>& preds) {
  std::vector<int> depth(preds.size(), 1);
  for (std::size_t i = 0; i < preds.size(); ++i)
    for (int p : preds[i])
      depth[i] = std::max(depth[i], depth[static_cast<std::size_t>(p)] + 1);
  return *std::max_element(depth.begin(), depth.end());
}

} // namespace

int main(int argc, char** argv) {
  const auto preds = random_dag(nodes);
  std::size_t edge_count = 0;
  for (const auto& p : preds)
    edge_count += p.size();

  // The same (empty) body in both: ember calls it through an operator, TBB directly.
  ForwardFunction body = [](const Record&) { return Record{}; };
  auto op = function_operator("Empty", body);

  Graph graph = graph_of(preds, op);

  flow::graph tbb_graph;
  flow::broadcast_node<flow::continue_msg> start{tbb_graph};
  std::vector<std::unique_ptr<flow::continue_node<flow::continue_msg>>> tbb_nodes;
  const Record empty;
  for (int i = 0; i < nodes; ++i)
    tbb_nodes.push_back(std::make_unique<flow::continue_node<flow::continue_msg>>(
        tbb_graph, [&body, &empty](const flow::continue_msg&) {
          auto out = body(empty);
          (void)out;
          return flow::continue_msg{};
        }));
  for (int i = 0; i < nodes; ++i) {
    if (preds[static_cast<std::size_t>(i)].empty())
      flow::make_edge(start, *tbb_nodes[static_cast<std::size_t>(i)]);
    for (int p : preds[static_cast<std::size_t>(i)])
      flow::make_edge(*tbb_nodes[static_cast<std::size_t>(p)], *tbb_nodes[static_cast<std::size_t>(i)]);
  }

  auto run_ember = [&] {
    auto result = graph.run(Record{});
    if (result.outputs.size() != nodes)
      throw std::runtime_error("Graph::run did not run every node");
  };
  auto run_tbb = [&] {
    start.try_put(flow::continue_msg{});
    tbb_graph.wait_for_all();
  };
  auto ns_per_node = [&](auto& run) {
    auto begin = Clock::now();
    for (int i = 0; i < runs_per_round; ++i)
      run();
    return std::chrono::duration<double, std::nano>(Clock::now() - begin).count() /
           (runs_per_round * nodes);
  };

  run_ember(), run_tbb(); // warm-up
  std::vector<double> s_ember, s_tbb;
  for (int r = 0; r < rounds; ++r) {
    s_ember.push_back(ns_per_node(run_ember));
    s_tbb.push_back(ns_per_node(run_tbb));
  }
  double ember_ns = median(s_ember), tbb_ns = median(s_tbb), ratio = ember_ns / tbb_ns;

  std::cout << "DAG: " << nodes << " nodes, " << edge_count << " edges (seed " << seed << ")\n";
  std::cout << "baseline graph_dag.tbb_flow_graph: " << tbb_ns << " ns per node\n";
  std::cout << "graph_dag.graph_run: " << ember_ns << " ns per node, " << ratio
            << "x oneTBB flow::graph\n";
  std::cout << "target graph_dag: <= 2x oneTBB flow::graph (" << ratio << "x, "
            << (ratio <= 2.0 ? "met" : "MISSED") << ")\n";
  // 100 nodes of 1 ms io bodies: as wide as the DAG allows, so the run
  // should take its critical path.
  constexpr int io_nodes = 100;
  const auto io_preds = random_dag(io_nodes);
  auto sleeper = function_operator(
      "Sleep1ms",
      [](const Record&) {
        std::this_thread::sleep_for(std::chrono::milliseconds{1});
        return Record{};
      },
      {}, OperatorKind::io);
  Graph io_graph = graph_of(io_preds, sleeper);
  // The critical path as this machine sleeps it: the longest chain's bodies
  // one after another on one thread (each sleep_for oversleeps a little).
  const int chain = longest_chain(io_preds);
  auto critical_path = [&] {
    auto begin = Clock::now();
    for (int i = 0; i < chain; ++i)
      sleeper->forward(Record{});
    return std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
  };
  io_graph.run(Record{}); // warm-up: starts the io pool's threads
  std::vector<double> s_io, s_chain;
  for (int r = 0; r < rounds; ++r) {
    s_chain.push_back(critical_path());
    auto begin = Clock::now();
    if (io_graph.run(Record{}).outputs.size() != io_nodes)
      throw std::runtime_error("Graph::run did not run every io node");
    s_io.push_back(std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
  }
  double io_ms = median(s_io), critical_ms = median(s_chain), io_ratio = io_ms / critical_ms;
  std::cout << "baseline graph_dag.io_critical_path: " << critical_ms << " ms (" << chain
            << " bodies of 1 ms in a row on one thread)\n";
  std::cout << "graph_dag.io_100: " << io_ms << " ms, " << io_ratio << "x the critical path\n";
  std::cout << "target graph_dag io: <= 1.05x the critical path (" << io_ratio << "x, "
            << (io_ratio <= 1.05 ? "met" : "MISSED") << ")\n";

  boost::json::array results;
  results.push_back({{"name", "graph_dag.graph_run"}, {"value", ember_ns}, {"unit", "ns/node"},
                     {"baseline", "tbb_flow_graph"}, {"baseline_value", tbb_ns},
                     {"ratio", ratio}});
  results.push_back({{"name", "graph_dag.io_100"}, {"value", io_ms}, {"unit", "ms"},
                     {"baseline", "critical_path"}, {"baseline_value", critical_ms},
                     {"ratio", io_ratio}});
  if (argc > 1)
    std::ofstream{argv[1]} << boost::json::serialize(results) << "\n";
  shutdown_runtime();
}
