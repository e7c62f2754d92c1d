#include <catch2/catch.hpp>

#include <fstream>
#include <latch>
#include <numeric>
#include <set>
#include <mutex>
#include <pthread.h>

#include "../runtime/held_scheduler.hpp"
#include "../runtime/support.hpp"
#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/engine/option_parsing.hpp"
#include "ember/xcs/runtime/operator_actor.hpp"
#include "ember/xcs/runtime/runtime.hpp"
#include "ember/xcs/runtime/this_call.hpp"
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/transforms/vmap.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::os_threads;
using ember::testing::eventually;
using ember::testing::Gate;

namespace {

List range(std::int64_t n) {
  List xs;
  for (std::int64_t i = 0; i < n; ++i)
    xs.emplace_back(i);
  return xs;
}

// Counts bodies running at once; a body waits (bounded) until `target` run
// together, so a runtime that gives the expected concurrency passes at once.
struct Concurrency {
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  int target = 1;

  void enter() {
    int now = ++running;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    eventually([&] { return peak.load() >= target; }, 2000ms);
  }
  void leave() { --running; }
};

std::string thread_name() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

} // namespace

TEST_CASE("use_parallel false runs items one at a time in input order", "[options][sequential]") {
  std::mutex mutex;
  std::vector<std::int64_t> order;
  Concurrency concurrency;
  auto op = function_operator("Ordered", [&](const Record& in) {
    concurrency.enter();
    {
      std::lock_guard lock{mutex};
      order.push_back(in.get<std::int64_t>("x"));
    }
    concurrency.leave();
    return in;
  }, {}, OperatorKind::io);
  auto scope = execution_options({.use_parallel = false});
  vmap(op)(Record{{"x", range(20)}});
  CHECK(concurrency.peak == 1);
  std::vector<std::int64_t> expected(20);
  std::iota(expected.begin(), expected.end(), 0);
  CHECK(order == expected);
}

TEST_CASE("the legacy sequential scheduler runs items one at a time", "[options][sequential]") {
  Concurrency concurrency;
  auto op = function_operator("Legacy", [&](const Record& in) {
    concurrency.enter();
    concurrency.leave();
    return in;
  }, {}, OperatorKind::io);
  auto scope = execution_options({.scheduler = "sequential"});
  vmap(op)(Record{{"x", range(6)}});
  CHECK(concurrency.peak == 1);
}

TEST_CASE("peak concurrency equals max_workers", "[options][max_workers]") {
  Concurrency concurrency;
  concurrency.target = 3;
  auto op = function_operator("Wide", [&](const Record& in) {
    concurrency.enter();
    concurrency.leave();
    return in;
  }, {}, OperatorKind::io);
  auto scope = execution_options({.max_workers = 3});
  vmap(op)(Record{{"x", range(12)}});
  CHECK(concurrency.peak == 3);
}

TEST_CASE("nested pmap of vmap shares one budget of max_workers", "[options][max_workers][nesting]") {
  Concurrency concurrency;
  concurrency.target = 8;
  auto op = function_operator("Leaf", [&](const Record& in) {
    concurrency.enter();
    concurrency.leave();
    return in;
  }, {}, OperatorKind::io);
  std::atomic<int> threads_peak{0};
  auto probe = function_operator("Probe", [&](const Record& in) {
    threads_peak = std::max(threads_peak.load(), os_threads());
    return op(in);
  }, {}, OperatorKind::io);
  auto scope = execution_options({.max_workers = 8});
  pmap(vmap(probe), 4)(Record{{"x", range(64)}});
  CHECK(concurrency.peak <= 8);
  CHECK(concurrency.peak >= 4);
  // Threads: the budget's 8 workers (the caller among them), the runtime's
  // fixed ones (actor-system owner, 2 CAF workers, CAF clock and printer) and
  // slack for a pool thread started while another was between task and idle.
  // Without the shared budget this nesting would run 4 x 8 bodies at once.
  CHECK(threads_peak <= 8 + 5 + 3);
}

TEST_CASE("a deadline throws on time and queued items never start", "[options][timeout]") {
  std::atomic<int> started{0};
  std::atomic<int> running{0};
  auto op = function_operator("Slow", [&](const Record& in) {
    ++started;
    ++running;
    eventually([] { return this_call::stop_requested(); }, 2000ms);
    --running;
    return in;
  }, {}, OperatorKind::io);
  auto scope = execution_options({.max_workers = 2, .timeout_seconds = 0.1});
  auto begin = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(vmap(op)(Record{{"x", range(20)}}), TimeoutError);
  CHECK(std::chrono::steady_clock::now() - begin < 1s); // bodies would wait 2 s: early, not precise
  // Running bodies see the stop flag and return; nothing queued starts.
  CHECK(eventually([&] { return running == 0; }));
  CHECK(started <= 2);
}

