// How late a timed-out call answers, on every path: the facade, an operator
// actor request, vmap, pmap(vmap), Graph::run, a jitted call, and vmap of
// graph runs (nested). Bodies block on a gate the benchmark opens only after
// the caller has its TimeoutError, and never poll their stop token: the worst
// case for a deadline. Next to a bare condition_variable::wait_until on the
// same 100 ms deadline, timed in the same run.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include <ember/xcs.hpp>
#include <ember/xcs/runtime/operator_actor.hpp>

using namespace ember;
using namespace ember::xcs;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int rounds = 9;
constexpr auto timeout = std::chrono::milliseconds(100);
constexpr double timeout_seconds = 0.1;

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

/// Bodies that wait for the gate and ignore cancellation.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  int running = 0;

  void wait() {
    std::unique_lock lock{mutex};
    ++running;
    changed.wait(lock, [&] { return open; });
    --running;
    changed.notify_all();
  }
  /// Opens the gate, waits until every body left it, closes it again.
  void release() {
    std::unique_lock lock{mutex};
    open = true;
    changed.notify_all();
    changed.wait(lock, [&] { return running == 0; });
    open = false;
  }
};

/// The reply of an operator actor, requested from an event-based actor.
std::future<Record> request(const OperatorActor& target, Record inputs, Envelope envelope) {
  auto promise = std::make_shared<std::promise<Record>>();
  auto future = promise->get_future();
  actor_system().spawn([=](caf::event_based_actor* self) {
    self->request(target, caf::infinite, invoke_atom::value, inputs, envelope)
        .then([=](Record& out) { promise->set_value(std::move(out)); },
              [=](caf::error& err) {
                try {
                  throw_error(err);
                } catch (...) {
                  promise->set_exception(std::current_exception());
                }
              });
  });
  return future;
}

struct Path {
  std::string name;
  std::function<void()> call; // throws TimeoutError under the benchmark's scope
};

} // namespace

int main(int argc, char** argv) {
  Gate gate;
  auto stuck = [&](const char* name, OperatorKind kind) {
    return function_operator(name, [&gate](const Record& in) {
      gate.wait();
      return in;
    }, {}, kind);
  };
  auto cpu = stuck("StuckCpu", OperatorKind::cpu);
  auto io = stuck("StuckIo", OperatorKind::io);
  Record one{{"x", 1}};
  Record batch{{"x", List{1, 2, 3, 4, 5, 6, 7, 8}}};

  auto vmapped = vmap(io);
  auto sharded = pmap(vmap(cpu), 2);
  Graph graph;
  graph.add_node("a", cpu);
  graph.add_node("b", io);
  auto pair = function_operator("Pair", [io](const Record& in) {
    auto a = io(in);
    auto b = io(in);
    return Record{{"a", a.at("x")}, {"b", b.at("x")}};
  });
  auto jitted = structural_jit(pair);
  auto runs_graph = function_operator("RunsGraph", [graph](const Record& in) {
    return graph.run(in).at("a");
  });
  auto nested = vmap(runs_graph);
  auto actor = spawn_operator(io);

  std::vector<Path> paths{
      {"facade", [&] { cpu(one); }},
      {"actor", [&] { request(actor, one, make_envelope()).get(); }},
      {"vmap", [&] { vmapped(batch); }},
      {"pmap_vmap", [&] { sharded(batch); }},
      {"graph", [&] { graph.run(one); }},
      {"jit", [&] { jitted(one); }},
      {"vmap_of_graph", [&] { nested(Record{{"x", List{1, 2}}}); }},
  };

  std::vector<double> bare;
  std::vector<std::vector<double>> late(paths.size());
  for (int r = 0; r < rounds; ++r) {
    std::mutex mutex;
    std::condition_variable never;
    std::unique_lock lock{mutex};
    auto begin = Clock::now();
    never.wait_until(lock, begin + timeout, [] { return false; });
    bare.push_back(ms(Clock::now() - begin - timeout));
    lock.unlock();

    for (std::size_t p = 0; p < paths.size(); ++p) {
      bool timed_out = false;
      {
        auto scope = execution_options({.max_workers = 8, .timeout_seconds = timeout_seconds});
        begin = Clock::now();
        try {
          paths[p].call();
        } catch (const TimeoutError&) {
          timed_out = true;
        }
        late[p].push_back(ms(Clock::now() - begin - timeout));
      }
      gate.release();
      if (!timed_out) {
        std::cerr << "timeout." << paths[p].name << ": the call ended without TimeoutError\n";
        return 1;
      }
    }
  }

  double t_bare = median(bare);
  std::cout << "baseline timeout.bare_wait_until: " << t_bare << " ms past the deadline\n";
  boost::json::array results;
  for (std::size_t p = 0; p < paths.size(); ++p) {
    double t = median(late[p]);
    auto name = "timeout." + paths[p].name + "_lateness";
    std::cout << name << ": " << t << " ms past the deadline (target < 50 ms), "
              << t / std::max(t_bare, 1e-3) << "x the bare wait\n";
    results.push_back({{"name", name}, {"value", t}, {"unit", "ms"},
                       {"baseline", "bare_wait_until"}, {"baseline_value", t_bare},
                       {"ratio", t / std::max(t_bare, 1e-3)}});
  }
  if (argc > 1)
    std::ofstream{argv[1]} << boost::json::serialize(results) << "\n";
}
