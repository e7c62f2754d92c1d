// Snapshots of the options in force and the guard that carries them to workers.
#include <ember/xcs/engine/execution_context.hpp>

#include <ember/xcs/engine/execution_options.hpp>

#include <catch2/catch.hpp>

#include "global_defaults.hpp"

#include <atomic>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace ember::xcs;
using ember::testing::GlobalDefaultsOnExit;

namespace {

// Runs `body` on a fresh thread under `snapshot`, as a worker does.
template <class Body> void run_on_worker(ExecutionSnapshot snapshot, Body body) {
  std::thread([&] {
    ExecutionContextGuard guard(std::move(snapshot));
    body();
  }).join();
}

} // namespace

TEST_CASE("with no scope the snapshot is the global one shared not copied",
          "[context][snapshot]") {
  GlobalDefaultsOnExit reset;
  const auto first = current_execution_snapshot();
  REQUIRE(first != nullptr);
  CHECK(first == current_execution_snapshot());
  std::thread([&] { CHECK(current_execution_snapshot() == first); }).join();
  set_execution_options({.max_workers = 5});
  const auto after = current_execution_snapshot();
  CHECK(after != first);
  CHECK(after->max_workers == 5);
  CHECK_FALSE(first->max_workers);
}

TEST_CASE("with scopes the merged snapshot is cached until something changes",
          "[context][snapshot][cache]") {
  GlobalDefaultsOnExit reset;
  auto scope = execution_options({.max_workers = 2});
  const auto first = current_execution_snapshot();
  CHECK(first == current_execution_snapshot());
  CHECK(first->max_workers == 2);

  set_execution_options({.enable_caching = true});
  const auto after_global = current_execution_snapshot();
  CHECK(after_global != first);
  CHECK(after_global->enable_caching);
  CHECK(after_global == current_execution_snapshot());

  {
    auto inner = execution_options({.max_workers = 3});
    CHECK(current_execution_snapshot()->max_workers == 3);
  }
  const auto after_inner = current_execution_snapshot();
  CHECK(after_inner->max_workers == 2);
  CHECK(*after_inner == *after_global);
}

TEST_CASE("a snapshot does not change when the options change later", "[context][snapshot]") {
  GlobalDefaultsOnExit reset;
  auto scope = execution_options({.max_workers = 2});
  const auto taken = current_execution_snapshot();
  set_execution_options({.enable_caching = true});
  auto inner = execution_options({.max_workers = 7});
  CHECK(taken->max_workers == 2);
  CHECK_FALSE(taken->enable_caching);
}

TEST_CASE("a guarded body on a worker sees the call site options not the worker's own",
          "[context][guard][threads]") {
  GlobalDefaultsOnExit reset;
  set_execution_options({.enable_caching = true});
  auto scope = execution_options({.use_parallel = false, .max_workers = 3});
  const auto call_site = current_execution_snapshot();
  std::optional<ExecutionOptions> seen_in_body;
  std::optional<ExecutionOptions> seen_unguarded;
  run_on_worker(call_site, [&] { seen_in_body = get_execution_options(); });
  std::thread([&] { seen_unguarded = get_execution_options(); }).join();
  REQUIRE(seen_in_body);
  CHECK(*seen_in_body == *call_site);
  CHECK(seen_in_body->max_workers == 3);
  REQUIRE(seen_unguarded);
  CHECK_FALSE(seen_unguarded->max_workers);
  CHECK(seen_unguarded->enable_caching);
}

TEST_CASE("with no scope a guard hands out the installed snapshot itself",
          "[context][guard][snapshot]") {
  const auto installed = std::make_shared<const ExecutionOptions>(
      merge(ExecutionOptions{}, {.device_strategy = "io"}));
  ExecutionSnapshot seen;
  run_on_worker(installed, [&] { seen = current_execution_snapshot(); });
  CHECK(seen == installed);
}

