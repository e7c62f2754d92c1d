// Asynchronous bodies are cached and traced like the others, on every path
// that starts them without a waiting thread: vmap, pmap and operator actors.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <vector>

#include "../runtime/actor_request.hpp"
#include "../runtime/support.hpp"
#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "ember/xcs/engine/execution_context.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/engine/result_cache.hpp"
#include "ember/xcs/runtime/operator_actor.hpp"
#include "ember/xcs/tracer/execution_trace.hpp"
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/transforms/vmap.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::eventually;
using ember::testing::request_from_actor;

namespace {

// Counts its starts and keeps every Completion until the test ends it.
class Held final : public AsyncOperator {
public:
  explicit Held(Specification spec = {})
      : AsyncOperator("Held", std::move(spec), OperatorKind::io) {}

  void start(const Record& inputs, Completion done) const override {
    std::lock_guard lock{mutex_};
    ++starts;
    held_.emplace_back(inputs, std::move(done));
  }

  std::size_t held() const {
    std::lock_guard lock{mutex_};
    return held_.size();
  }

  /// True when every body held now has seen its call stopped.
  bool all_stopped() const {
    std::lock_guard lock{mutex_};
    for (const auto& held : held_)
      if (!held.second.stop_requested())
        return false;
    return true;
  }

  /// Ends every body held now with {"y": 2x}, or with `outputs` when given.
  void complete_all(std::optional<Record> outputs = std::nullopt) const {
    std::vector<std::pair<Record, Completion>> held;
    {
      std::lock_guard lock{mutex_};
      held.swap(held_);
    }
    for (auto& [inputs, done] : held)
      done.succeed(outputs ? *outputs : Record{{"y", inputs.get<std::int64_t>("x") * 2}});
  }

  mutable std::atomic<int> starts{0};

private:
  mutable std::mutex mutex_;
  mutable std::vector<std::pair<Record, Completion>> held_;
};

List list_of(std::initializer_list<std::int64_t> xs) {
  List out;
  for (auto x : xs)
    out.emplace_back(x);
  return out;
}

// Runs `call` on another thread under the options in force here (a scope
// belongs to its thread).
template <class Call>
auto run_async(Call call) {
  return std::async(std::launch::async, [options = current_execution_snapshot(), call] {
    ExecutionContextGuard scope{options};
    return call();
  });
}

// Runs `call` as run_async does, completing the held bodies as they arrive.
template <class Call>
auto run_completing(const Held& op, Call call) {
  auto result = run_async(call);
  while (result.wait_for(1ms) != std::future_status::ready)
    op.complete_all();
  return result.get();
}

} // namespace

TEST_CASE("identical asynchronous items in flight share one body and a rerun starts none",
          "[async][cache][vmap]") {
  result_cache().clear();
  auto op = std::make_shared<Held>();
  const Record input{{"x", list_of({7, 7, 7, 3, 7})}};
  std::future<Record> first;
  {
    auto scope = execution_options({.max_workers = 8, .enable_caching = true});
    first = run_async([&] { return vmap(OperatorRef{op})(input); });
  }
  // Every item has started (through the cache) before any body ends: the
  // four 7s joined one flight.
  REQUIRE(eventually([&] { return op->held() == 2; }));
  op->complete_all();
  REQUIRE(first.wait_for(5s) == std::future_status::ready);
  const Record expected{{"y", list_of({14, 14, 14, 6, 14})}};
  CHECK(first.get() == expected);
  CHECK(op->starts == 2);

  auto scope = execution_options({.enable_caching = true});
  CHECK(vmap(OperatorRef{op})(input) == expected);
  CHECK(pmap(vmap(OperatorRef{op}), 2)(input) == expected);
  CHECK(op->starts == 2);
}

TEST_CASE("an asynchronous batch and a plain call share one cache entry", "[async][cache]") {
  result_cache().clear();
  auto op = std::make_shared<Held>();
  auto scope = execution_options({.enable_caching = true});
  auto plain = run_completing(*op, [&] { return OperatorRef{op}(Record{{"x", 5}}); });
  CHECK(plain == Record{{"y", 10}});
  CHECK(vmap(OperatorRef{op})(Record{{"x", list_of({5, 5})}}) ==
        Record{{"y", list_of({10, 10})}});
  CHECK(op->starts == 1);
}