TEST_CASE("nested transforms inherit the remaining deadline", "[options][timeout][nesting]") {
  std::mutex mutex;
  std::set<std::chrono::steady_clock::time_point> deadlines;
  auto op = function_operator("Probe", [&](const Record& in) {
    std::lock_guard lock{mutex};
    deadlines.insert(*this_call::deadline());
    return in;
  });
  auto scope = execution_options({.timeout_seconds = 5.0});
  pmap(vmap(op), 2)(Record{{"x", range(8)}});
  CHECK(deadlines.size() == 1);
}

TEST_CASE("fail fast names the transform, the item and the operator with the cause nested",
          "[failures]") {
  auto op = function_operator("Flaky", [](const Record& in) {
    if (in.get<std::int64_t>("x") == 3)
      throw std::runtime_error("bad item");
    return in;
  });
  auto scope = execution_options({.use_parallel = false});
  try {
    vmap(op)(Record{{"x", range(10)}});
    FAIL("no ExecutionError");
  } catch (const ExecutionError& e) {
    CHECK(std::string{e.what()} == "vmap(Flaky): item 3 of 10 failed in operator 'Flaky': bad item");
    CHECK_THROWS_WITH(std::rethrow_if_nested(e), "bad item");
  }
}

TEST_CASE("fail fast stops the remaining items", "[failures]") {
  std::atomic<int> ran{0};
  auto op = function_operator("FirstFails", [&](const Record& in) {
    ++ran;
    if (in.get<std::int64_t>("x") == 0)
      throw std::runtime_error("first");
    return in;
  });
  auto scope = execution_options({.use_parallel = false});
  CHECK_THROWS_AS(vmap(op)(Record{{"x", range(100)}}), ExecutionError);
  CHECK(ran == 1);
}

TEST_CASE("without fail fast every item ends as exactly one result or one error", "[failures]") {
  auto op = function_operator("TenPercent", [](const Record& in) {
    auto x = in.get<std::int64_t>("x");
    if (x % 10 == 7)
      throw std::runtime_error("item " + std::to_string(x) + " failed");
    return Record{{"y", x}};
  });
  auto scope = execution_options({.fail_fast = false});
  constexpr std::int64_t n = 10000;
  auto out = vmap(op)(Record{{"x", range(n)}});
  const auto& ys = out.get<List>("y");
  const auto& errors = out.get<List>("_errors");
  REQUIRE(static_cast<std::int64_t>(ys.size()) == n);
  std::vector<int> seen(n, 0);
  for (std::int64_t i = 0; i < n; ++i)
    if (!ys[static_cast<std::size_t>(i)].is_null()) {
      CHECK(ys[static_cast<std::size_t>(i)].as_integer() == i);
      ++seen[static_cast<std::size_t>(i)];
    }
  for (const auto& error : errors) {
    auto index = error.as_record().get<std::int64_t>("index");
    CHECK(error.as_record().get<std::string>("message") ==
          "item " + std::to_string(index) + " failed");
    ++seen[static_cast<std::size_t>(index)];
  }
  CHECK(errors.size() == n / 10);
  CHECK(std::all_of(seen.begin(), seen.end(), [](int count) { return count == 1; }));
}

TEST_CASE("pmap without fail fast reports the items of a failed shard", "[failures][pmap]") {
  auto op = function_operator("ShardFails", [](const Record& in) {
    if (in.get<List>("x").front().as_integer() == 5)
      throw std::runtime_error("shard down");
    return in;
  });
  auto scope = execution_options({.fail_fast = false});
  auto out = pmap(op, 2)(Record{{"x", range(10)}});
  const auto& errors = out.get<List>("_errors");
  REQUIRE(errors.size() == 5);
  CHECK(errors.front().as_record().get<std::int64_t>("index") == 5);
  CHECK(out.get<List>("x")[4].as_integer() == 4);
  CHECK(out.get<List>("x")[5].is_null());
}

