// The memo cache behind enable_caching: keys, LRU order, capacity, single flight.
#include <ember/xcs/engine/result_cache.hpp>

#include <ember/core/registry/operator/base/function_operator.hpp>

#include <catch2/catch.hpp>

#include "../runtime/support.hpp"

#include <atomic>
#include <cmath>
#include <latch>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace ember;
using namespace ember::xcs;

namespace {

OperatorRef echo(std::string name = "echo") {
  return function_operator(std::move(name), [](const Record& in) { return in; });
}

class Named final : public Operator {
public:
  explicit Named(std::string name) : Operator(std::move(name)) {}
  Record forward(const Record& in) const override { return in; }
};

Record numbered(int n) {
  return Record{{"n", n}};
}

// A computation that counts its runs and returns {"run": <run number>}.
struct CountingCompute {
  std::atomic<int> runs{0};
  Record operator()() { return Record{{"run", ++runs}}; }
};

} // namespace

TEST_CASE("a second identical call is a hit and does not compute", "[cache]") {
  ResultCache cache;
  auto op = echo();
  CountingCompute compute;
  auto first = cache.get_or_compute(*op, numbered(1), [&] { return compute(); });
  auto second = cache.get_or_compute(*op, numbered(1), [&] { return compute(); });
  CHECK(compute.runs == 1);
  CHECK(first == Record{{"run", 1}});
  CHECK(second == first);
  CHECK(cache.lookup(*op, numbered(1)) == first);
}

TEST_CASE("different inputs miss", "[cache]") {
  ResultCache cache;
  auto op = echo();
  CountingCompute compute;
  cache.get_or_compute(*op, numbered(1), [&] { return compute(); });
  auto other = cache.get_or_compute(*op, numbered(2), [&] { return compute(); });
  CHECK(compute.runs == 2);
  CHECK(other == Record{{"run", 2}});
  CHECK_FALSE(cache.lookup(*op, numbered(3)).has_value());
}

TEST_CASE("two operators with the same name and inputs do not share entries", "[cache]") {
  ResultCache cache;
  auto a = echo("same");
  auto b = echo("same");
  CountingCompute compute;
  cache.get_or_compute(*a, numbered(1), [&] { return compute(); });
  auto from_b = cache.get_or_compute(*b, numbered(1), [&] { return compute(); });
  CHECK(compute.runs == 2);
  CHECK(from_b == Record{{"run", 2}});
  CHECK(cache.lookup(*a, numbered(1)) == Record{{"run", 1}});
}

TEST_CASE("inputs that print alike still key apart", "[cache][key]") {
  ResultCache cache;
  auto op = echo();
  CountingCompute compute;
  auto ask = [&](const Record& in) {
    return cache.get_or_compute(*op, in, [&] { return compute(); });
  };
  // to_string writes both invalid bytes as U+FFFD.
  ask(Record{{"s", std::string{"\xff"}}});
  ask(Record{{"s", std::string{"\xfe"}}});
  // Integer and double, and the two zeros.
  ask(Record{{"x", 1}});
  ask(Record{{"x", 1.0}});
  ask(Record{{"x", 0.0}});
  ask(Record{{"x", -0.0}});
  // A string that reads like a list of strings, and the list.
  ask(Record{{"x", "[\"a\"]"}});
  ask(Record{{"x", List{Value{"a"}}}});
  CHECK(compute.runs == 8);
  CHECK(cache.stats().size == 8);
}

TEST_CASE("NaN, infinities, invalid UTF-8 and deep nesting are keys that hit", "[cache][key]") {
  ResultCache cache;
  auto op = echo();
  Value deep = 1;
  Value deep_other = 2;
  for (std::size_t i = 0; i < 2 * max_serialized_depth; ++i) {
    deep = List{deep};
    deep_other = List{deep_other};
  }
  Record odd{{"nan", std::numeric_limits<double>::quiet_NaN()},
             {"inf", -std::numeric_limits<double>::infinity()},
             {"bytes", std::string{"\xc3\x28"}},
             {"deep", deep}};
  CountingCompute compute;
  cache.get_or_compute(*op, odd, [&] { return compute(); });
  cache.get_or_compute(*op, odd, [&] { return compute(); });
  CHECK(compute.runs == 1);
  // Past the depth where to_string writes [...], the innermost value still counts.
  cache.get_or_compute(*op, odd.with("deep", deep_other), [&] { return compute(); });
  CHECK(compute.runs == 2);
}

TEST_CASE("stats count hits, misses, size and capacity", "[cache][stats]") {
  ResultCache cache{10};
  auto op = echo();
  CountingCompute compute;
  cache.get_or_compute(*op, numbered(1), [&] { return compute(); });
  cache.get_or_compute(*op, numbered(1), [&] { return compute(); });
  cache.get_or_compute(*op, numbered(2), [&] { return compute(); });
  cache.lookup(*op, numbered(2));
  cache.lookup(*op, numbered(3));
  auto stats = cache.stats();
  CHECK(stats.hits == 2);
  CHECK(stats.misses == 3);
  CHECK(stats.evictions == 0);
  CHECK(stats.size == 2);
  CHECK(stats.capacity == 10);

  cache.reset_stats();
  stats = cache.stats();
  CHECK(stats.hits == 0);
  CHECK(stats.misses == 0);
  CHECK(stats.size == 2);
  CHECK(stats.capacity == 10);
}

