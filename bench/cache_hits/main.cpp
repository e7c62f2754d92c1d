// Per-item cost of a vmap call over 10,000 items of ~1 KB strings answered
// wholly from the result cache, next to the same call uncached with a trivial
// body, in one run.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int rounds = 9;
constexpr std::size_t items = 10'000;
constexpr std::size_t text_bytes = 1024;

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

double ns_per_item(const OperatorRef& batched, const Record& input, bool caching) {
  auto scope = execution_options({.max_workers = 2, .enable_caching = caching});
  auto begin = Clock::now();
  auto out = batched(input);
  double ns = std::chrono::duration<double, std::nano>(Clock::now() - begin).count() / items;
  if (out.at("length").as_list().size() != items)
    throw std::runtime_error("vmap returned the wrong number of items");
  return ns;
}

} // namespace

int main(int argc, char** argv) {
  auto op = function_operator("Length", [](const Record& in) {
    return Record{{"length", static_cast<std::int64_t>(in.at("text").as_string().size())}};
  });
  List texts;
  for (std::size_t i = 0; i < items; ++i) {
    auto text = std::to_string(i) + ":"; // every item a distinct key
    text.resize(text_bytes, 'a' + static_cast<char>(i % 26));
    texts.emplace_back(std::move(text));
  }
  Record input{{"text", std::move(texts)}, {"mode", "plain"}};
  auto batched = vmap(op);

  auto& cache = result_cache();
  cache.set_capacity(2 * items); // the default (4096) would evict most of the batch
  cache.clear();
  ns_per_item(batched, input, true); // fills the cache
  ns_per_item(batched, input, false); // warm-up of the uncached path
  cache.reset_stats();

  std::vector<double> s_cached, s_uncached;
  for (int r = 0; r < rounds; ++r) {
    s_cached.push_back(ns_per_item(batched, input, true));
    s_uncached.push_back(ns_per_item(batched, input, false));
  }
  auto stats = cache.stats();
  if (stats.misses != 0 || stats.hits != rounds * items) {
    std::cerr << "cache_hits: expected " << rounds * items << " hits and no misses, saw "
              << stats.hits << " hits and " << stats.misses << " misses\n";
    return 1;
  }
  double cached = median(s_cached), uncached = median(s_uncached);
  double ratio = cached / uncached;

  std::cout << "baseline cache_hits.uncached_trivial: " << uncached << " ns per item\n";
  std::cout << "cache_hits.cached: " << cached << " ns per item, " << ratio
            << "x the uncached call (" << stats.hits << " hits, " << stats.misses
            << " misses)\n";
  boost::json::array results;
  results.push_back({{"name", "cache_hits.cached"}, {"value", cached}, {"unit", "ns/item"},
                     {"baseline", "uncached_trivial"}, {"baseline_value", uncached},
                     {"ratio", ratio}});
  if (argc > 1)
    std::ofstream{argv[1]} << boost::json::serialize(results) << "\n";
  shutdown_runtime();
}