TEST_CASE("fail_fast has a string-keyed form", "[options][failures]") {
  auto update = parse_execution_options({{"fail_fast", "false"}});
  REQUIRE(update.fail_fast.has_value());
  CHECK_FALSE(*update.fail_fast);
}

TEST_CASE("an unavailable device is an error naming the registered executors", "[options][device]") {
  auto op = function_operator("Any", [](const Record& in) { return in; });
  auto scope = execution_options({.device_strategy = "gpu"});
  CHECK_THROWS_WITH(vmap(op)(Record{{"x", range(2)}}),
                    Catch::Contains("device_strategy 'gpu' is not available") &&
                        Catch::Contains("registered: cpu, io"));
  CHECK_THROWS_AS(op(Record{}), RuntimeUnavailableError);
}

TEST_CASE("device_strategy picks the compute or the waiting pool", "[options][device]") {
  for (auto [strategy, pool] : {std::pair{"cpu", "ember-cpu"}, std::pair{"io", "ember-io"}}) {
    std::latch both{2};
    std::mutex mutex;
    std::set<std::string> names;
    auto op = function_operator("Where", [&](const Record& in) {
      both.arrive_and_wait(); // two bodies at once: one of them is a pool helper
      std::lock_guard lock{mutex};
      names.insert(thread_name());
      return in;
    });
    auto scope = execution_options({.max_workers = 2, .device_strategy = strategy});
    vmap(op)(Record{{"x", range(2)}});
    CHECK(names.count(pool) == 1);
  }
}

TEST_CASE("a body that throws when stopped by the deadline is a timeout, not a failure",
          "[options][timeout][failures]") {
  auto op = function_operator("Aborts", [](const Record& in) -> Record {
    eventually([] { return this_call::stop_requested(); }, 2000ms);
    if (this_call::stop_requested())
      throw std::runtime_error("aborted");
    return in;
  }, {}, OperatorKind::io);
  auto scope = execution_options({.max_workers = 4, .timeout_seconds = 0.1});
  CHECK_THROWS_AS(vmap(op)(Record{{"x", range(4)}}), TimeoutError);
}

TEST_CASE("a result cut short by the deadline is not cached", "[options][timeout][cache]") {
  auto op = function_operator("Partial", [](const Record&) {
    if (this_call::deadline())
      eventually([] { return this_call::stop_requested(); }, 5000ms);
    return Record{{"y", this_call::stop_requested() ? "partial" : "full"}};
  });
  // vmap runs its one item on the calling thread, so the body surely starts
  // (a facade call's task may never start on a loaded machine); the deadline
  // stops it and it returns its partial result, which must not be stored.
  {
    auto scope = execution_options({.enable_caching = true, .timeout_seconds = 0.05});
    CHECK_THROWS_AS(vmap(op)(Record{{"x", List{1}}}), TimeoutError);
  }
  auto scope = execution_options({.enable_caching = true});
  CHECK(op(Record{{"x", 1}}).get<std::string>("y") == "full");
}

TEST_CASE("tracing keeps a scope opened inside a body in force", "[options][trace]") {
  // Regression: the traced path reinstalled the caller's options.
  std::atomic<bool> inner_parallel{true};
  auto inner = function_operator("Inner", [&](const Record& in) {
    inner_parallel = get_execution_options().use_parallel;
    return in;
  });
  auto outer = function_operator("Outer", [&](const Record& in) {
    auto scope = execution_options({.use_parallel = false});
    return inner(in);
  });
  auto scope = execution_options({.trace_execution = true});
  outer(Record{});
  CHECK_FALSE(inner_parallel);
}

TEST_CASE("a body throwing a non-standard exception is reported, not lost", "[failures]") {
  auto op = function_operator("ThrowsInt", [](const Record& in) -> Record {
    if (in.get<std::int64_t>("x") == 1)
      throw 42;
    return in;
  });
  CHECK_THROWS_WITH(vmap(op)(Record{{"x", range(3)}}),
                    "vmap(ThrowsInt): item 1 of 3 failed in operator 'ThrowsInt': a non-standard "
                    "exception");
  auto scope = execution_options({.fail_fast = false});
  auto out = vmap(op)(Record{{"x", range(3)}});
  REQUIRE(out.get<List>("_errors").size() == 1);
  CHECK(out.get<List>("_errors")[0].as_record().get<std::string>("message") ==
        "a non-standard exception");
}

