// A re-run of 10,000 cached calls answered from the SQLite cache file (a new
// process's memory is empty), per call, next to the same re-run answered from
// memory and a plain uncached run of a trivial body, in one run.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

#include <boost/json.hpp>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int rounds = 7;
constexpr std::size_t items = 10'000;

// A model call's shape: a prompt in, a text out, a name that holds across runs.
class Answer final : public Operator {
public:
  Answer() : Operator("Answer") {}
  Record forward(const Record& in) const override {
    return Record{{"text", "answer to " + in.get<std::string>("prompt")}};
  }
  std::string persistent_identity() const override { return "bench:answer"; }
};

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

double us_per_call(const OperatorRef& batched, const Record& input, bool caching) {
  auto scope = execution_options({.max_workers = 2, .enable_caching = caching});
  auto begin = Clock::now();
  auto out = batched(input);
  double us = std::chrono::duration<double, std::micro>(Clock::now() - begin).count() / items;
  if (out.at("text").as_list().size() != items)
    throw std::runtime_error("vmap returned the wrong number of items");
  return us;
}

} // namespace

int main(int argc, char** argv) {
  auto path = std::filesystem::temp_directory_path() /
              ("ember-xcs-bench-cache-" + std::to_string(::getpid()) + ".db");
  List prompts;
  for (std::size_t i = 0; i < items; ++i)
    prompts.emplace_back("question " + std::to_string(i) + ": what is the capital of somewhere?");
  Record input{{"prompt", std::move(prompts)}};
  auto batched = vmap(make_operator<Answer>());

  auto& cache = result_cache();
  cache.set_capacity(2 * items);
  cache.persist_to(path.string());
  us_per_call(batched, input, true); // the first run: computes and writes the file
  us_per_call(batched, input, false);

  std::vector<double> s_file, s_memory, s_plain;
  for (int r = 0; r < rounds; ++r) {
    cache.clear(); // what a new process has: the file, an empty memory
    cache.reset_stats();
    s_file.push_back(us_per_call(batched, input, true));
    auto stats = cache.stats();
    if (stats.persistent_hits != items) {
      std::cerr << "persistent_cache: expected " << items << " hits from the file, saw "
                << stats.persistent_hits << "\n";
      return 1;
    }
    s_memory.push_back(us_per_call(batched, input, true));
    s_plain.push_back(us_per_call(batched, input, false));
  }
  cache.stop_persisting();
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");

  double file = median(s_file), memory = median(s_memory), plain = median(s_plain);
  std::cout << "baseline persistent_cache.uncached_trivial: " << plain << " us per call\n";
  std::cout << "baseline persistent_cache.memory_hit: " << memory << " us per call\n";
  std::cout << "persistent_cache.file_hit: " << file << " us per call, " << file / memory
            << "x a memory hit, " << file / plain << "x the uncached call\n";
  boost::json::array results;
  results.push_back({{"name", "persistent_cache.file_hit"}, {"value", file}, {"unit", "us/call"},
                     {"baseline", "memory_hit"}, {"baseline_value", memory},
                     {"ratio", file / memory}});
  if (argc > 1)
    std::ofstream{argv[1]} << boost::json::serialize(results) << "\n";
  shutdown_runtime();
}
