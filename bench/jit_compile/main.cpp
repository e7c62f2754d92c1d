// structural_jit's first call (plan discovery) next to a cached call of the
// same composite: a pipeline of 10 chained sub-operator calls with trivial
// bodies. Also the cached call next to the plain forward.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <vector>

#include <boost/json.hpp>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int rounds = 9;
constexpr int calls_per_round = 200; // first calls: 200 fresh wrappers per round
constexpr int stages = 10;

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

OperatorRef pipeline() {
  std::vector<OperatorRef> steps;
  for (int i = 0; i < stages; ++i)
    steps.push_back(function_operator("Step" + std::to_string(i), [](const Record& in) {
      return Record{{"x", in.get<std::int64_t>("x") + 1}};
    }));
  return function_operator("Pipeline", [steps](const Record& in) {
    Record r = in;
    for (const auto& step : steps)
      r = step(r);
    return r;
  });
}

} // namespace

int main(int argc, char** argv) {
  auto composite = pipeline();
  Record input{{"x", 0}};
  const Record expected{{"x", stages}};

  auto warm = structural_jit(composite);
  warm(input);
  std::vector<double> s_first, s_cached, s_plain;
  std::vector<OperatorRef> fresh(calls_per_round);
  for (int r = 0; r < rounds; ++r) {
    for (auto& op : fresh)
      op = structural_jit(composite); // wrapping is not timed
    auto begin = Clock::now();
    for (auto& op : fresh)
      if (op(input) != expected)
        throw std::runtime_error("wrong result");
    s_first.push_back(std::chrono::duration<double, std::micro>(Clock::now() - begin).count() /
                      calls_per_round);

    begin = Clock::now();
    for (int i = 0; i < calls_per_round; ++i)
      if (warm(input) != expected)
        throw std::runtime_error("wrong result");
    s_cached.push_back(std::chrono::duration<double, std::micro>(Clock::now() - begin).count() /
                       calls_per_round);

    begin = Clock::now();
    for (int i = 0; i < calls_per_round; ++i)
      if (composite(input) != expected)
        throw std::runtime_error("wrong result");
    s_plain.push_back(std::chrono::duration<double, std::micro>(Clock::now() - begin).count() /
                      calls_per_round);
  }
  for (auto& op : fresh)
    if (jit_stats(op).compilations != 1)
      throw std::runtime_error("a fresh wrapper did not compile exactly once");
  auto stats = jit_stats(warm);
  if (stats.compilations != 1)
    throw std::runtime_error("the cached composite re-planned");
  double first = median(s_first), cached = median(s_cached), plain = median(s_plain);

  std::cout << "baseline jit_compile.cached_call: " << cached << " us per call (" << stats.cache_hits
            << " cache hits, 1 compilation)\n";
  std::cout << "baseline jit_compile.plain_forward: " << plain << " us per call\n";
  std::cout << "jit_compile.first_call: " << first << " us per call, " << first / cached
            << "x a cached call\n";
  std::cout << "jit_compile.cached_call: " << cached << " us per call, " << cached / plain
            << "x the plain forward\n";
  boost::json::array results;
  results.push_back({{"name", "jit_compile.first_call"}, {"value", first}, {"unit", "us"},
                     {"baseline", "cached_call"}, {"baseline_value", cached},
                     {"ratio", first / cached}});
  results.push_back({{"name", "jit_compile.cached_call"}, {"value", cached}, {"unit", "us"},
                     {"baseline", "plain_forward"}, {"baseline_value", plain},
                     {"ratio", cached / plain}});
  if (argc > 1)
    std::ofstream{argv[1]} << boost::json::serialize(results) << "\n";
  shutdown_runtime();
}
