// How late a timed-out vmap call returns: bodies sleep 2 s, timeout_seconds is
// 0.1; next to a bare condition_variable::wait_until on the same deadline.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int rounds = 9;
constexpr auto timeout = std::chrono::milliseconds(100);

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

} // namespace

int main(int argc, char** argv) {
  auto sleeper = function_operator(
      "Sleep2s",
      [](const Record& in) {
        std::this_thread::sleep_for(std::chrono::seconds(2)); // ignores cancellation
        return in;
      },
      {}, OperatorKind::io);
  List xs;
  for (int i = 0; i < 16; ++i)
    xs.emplace_back(i);
  Record input{{"x", xs}};

  std::vector<double> late, bare;
  for (int r = 0; r < rounds; ++r) {
    std::mutex mutex;
    std::condition_variable never;
    std::unique_lock lock{mutex};
    auto begin = Clock::now();
    never.wait_until(lock, begin + timeout, [] { return false; });
    bare.push_back(ms(Clock::now() - begin - timeout));

    auto scope = execution_options({.max_workers = 4, .timeout_seconds = 0.1});
    begin = Clock::now();
    try {
      vmap(sleeper)(input);
    } catch (const TimeoutError&) {
    }
    late.push_back(ms(Clock::now() - begin - timeout));
  }
  double t_late = median(late), t_bare = median(bare);
  std::cout << "baseline timeout.bare_wait_until: " << t_bare << " ms past the deadline\n"
            << "timeout.vmap_lateness: " << t_late << " ms past the deadline (target < 50 ms), "
            << t_late / std::max(t_bare, 1e-3) << "x the bare wait\n";
  boost::json::array results;
  results.push_back({{"name", "timeout.vmap_lateness"}, {"value", t_late}, {"unit", "ms"},
                     {"baseline", "bare_wait_until"}, {"baseline_value", t_bare},
                     {"ratio", t_late / std::max(t_bare, 1e-3)}});
  if (argc > 1)
    std::ofstream{argv[1]} << boost::json::serialize(results) << "\n";
  // Bodies still sleep: exit is bounded by the runtime's shutdown grace.
}