TEST_CASE("an asynchronous result reported after its batch was cut is not cached",
          "[async][cache][timeout]") {
  result_cache().clear();
  auto op = std::make_shared<Held>();
  {
    auto scope = execution_options({.enable_caching = true, .timeout_seconds = 0.5});
    CHECK_THROWS_AS(vmap(OperatorRef{op})(Record{{"x", list_of({1})}}), TimeoutError);
  }
  // Once stopped, the body reports a value it may have cut short: it must
  // not be kept. (Under a slow sanitizer the deadline may pass before the
  // body starts; then nothing is held and the rerun must start one.)
  REQUIRE(eventually([&] { return op->all_stopped(); }));
  const int started_in_cut = op->starts;
  op->complete_all(Record{{"y", -1}});
  auto scope = execution_options({.enable_caching = true});
  auto out = run_completing(*op, [&] { return vmap(OperatorRef{op})(Record{{"x", list_of({1})}}); });
  CHECK(out == Record{{"y", list_of({2})}});
  CHECK(op->starts == started_in_cut + 1);
}

TEST_CASE("asynchronous outputs that break the specification are refused and not cached",
          "[async][cache][validation]") {
  result_cache().clear();
  auto op = std::make_shared<Held>(
      Specification{{}, {Field::required_field("y", FieldType::integer)}});
  auto scope = execution_options({.enable_caching = true});
  auto call = [&] {
    return run_completing(*op, [&] { return vmap(OperatorRef{op})(Record{{"x", list_of({1})}}); });
  };
  auto bad = run_async([&] { return vmap(OperatorRef{op})(Record{{"x", list_of({1})}}); });
  REQUIRE(eventually([&] { return op->held() == 1; }));
  op->complete_all(Record{{"y", "not an integer"}});
  REQUIRE(bad.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_WITH(bad.get(), Catch::Contains("output field 'y'"));
  CHECK(call() == Record{{"y", list_of({2})}});
  CHECK(op->starts == 2);
}

TEST_CASE("the actor of an asynchronous operator caches and traces its bodies",
          "[async][cache][trace][actor]") {
  result_cache().clear();
  execution_trace().clear();
  auto op = std::make_shared<Held>();
  auto actor = spawn_operator(OperatorRef{op});
  Envelope envelope;
  {
    auto scope = execution_options({.enable_caching = true, .trace_execution = true});
    envelope = make_envelope();
  }
  auto first = request_from_actor(actor, Record{{"x", 4}}, envelope);
  auto second = request_from_actor(actor, Record{{"x", 4}}, envelope);
  REQUIRE(eventually([&] { return op->held() == 1; }));
  op->complete_all();
  REQUIRE(first.wait_for(5s) == std::future_status::ready);
  REQUIRE(second.wait_for(5s) == std::future_status::ready);
  CHECK(first.get() == Record{{"y", 8}});
  CHECK(second.get() == Record{{"y", 8}});
  CHECK(op->starts == 1);
  auto spans = execution_trace().spans();
  REQUIRE(spans.size() == 1);
  CHECK(spans[0].operator_name == "Held");
  CHECK_FALSE(spans[0].failed);
}

TEST_CASE("asynchronous vmap items are traced under the transform's span", "[async][trace][vmap]") {
  execution_trace().clear();
  auto op = std::make_shared<Held>();
  {
    auto scope = execution_options({.trace_execution = true});
    run_completing(*op, [&] { return vmap(OperatorRef{op})(Record{{"x", list_of({1, 2, 3})}}); });
  }
  auto spans = execution_trace().spans();
  std::uint64_t top = 0;
  for (const auto& span : spans)
    if (span.operator_name == "vmap(Held)")
      top = span.id;
  REQUIRE(top != 0);
  std::set<std::int64_t> items;
  for (const auto& span : spans)
    if (span.operator_name == "Held") {
      CHECK(span.parent == top);
      CHECK(span.transform == "vmap");
      items.insert(span.item);
    }
  CHECK(items == std::set<std::int64_t>{0, 1, 2});
}
