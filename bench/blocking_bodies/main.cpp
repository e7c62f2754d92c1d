// Wall time of vmap over 256 bodies that each block for 10 ms with 64 workers,
// next to the ideal 40 ms and to 64 plain std::threads doing the same sleeps;
// the same 256 with max_workers = 256 (past the io pool's 64 threads) next to
// the ideal 10 ms; and over 256 and 10,000 asynchronous bodies (a 10 ms Asio
// timer) all in flight, next to the ideal 10 ms, with the peak OS thread
// count of each.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include <boost/asio/steady_timer.hpp>

#include <ember/xcs.hpp>
#include <ember/xcs/runtime/io_context.hpp>
#include <ember/xcs/runtime/operator_actor.hpp>

#include <caf/all.hpp>

using namespace ember;
using namespace ember::xcs;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr int rounds = 7;
constexpr int items = 256;
constexpr int workers = 64;
constexpr auto body_time = 10ms;
constexpr double ideal_ms = double(items) / workers * 10.0; // 40 ms

// This process's OS threads, from /proc/self/status.
int os_threads() {
  std::ifstream status{"/proc/self/status"};
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0)
      return std::stoi(line.substr(8));
  return -1;
}

// Samples the thread count every 200 us while alive; reports the peak without
// counting the sampler's own thread.
class ThreadPeak {
public:
  ThreadPeak() : sampler_{[this] {
      while (!stop_.load()) {
        peak_ = std::max(peak_.load(), os_threads() - 1);
        std::this_thread::sleep_for(200us);
      }
    }} {}
  int stop() {
    stop_ = true;
    sampler_.join();
    return peak_;
  }

private:
  std::atomic<bool> stop_{false};
  std::atomic<int> peak_{0};
  std::thread sampler_;
};

double ms_since(Clock::time_point begin) {
  return std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
}

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

// A model call that waits without a thread: a 10 ms timer on the runtime's I/O context.
class AsyncSleep final : public AsyncOperator {
public:
  AsyncSleep() : AsyncOperator("AsyncSleep10ms", {}, OperatorKind::io) {}
  void start(const Record& inputs, Completion done) const override {
    auto timer = std::make_shared<boost::asio::steady_timer>(io_context(), body_time);
    timer->async_wait([timer, x = inputs.at("x"), done](const boost::system::error_code&) {
      done.succeed(Record{{"y", x}});
    });
  }
};

// The floor for `n` AsyncSleep bodies: the same timers started from one
// thread on the same io_context, each counting down to a promise; no vmap.
double asio_floor_ms(int n) {
  std::vector<double> samples;
  for (int r = 0; r < rounds; ++r) {
    std::atomic<int> left{n};
    std::promise<void> all_fired;
    auto begin = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto timer = std::make_shared<boost::asio::steady_timer>(io_context(), body_time);
      timer->async_wait([timer, &left, &all_fired](const boost::system::error_code&) {
        if (--left == 0)
          all_fired.set_value();
      });
    }
    all_fired.get_future().wait();
    samples.push_back(ms_since(begin));
  }
  return median(samples);
}

} // namespace

