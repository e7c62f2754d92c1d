// Per-call cost of a trivial operator through each way of calling it, next to
// a std::mutex/condition_variable round trip to another thread measured in the
// same run (the price of one synchronous hand-off).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include <ember/xcs.hpp>
#include <ember/xcs/runtime/operator_actor.hpp>

using namespace ember;
using namespace ember::xcs;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int rounds = 7;     // medians over rounds tame this VM's noise
constexpr int calls = 2000;   // calls per round

template <class F>
double median_ns_per_call(F&& run_calls) {
  std::vector<double> samples;
  for (int r = 0; r < rounds; ++r) {
    auto begin = Clock::now();
    run_calls(calls);
    samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - begin).count() /
                      calls);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

// The baseline: hand a value to a waiting thread and wait for its answer.
double handoff_round_trip_ns() {
  std::mutex mutex;
  std::condition_variable changed;
  int request = 0, reply = 0;
  bool stop = false;
  std::thread worker{[&] {
    std::unique_lock lock{mutex};
    for (;;) {
      changed.wait(lock, [&] { return stop || request != reply; });
      if (stop)
        return;
      reply = request;
      changed.notify_all();
    }
  }};
  double ns = median_ns_per_call([&](int n) {
    for (int i = 0; i < n; ++i) {
      std::unique_lock lock{mutex};
      ++request;
      changed.notify_all();
      changed.wait(lock, [&] { return reply == request; });
    }
  });
  {
    std::lock_guard lock{mutex};
    stop = true;
  }
  changed.notify_all();
  worker.join();
  return ns;
}

// Request/response round trips from a CAF actor to `target`, one at a time,
// each sent from the previous reply's handler.
template <class Handle>
double request_ns(const Handle& target, const Record& input) {
  return median_ns_per_call([&](int n) {
    std::promise<void> done;
    struct Client {
      static void next(caf::event_based_actor* self, const Handle& target,
                       const Record& input, int remaining, std::promise<void>& done) {
        self->request(target, caf::infinite, invoke_atom::value, input)
            .then([=, &done](Record&) {
              if (remaining == 1)
                done.set_value();
              else
                next(self, target, input, remaining - 1, done);
            });
      }
    };
    actor_system().spawn([&, n](caf::event_based_actor* self) {
      Client::next(self, target, input, n, done);
    });
    done.get_future().wait();
  });
}

// The baseline for actor requests: a plain CAF actor with the same interface
// that answers with its input.
double bare_caf_request_ns(const Record& input) {
  auto echo = actor_system().spawn([]() -> caf::behavior {
    return {[](invoke_atom, Record& inputs) { return inputs; }};
  });
  return request_ns(echo, input);
}

} // namespace

int main(int argc, char** argv) {
  auto op = function_operator("Trivial", [](const Record& in) { return in; });
  Record input{{"text", "hello"}, {"n", 1}};

  double handoff = handoff_round_trip_ns();
  double direct = median_ns_per_call([&](int n) {
    for (int i = 0; i < n; ++i)
      op->forward(input);
  });
  double facade = median_ns_per_call([&](int n) {
    for (int i = 0; i < n; ++i)
      op(input);
  });
  double facade_timed = [&] {
    auto scope = execution_options({.timeout_seconds = 10.0});
    return median_ns_per_call([&](int n) {
      for (int i = 0; i < n; ++i)
        op(input);
    });
  }();
  double bare_caf = bare_caf_request_ns(input);
  double actor = request_ns(spawn_operator(op), input);

  struct Figure {
    const char* name;
    double value;
  };
  std::vector<Figure> figures{{"call.direct_forward", direct},
                              {"call.facade", facade},
                              {"call.facade_with_timeout", facade_timed},
                              {"call.actor_request", actor}};
  boost::json::array results;
  std::cout << "baseline call.mutex_cv_handoff: " << handoff << " ns per round trip\n";
  for (const auto& f : figures) {
    double ratio = f.value / handoff;
    std::cout << f.name << ": " << f.value << " ns per call, " << ratio
              << "x a mutex/cv hand-off\n";
    results.push_back({{"name", f.name}, {"value", f.value}, {"unit", "ns/call"},
                       {"baseline", "mutex_cv_handoff"}, {"baseline_value", handoff},
                       {"ratio", ratio}});
  }
  double actor_ratio = actor / bare_caf;
  std::cout << "baseline call.bare_caf_request: " << bare_caf << " ns per round trip\n"
            << "call.actor_request: " << actor << " ns per call, " << actor_ratio
            << "x a bare CAF request/response\n"
            << "target actor request: <= 2x a bare CAF request/response (" << actor_ratio
            << (actor_ratio <= 2.0 ? "x, met)\n" : "x, MISSED)\n");
  results.push_back({{"name", "call.actor_request"}, {"value", actor}, {"unit", "ns/call"},
                     {"baseline", "bare_caf_request"}, {"baseline_value", bare_caf},
                     {"ratio", actor_ratio}});
  if (argc > 1)
    std::ofstream{argv[1]} << boost::json::serialize(results) << "\n";
  shutdown_runtime();
}