TEST_CASE("vmap of vmap without fail fast reports the failed items of nested batches",
          "[failures][nesting]") {
  // Regression: the outer vmap replaced the nested batches' "_errors" with its
  // own list, so an inner failure became a silent null.
  auto op = function_operator("OddFails", [](const Record& in) {
    auto x = in.get<std::int64_t>("x");
    if (x % 2 == 1)
      throw std::runtime_error("odd " + std::to_string(x));
    return in;
  });
  auto scope = execution_options({.fail_fast = false});
  auto out = vmap(vmap(op))(Record{{"x", List{List{0, 1, 2}, List{4}, List{3, 6, 5}}}});
  CHECK(out.at("x") == Value{List{List{0, Value{}, 2}, List{4}, List{Value{}, 6, Value{}}}});
  const auto& errors = out.get<List>("_errors");
  REQUIRE(errors.size() == 3);
  auto entry = [&](std::size_t n) { return errors[n].as_record(); };
  CHECK(entry(0) == Record{{"index", 0}, {"message", "odd 1"},
                           {"inner", Record{{"index", 1}, {"message", "odd 1"}}}});
  CHECK(entry(1).get<std::int64_t>("index") == 2);
  CHECK(entry(1).get<Record>("inner").get<std::int64_t>("index") == 0);
  CHECK(entry(2).get<Record>("inner") == Record{{"index", 2}, {"message", "odd 5"}});
}

TEST_CASE("vmap without fail fast keeps an item whose nested batch failed entirely",
          "[failures][nesting]") {
  // Regression: a nested batch with no successful item has no "x" field, and
  // the outer vmap threw because its fields differed from the other items'.
  auto op = function_operator("OddFails", [](const Record& in) {
    if (in.get<std::int64_t>("x") % 2 == 1)
      throw std::runtime_error("odd");
    return in;
  });
  auto scope = execution_options({.fail_fast = false});
  auto out = vmap(vmap(op))(Record{{"x", List{List{1, 3}, List{2}}}});
  CHECK(out.at("x") == Value{List{Value{}, List{2}}});
  REQUIRE(out.get<List>("_errors").size() == 2);
  for (const auto& error : out.get<List>("_errors"))
    CHECK(error.as_record().get<std::int64_t>("index") == 0);
}

TEST_CASE("pmap without fail fast keeps what nested entries say about inner items",
          "[failures][nesting][pmap]") {
  auto op = function_operator("OddFails", [](const Record& in) {
    if (in.get<std::int64_t>("x") % 2 == 1)
      throw std::runtime_error("odd");
    return in;
  });
  auto scope = execution_options({.fail_fast = false});
  auto out = pmap(vmap(vmap(op)), 2)(Record{{"x", List{List{0}, List{2, 1}, List{1, 3}}}});
  CHECK(out.at("x") == Value{List{List{0}, List{2, Value{}}, Value{}}});
  const auto& errors = out.get<List>("_errors");
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].as_record().get<std::int64_t>("index") == 1);
  CHECK(errors[0].as_record().get<Record>("inner").get<std::int64_t>("index") == 1);
  CHECK(errors[1].as_record().get<std::int64_t>("index") == 2);
  CHECK(errors[1].as_record().get<Record>("inner").get<std::int64_t>("index") == 0);
  CHECK(errors[2].as_record().get<Record>("inner").get<std::int64_t>("index") == 1);
}

TEST_CASE("a nested call that hits the deadline times the whole call out before its timer fires",
          "[options][timeout][failures][nesting]") {
  // Regression: a nested batch checks the shared deadline itself, and its
  // TimeoutError was taken for an item failure when it came before the
  // supervisor's timer: with fail_fast = false the call returned after its
  // deadline, listing "deadline passed" errors. Here the one CAF scheduler
  // thread is held, so the timer cannot fire before the call ends.
  ember::testing::HeldScheduler held;
  auto leaf = function_operator("Leaf", [](const Record& in) { return in; });
  auto op = function_operator("PastDeadline", [leaf](const Record& in) {
    if (in.get<std::int64_t>("x") == 0) // outlives the deadline, ignoring cancellation
      eventually([] { return this_call::Clock::now() > *this_call::deadline(); });
    return vmap(leaf)(Record{{"y", List{1, 2}}}); // the deadline has passed: TimeoutError
  });
  {
    auto scope = execution_options({.max_workers = 1, .timeout_seconds = 0.02, .fail_fast = false});
    CHECK_THROWS_AS(vmap(op)(Record{{"x", range(2)}}), TimeoutError);
  }
}