TEST_CASE("at capacity the least recently used entry is evicted first", "[cache][lru]") {
  ResultCache cache{3};
  auto op = echo();
  auto put = [&](int n) { cache.get_or_compute(*op, numbered(n), [n] { return numbered(n); }); };
  put(1);
  put(2);
  put(3);
  // Using 1 makes 2 the least recently used.
  CHECK(cache.lookup(*op, numbered(1)).has_value());
  put(4);
  CHECK(cache.stats().evictions == 1);
  CHECK_FALSE(cache.lookup(*op, numbered(2)).has_value());
  CHECK(cache.lookup(*op, numbered(3)).has_value());
  CHECK(cache.lookup(*op, numbered(1)).has_value());
  CHECK(cache.lookup(*op, numbered(4)).has_value());
  // Order now, least recent first: 3, 1, 4.
  put(5);
  CHECK_FALSE(cache.lookup(*op, numbered(3)).has_value());
  CHECK(cache.stats().size == 3);
  CHECK(cache.stats().evictions == 2);
}

TEST_CASE("shrinking the capacity evicts the least recently used entries", "[cache][lru]") {
  ResultCache cache{5};
  auto op = echo();
  for (int n = 1; n <= 5; ++n)
    cache.get_or_compute(*op, numbered(n), [n] { return numbered(n); });
  CHECK(cache.lookup(*op, numbered(1)).has_value()); // least recent now: 2, 3, 4, 5, 1
  cache.set_capacity(2);
  auto stats = cache.stats();
  CHECK(stats.size == 2);
  CHECK(stats.capacity == 2);
  CHECK(stats.evictions == 3);
  CHECK(cache.lookup(*op, numbered(5)).has_value());
  CHECK(cache.lookup(*op, numbered(1)).has_value());
  for (int n = 2; n <= 4; ++n)
    CHECK_FALSE(cache.lookup(*op, numbered(n)).has_value());
}

TEST_CASE("clear drops every entry", "[cache]") {
  ResultCache cache;
  auto op = echo();
  CountingCompute compute;
  cache.get_or_compute(*op, numbered(1), [&] { return compute(); });
  cache.get_or_compute(*op, numbered(2), [&] { return compute(); });
  cache.clear();
  CHECK(cache.stats().size == 0);
  CHECK(cache.stats().evictions == 0);
  cache.get_or_compute(*op, numbered(1), [&] { return compute(); });
  CHECK(compute.runs == 3);
}

TEST_CASE("a result computed across a clear reaches its callers but is not stored",
          "[cache][clear][concurrency]") {
  ResultCache cache;
  auto op = echo();
  std::latch computing{1};
  std::latch cleared{1};
  std::optional<Record> result;
  std::thread caller{[&] {
    result = cache.get_or_compute(*op, numbered(1), [&] {
      computing.count_down();
      cleared.wait();
      return numbered(7);
    });
  }};
  computing.wait();
  cache.clear();
  cleared.count_down();
  caller.join();
  CHECK(result == numbered(7));
  CHECK(cache.stats().size == 0);
  CHECK_FALSE(cache.lookup(*op, numbered(1)).has_value());
}

TEST_CASE("capacity 0 stores nothing", "[cache][capacity]") {
  ResultCache cache{0};
  auto op = echo();
  CountingCompute compute;
  cache.get_or_compute(*op, numbered(1), [&] { return compute(); });
  auto again = cache.get_or_compute(*op, numbered(1), [&] { return compute(); });
  CHECK(compute.runs == 2);
  CHECK(again == Record{{"run", 2}});
  CHECK(cache.stats().size == 0);
  CHECK(cache.stats().evictions == 0);
}

TEST_CASE("eight identical concurrent misses compute once and all get the result",
          "[cache][single-flight][concurrency]") {
  ResultCache cache;
  auto op = echo();
  constexpr int callers = 8;
  std::latch release{1};
  std::atomic<int> runs{0};
  std::vector<Record> results(callers);
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i)
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] = cache.get_or_compute(*op, numbered(1), [&] {
        ++runs;
        release.wait();
        return Record{{"answer", 42}};
      });
    });
  // Every caller has arrived once one computes and the other seven count as hits.
  // hits + misses are counted under the cache's lock before anyone waits.
  CHECK(testing::eventually([&] {
    auto stats = cache.stats();
    return stats.hits + stats.misses == callers;
  }));
  release.count_down();
  for (auto& t : threads)
    t.join();
  CHECK(runs == 1);
  CHECK(cache.stats().misses == 1);
  CHECK(cache.stats().hits == callers - 1);
  for (const auto& r : results)
    CHECK(r == Record{{"answer", 42}});
}

