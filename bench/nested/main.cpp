// Throughput of pmap(vmap(op), 2 workers) over 100,000 trivial items next to
// flat vmap(op) over the same items, both with max_workers = 2, in one run.
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
constexpr std::size_t items = 100'000;

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

// Items per second of one call of `batched` on `input`.
double items_per_second(const OperatorRef& batched, const Record& input) {
  auto scope = execution_options({.max_workers = 2});
  auto begin = Clock::now();
  auto out = batched(input);
  double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  if (out.at("y").as_list().size() != items)
    throw std::runtime_error(batched.name() + " returned the wrong number of items");
  return items / seconds;
}

} // namespace

int main(int argc, char** argv) {
  auto op = function_operator("Trivial", [](const Record& in) {
    return Record{{"y", in.at("x")}};
  });
  List xs;
  for (std::size_t i = 0; i < items; ++i)
    xs.emplace_back(static_cast<std::int64_t>(i));
  Record input{{"x", std::move(xs)}, {"scale", 2}, {"label", "hello"}};
  auto flat = vmap(op);
  auto nested = pmap(vmap(op), 2);

  // Warm-up, then interleaved rounds so noise hits both alike.
  items_per_second(flat, input), items_per_second(nested, input);
  std::vector<double> s_flat, s_nested;
  for (int r = 0; r < rounds; ++r) {
    s_flat.push_back(items_per_second(flat, input));
    s_nested.push_back(items_per_second(nested, input));
  }
  double flat_rate = median(s_flat), nested_rate = median(s_nested);
  double ratio = nested_rate / flat_rate;

  std::cout << "baseline nested.flat_vmap: " << flat_rate / 1e6 << " M items/s ("
            << 1e9 / flat_rate << " ns per item)\n";
  std::cout << "nested.pmap_vmap: " << nested_rate / 1e6 << " M items/s (" << 1e9 / nested_rate
            << " ns per item), " << ratio << "x flat vmap's throughput\n";
  std::cout << "target nested: >= 0.9x flat vmap's throughput (" << ratio << "x, "
            << (ratio >= 0.9 ? "met" : "MISSED") << ")\n";
  boost::json::array results;
  results.push_back({{"name", "nested.pmap_vmap"}, {"value", nested_rate}, {"unit", "items/s"},
                     {"baseline", "flat_vmap"}, {"baseline_value", flat_rate},
                     {"ratio", ratio}});
  if (argc > 1)
    std::ofstream{argv[1]} << boost::json::serialize(results) << "\n";
  shutdown_runtime();
}
