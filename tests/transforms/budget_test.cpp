// max_workers is one budget per top-level call: asynchronous bodies count
// against it like blocking ones, a narrower nested scope narrows it, and an
// explicit max_workers above a pool's size is honoured, not capped.
#include <catch2/catch.hpp>

#include <boost/asio/steady_timer.hpp>

#include <atomic>

#include "../runtime/support.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/runtime/io_context.hpp"
#include "ember/xcs/runtime/runtime.hpp"
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/transforms/vmap.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::eventually;

namespace {

// Counts the bodies in flight at once.
struct InFlight {
  std::atomic<int> now{0};
  std::atomic<int> peak{0};

  void enter() {
    int current = ++now;
    int seen = peak.load();
    while (current > seen && !peak.compare_exchange_weak(seen, current)) {
    }
  }
  void leave() { --now; }
};

// Echoes x after an Asio timer: holds no thread while it waits.
class TimedEcho final : public AsyncOperator {
public:
  explicit TimedEcho(InFlight& counter) : AsyncOperator("TimedEcho", {}, OperatorKind::io),
                                          counter_(counter) {}

  void start(const Record& inputs, Completion done) const override {
    counter_.enter();
    auto timer = std::make_shared<boost::asio::steady_timer>(io_context(), 5ms);
    timer->async_wait([this, timer, inputs, done](const boost::system::error_code&) {
      counter_.leave();
      done.succeed(inputs);
    });
  }

private:
  InFlight& counter_;
};

List range(std::int64_t n) {
  List xs;
  for (std::int64_t i = 0; i < n; ++i)
    xs.emplace_back(i);
  return xs;
}

} // namespace

TEST_CASE("pmap of vmap of an asynchronous body keeps to max_workers bodies in flight",
          "[budget][async][pmap][regression]") {
  InFlight counter;
  auto op = pmap(vmap(make_operator<TimedEcho>(counter)), 4);
  auto scope = execution_options({.max_workers = 2});
  auto out = op(Record{{"x", range(32)}});
  CHECK(out.get<List>("x") == range(32));
  CHECK(counter.peak >= 1);
  CHECK(counter.peak <= 2);
}

TEST_CASE("vmap of an asynchronous body keeps to max_workers bodies in flight",
          "[budget][async][vmap]") {
  InFlight counter;
  auto op = vmap(make_operator<TimedEcho>(counter));
  auto scope = execution_options({.max_workers = 3});
  auto out = op(Record{{"x", range(24)}});
  CHECK(out.get<List>("x") == range(24));
  CHECK(counter.peak <= 3);
}

TEST_CASE("a narrower max_workers in a body's scope narrows its nested call",
          "[budget][nesting][regression]") {
  // Each leaf waits (bounded) for a second one to run beside it, so a nested
  // batch allowed more than one body at once shows it surely.
  InFlight counter;
  auto leaf = function_operator("Leaf", [&](const Record& in) {
    counter.enter();
    eventually([&] { return counter.peak.load() >= 2; }, 50ms);
    counter.leave();
    return in;
  });
  auto outer = function_operator("NarrowsItsScope", [leaf](const Record& in) {
    auto narrow = execution_options({.max_workers = 1});
    return vmap(leaf)(in);
  });
  // One item: the nested batch is alone in a call that allows 8 bodies.
  auto scope = execution_options({.max_workers = 8});
  auto out = vmap(outer)(Record{{"x", List{Value{range(8)}}}});
  CHECK(out.get<List>("x") == List{Value{range(8)}});
  CHECK(counter.peak == 1);
}

TEST_CASE("a nested scope cannot widen the budget of its top-level call",
          "[budget][nesting]") {
  InFlight counter;
  auto leaf = function_operator("Leaf", [&](const Record& in) {
    counter.enter();
    eventually([&] { return counter.peak.load() >= 3; }, 50ms);
    counter.leave();
    return in;
  }, {}, OperatorKind::io);
  auto outer = function_operator("WidensItsScope", [leaf](const Record& in) {
    auto wide = execution_options({.max_workers = 16});
    return vmap(leaf)(in);
  });
  auto scope = execution_options({.max_workers = 2});
  vmap(outer)(Record{{"x", List{range(4), range(4)}}});
  CHECK(counter.peak <= 2);
}

TEST_CASE("max_workers above the io pool's size runs that many blocking bodies at once",
          "[budget][io][regression]") {
  // Every body waits until all have started: with the pool capped below the
  // batch size the first ones would wait out their patience and fail.
  constexpr int bodies = 100;
  shutdown_runtime();
  auto before = runtime_config();
  auto small_pool = before;
  small_pool.blocking_threads = 16;
  configure_runtime(small_pool);
  std::atomic<int> arrived{0};
  std::atomic<int> saw_all{0};
  auto op = function_operator("WaitsForAll", [&](const Record& in) {
    ++arrived;
    if (eventually([&] { return arrived.load() == bodies; }, 10s))
      ++saw_all;
    return in;
  }, {}, OperatorKind::io);
  auto scope = execution_options({.max_workers = bodies});
  vmap(op)(Record{{"x", range(bodies)}});
  CHECK(saw_all == bodies);
  shutdown_runtime();
  configure_runtime(before);
}