TEST_CASE("scopes inside a guarded body merge over the snapshot and ignore the global",
          "[context][guard][scope]") {
  GlobalDefaultsOnExit reset;
  const auto installed = std::make_shared<const ExecutionOptions>(
      merge(ExecutionOptions{}, {.max_workers = 4, .timeout_seconds = 9.0}));
  ExecutionContextGuard guard(installed);
  set_execution_options({.enable_caching = true, .timeout_seconds = 1.0});
  CHECK_FALSE(get_execution_options().enable_caching);
  {
    auto scope = execution_options({.max_workers = 2});
    const auto options = get_execution_options();
    CHECK(options.max_workers == 2);
    CHECK(options.timeout_seconds == 9.0);
    CHECK_FALSE(options.enable_caching);
  }
  CHECK(current_execution_snapshot() == installed);
}

TEST_CASE("a guard hides this thread's scopes and restores them when it ends",
          "[context][guard][scope]") {
  auto own = execution_options({.max_workers = 6, .trace_execution = true});
  const auto before = current_execution_snapshot();
  {
    ExecutionContextGuard guard(std::make_shared<const ExecutionOptions>());
    const auto options = get_execution_options();
    CHECK_FALSE(options.max_workers);
    CHECK_FALSE(options.trace_execution);
  }
  CHECK(*current_execution_snapshot() == *before);
  CHECK(get_execution_options().max_workers == 6);
}

TEST_CASE("guards nest and each restores the one before it", "[context][guard]") {
  const auto outer_options = std::make_shared<const ExecutionOptions>(
      merge(ExecutionOptions{}, {.max_workers = 1}));
  const auto inner_options = std::make_shared<const ExecutionOptions>(
      merge(ExecutionOptions{}, {.max_workers = 2}));
  ExecutionContextGuard outer(outer_options);
  auto scope = execution_options({.device_strategy = "cpu"});
  {
    ExecutionContextGuard inner(inner_options);
    CHECK(current_execution_snapshot() == inner_options);
  }
  const auto options = get_execution_options();
  CHECK(options.max_workers == 1);
  CHECK(options.device_strategy == "cpu");
}

TEST_CASE("a guard restores the previous state when the body throws", "[context][guard]") {
  const auto before = current_execution_snapshot();
  try {
    ExecutionContextGuard guard(std::make_shared<const ExecutionOptions>(
        merge(ExecutionOptions{}, {.use_parallel = false})));
    throw std::runtime_error("body failed");
  } catch (const std::runtime_error&) {
  }
  CHECK(current_execution_snapshot() == before);
}

TEST_CASE("a guard refuses a null snapshot", "[context][guard][errors]") {
  CHECK_THROWS_AS(ExecutionContextGuard(nullptr), std::invalid_argument);
  CHECK(get_execution_options() == ExecutionOptions{});
}

TEST_CASE("concurrent global set and get never see a torn state",
          "[context][global][threads]") {
  GlobalDefaultsOnExit reset;
  constexpr int thread_count = 8;
  constexpr int iterations = 100'000;
  std::latch start(thread_count);
  std::atomic<int> torn{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> threads;
  for (int thread_index = 0; thread_index < thread_count; ++thread_index) {
    threads.emplace_back([&, thread_index] {
      // Half the threads read through a scope, so the per-thread cache and its
      // invalidation by the global version are hammered as well.
      std::optional<ExecutionOptionsScope> scope;
      if (thread_index % 2 == 1) {
        scope.emplace(ExecutionOptionsUpdate{.trace_execution = true});
      }
      start.arrive_and_wait();
      for (int i = 0; i < iterations; ++i) {
        const int k = thread_index * iterations + i + 1;
        set_execution_options({.max_workers = k, .timeout_seconds = static_cast<double>(k)});
        const auto seen = current_execution_snapshot();
        const bool initial = !seen->max_workers && !seen->timeout_seconds;
        const bool matched = seen->max_workers && seen->timeout_seconds &&
                             static_cast<double>(*seen->max_workers) == *seen->timeout_seconds;
        if (!(initial || matched) || seen->trace_execution != scope.has_value()) {
          torn.fetch_add(1, std::memory_order_relaxed);
        }
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(torn.load() == 0);
  CHECK(reads.load() == long{thread_count} * iterations);
  const auto last = get_execution_options();
  REQUIRE(last.max_workers);
  CHECK(static_cast<double>(*last.max_workers) == last.timeout_seconds);
}