int main(int argc, char** argv) {
  auto sleeper = function_operator(
      "Sleep10ms",
      [](const Record& in) {
        std::this_thread::sleep_for(body_time);
        return Record{{"y", in.at("x")}};
      },
      {}, OperatorKind::io);
  List xs;
  for (int i = 0; i < items; ++i)
    xs.emplace_back(i);
  Record input{{"x", std::move(xs)}};
  auto batched = vmap(sleeper);

  // The same sleeps on 64 threads started for the purpose: what sleep_for
  // itself costs on this machine (its oversleep, thread start-up).
  auto plain_threads = [&] {
    std::atomic<int> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < workers; ++t)
      threads.emplace_back([&] {
        while (next.fetch_add(1) < items)
          std::this_thread::sleep_for(body_time);
      });
    for (auto& t : threads)
      t.join();
  };
  auto through_vmap = [&] {
    auto scope = execution_options({.max_workers = workers});
    auto out = batched(input);
    if (out.at("y").as_list().size() != static_cast<std::size_t>(items))
      throw std::runtime_error("vmap returned the wrong number of items");
  };
  // Asynchronous bodies first, while the process has no io pool threads yet:
  // all 256 wait at once and no thread waits with them.
  auto async_batched = vmap(make_operator<AsyncSleep>());
  std::vector<double> s_async;
  int async_peak = 0;
  // The thread sampler reads /proc every 200 us: it runs in a round of its
  // own, so its CPU time does not show in the timed rounds.
  for (int r = 0; r <= rounds; ++r) {
    auto scope = execution_options({.max_workers = items});
    std::optional<ThreadPeak> peak;
    if (r == rounds)
      peak.emplace();
    auto begin = Clock::now();
    auto out = async_batched(input);
    if (peak)
      async_peak = peak->stop();
    else
      s_async.push_back(ms_since(begin));
    if (out.at("y").as_list().size() != static_cast<std::size_t>(items))
      throw std::runtime_error("vmap returned the wrong number of items");
  }
  double t_async = median(s_async);

  // 256 concurrent requests from a CAF actor to the actor of the same
  // asynchronous operator: the replies come as the timers fire.
  auto sleeper_actor = spawn_operator(make_operator<AsyncSleep>());
  std::vector<double> s_actor;
  int actor_peak = 0;
  for (int r = 0; r <= rounds; ++r) {
    std::optional<ThreadPeak> peak;
    if (r == rounds)
      peak.emplace();
    std::promise<void> all_replied;
    auto begin = Clock::now();
    actor_system().spawn([&](caf::event_based_actor* self) {
      auto remaining = std::make_shared<int>(items);
      for (int i = 0; i < items; ++i)
        self->request(sleeper_actor, caf::infinite, invoke_atom::value, Record{{"x", i}})
            .then([&, remaining](Record&) {
              if (--*remaining == 0)
                all_replied.set_value();
            });
    });
    all_replied.get_future().wait();
    if (peak)
      actor_peak = peak->stop();
    else
      s_actor.push_back(ms_since(begin));
  }
  double t_actor = median(s_actor);

  List many;
  for (int i = 0; i < 10'000; ++i)
    many.emplace_back(i);
  Record many_input{{"x", std::move(many)}};
  std::vector<double> s_async_10k;
  int async_10k_peak = 0;
  for (int r = 0; r <= rounds; ++r) {
    auto scope = execution_options({.max_workers = 10'000});
    std::optional<ThreadPeak> peak;
    if (r == rounds)
      peak.emplace();
    auto begin = Clock::now();
    auto out = async_batched(many_input);
    if (peak)
      async_10k_peak = peak->stop();
    else
      s_async_10k.push_back(ms_since(begin));
    if (out.at("y").as_list().size() != 10'000u)
      throw std::runtime_error("vmap returned the wrong number of items");
  }
  double t_async_10k = median(s_async_10k);
  double floor_256 = asio_floor_ms(items);
  double floor_10k = asio_floor_ms(10'000);

  int threads_before = os_threads();
  double cold_ms = 0;
  int cold_peak = 0;
  {
    ThreadPeak peak;
    auto begin = Clock::now();
    through_vmap(); // the first call also starts the io pool's threads
    cold_ms = ms_since(begin);
    cold_peak = peak.stop();
  }
  std::vector<double> s_vmap, s_threads;
  int vmap_peak = 0;
  for (int r = 0; r < rounds; ++r) {
    auto begin = Clock::now();
    plain_threads();
    s_threads.push_back(ms_since(begin));
    ThreadPeak peak;
    begin = Clock::now();
    through_vmap();
    s_vmap.push_back(ms_since(begin));
    vmap_peak = std::max(vmap_peak, peak.stop());
  }
  double t_vmap = median(s_vmap), t_threads = median(s_threads);

  // max_workers above the io pool's 64 threads grows the pool for the call.
  std::vector<double> s_wide;
  for (int r = 0; r < rounds; ++r) {
    auto scope = execution_options({.max_workers = items});
    auto begin = Clock::now();
    auto out = batched(input);
    s_wide.push_back(ms_since(begin));
    if (out.at("y").as_list().size() != static_cast<std::size_t>(items))
      throw std::runtime_error("vmap returned the wrong number of items");
  }
  double t_wide = median(s_wide);

  boost::json::array results;
  auto figure = [&](const std::string& name, double value, const std::string& unit,
                    const std::string& baseline, double baseline_value, const char* what) {
    double ratio = value / baseline_value;
    std::cout << name << ": " << value << " " << unit << ", " << ratio << "x " << what << "\n";
    results.push_back({{"name", name}, {"value", value}, {"unit", unit}, {"baseline", baseline},
                       {"baseline_value", baseline_value}, {"ratio", ratio}});
  };
  std::cout << "baseline blocking_bodies.std_threads_64: " << t_threads << " ms wall\n";
  figure("blocking_bodies.vmap_64", t_vmap, "ms", "ideal_40ms", ideal_ms, "the ideal 40 ms");
  figure("blocking_bodies.vmap_64", t_vmap, "ms", "std_threads_64", t_threads,
         "64 std::threads");
  figure("blocking_bodies.vmap_64_first_call", cold_ms, "ms", "ideal_40ms", ideal_ms,
         "the ideal 40 ms (io pool threads started by this call)");
  // Threads: the calling thread, every pool and CAF thread, the sampler excluded.
  std::cout << "blocking_bodies.os_threads_before_first_call: " << threads_before << "\n";
  figure("blocking_bodies.peak_os_threads", vmap_peak, "threads", "max_workers", workers,
         "max_workers");
  figure("blocking_bodies.peak_os_threads_first_call", cold_peak, "threads", "max_workers",
         workers, "max_workers");
  std::cout << "target blocking_bodies: <= 1.05x the ideal 40 ms (" << t_vmap / ideal_ms << "x, "
            << (t_vmap <= 1.05 * ideal_ms ? "met" : "MISSED") << ")\n";
  figure("blocking_bodies.async_256", t_async, "ms", "ideal_10ms", 10.0, "the ideal 10 ms");
  figure("blocking_bodies.async_256", t_async, "ms", "asio_timers_256", floor_256,
         "the same 256 timers on bare Asio");
  figure("blocking_bodies.async_256_peak_os_threads", async_peak, "threads", "limit_8", 8,
         "the limit of 8 threads");
  std::cout << "target async bodies: <= 1.05x the ideal 10 ms (" << t_async / 10.0
            << "x, " << (t_async <= 10.5 ? "met" : "MISSED") << "), under 8 threads ("
            << async_peak << ", " << (async_peak < 8 ? "met" : "MISSED") << ")\n";
  figure("blocking_bodies.actor_async_256", t_actor, "ms", "ideal_10ms", 10.0,
         "the ideal 10 ms");
  figure("blocking_bodies.actor_async_256_peak_os_threads", actor_peak, "threads", "limit_12", 12,
         "the limit of 12 threads");
  std::cout << "target 256 requests to an async operator's actor: <= 1.1x the ideal 10 ms ("
            << t_actor / 10.0 << "x, " << (t_actor <= 11.0 ? "met" : "MISSED")
            << "), under 12 threads (" << actor_peak << ", " << (actor_peak < 12 ? "met" : "MISSED")
            << ")\n";
  figure("blocking_bodies.vmap_256_wide", t_wide, "ms", "ideal_10ms", 10.0, "the ideal 10 ms");
  std::cout << "target blocking bodies, max_workers = 256: <= 1.5x the ideal 10 ms ("
            << t_wide / 10.0 << "x, " << (t_wide <= 15.0 ? "met" : "MISSED") << ")\n";
  figure("blocking_bodies.async_10000", t_async_10k, "ms", "ideal_10ms", 10.0, "the ideal 10 ms");
  figure("blocking_bodies.async_10000", t_async_10k, "ms", "asio_timers_10000", floor_10k,
         "the same 10,000 timers on bare Asio");
  figure("blocking_bodies.async_10000_peak_os_threads", async_10k_peak, "threads", "limit_8", 8,
         "the limit of 8 threads");
  std::cout << "target 10,000 async bodies: <= 1.2x the ideal 10 ms (" << t_async_10k / 10.0
            << "x, " << (t_async_10k <= 12.0 ? "met" : "MISSED") << "), under 8 threads ("
            << async_10k_peak << ", " << (async_10k_peak < 8 ? "met" : "MISSED") << ")\n";
  if (argc > 1)
    std::ofstream{argv[1]} << boost::json::serialize(results) << "\n";
  shutdown_runtime();
}