TEST_CASE("a throwing computation reaches every waiter and is not cached",
          "[cache][single-flight][concurrency]") {
  ResultCache cache;
  auto op = echo();
  constexpr int callers = 4;
  std::latch release{1};
  std::atomic<int> runs{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i)
    threads.emplace_back([&] {
      try {
        cache.get_or_compute(*op, numbered(1), [&]() -> Record {
          ++runs;
          release.wait();
          throw std::runtime_error("model unavailable");
        });
      } catch (const std::runtime_error& e) {
        if (std::string{e.what()} == "model unavailable")
          ++failures;
      }
    });
  CHECK(testing::eventually([&] {
    auto stats = cache.stats();
    return stats.hits + stats.misses == callers;
  }));
  release.count_down();
  for (auto& t : threads)
    t.join();
  CHECK(runs == 1);
  CHECK(failures == callers);
  CHECK(cache.stats().size == 0);
  CountingCompute compute;
  cache.get_or_compute(*op, numbered(1), [&] { return compute(); });
  CHECK(compute.runs == 1);
}

TEST_CASE("a waiter does not deadlock when the computation uses the cache for another key",
          "[cache][single-flight][concurrency]") {
  ResultCache cache;
  auto outer = echo("outer");
  auto inner = echo("inner");
  std::latch computing{1};
  std::latch waiter_arrived{1};
  auto compute_outer = [&] {
    computing.count_down();
    waiter_arrived.wait();
    Record part = cache.get_or_compute(*inner, numbered(2), [] { return numbered(20); });
    return part.with("outer", true);
  };
  std::optional<Record> first;
  std::optional<Record> second;
  std::thread computer{[&] { first = cache.get_or_compute(*outer, numbered(1), compute_outer); }};
  computing.wait();
  std::thread waiter{
      [&] { second = cache.get_or_compute(*outer, numbered(1), [] { return Record{}; }); }};
  CHECK(testing::eventually([&] { return cache.stats().hits == 1; }));
  waiter_arrived.count_down();
  computer.join();
  waiter.join();
  CHECK(first == numbered(20).with("outer", true));
  CHECK(second == first);
  CHECK(cache.lookup(*inner, numbered(2)) == numbered(20));
}

TEST_CASE("a computation asking for its own key fails instead of hanging",
          "[cache][single-flight]") {
  ResultCache cache;
  auto op = echo("recursive");
  auto call = [&] {
    return cache.get_or_compute(*op, numbered(1), [&] {
      return cache.get_or_compute(*op, numbered(1), [] { return Record{}; });
    });
  };
  CHECK_THROWS_AS(call(), std::logic_error);
  CHECK(cache.stats().size == 0);
}

TEST_CASE("a destroyed operator's entries never hit for a new operator at its address",
          "[cache][identity]") {
  // Allocated apart from its control block (not make_shared), so the object's
  // memory is freed, and usually handed straight back, while the cache's
  // weak_ptr still holds the control block.
  auto make = [](std::string name) {
    return OperatorRef{std::shared_ptr<const Operator>(new Named(std::move(name)))};
  };
  ResultCache cache;
  auto first = make("first");
  const Operator* address = first.get();
  cache.get_or_compute(*first, numbered(1), [] { return Record{{"from", "first"}}; });
  first = OperatorRef{};

  OperatorRef second;
  std::vector<OperatorRef> others;
  for (int attempt = 0; attempt < 64 && !second; ++attempt) {
    auto candidate = make("second");
    if (candidate.get() == address)
      second = candidate;
    else
      others.push_back(candidate);
  }
  if (!second) {
    WARN("no operator reused the address; checking a fresh operator only");
    second = make("second");
  }
  CHECK_FALSE(cache.lookup(*second, numbered(1)).has_value());
  auto out = cache.get_or_compute(*second, numbered(1), [] { return Record{{"from", "second"}}; });
  CHECK(out == Record{{"from", "second"}});
  CHECK(cache.lookup(*second, numbered(1)) == Record{{"from", "second"}});
  // At the reused address the dead operator's entry was met and dropped.
  CHECK(cache.stats().size == (second.get() == address ? 1U : 2U));
}

TEST_CASE("an operator no shared_ptr owns is never cached", "[cache][identity]") {
  ResultCache cache;
  Named local{"local"};
  CountingCompute compute;
  cache.get_or_compute(local, numbered(1), [&] { return compute(); });
  cache.get_or_compute(local, numbered(1), [&] { return compute(); });
  CHECK(compute.runs == 2);
  CHECK(cache.stats().size == 0);
  CHECK_FALSE(cache.lookup(local, numbered(1)).has_value());
}

TEST_CASE("the process-wide cache is one instance", "[cache]") {
  CHECK(&result_cache() == &result_cache());
}
