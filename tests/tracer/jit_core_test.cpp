// structural_jit on the one core: each sub-call is placed by its own
// operator's kind, and a failure the glue code handles stays handled.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <stdexcept>

#include "../runtime/parked.hpp"
#include "../runtime/pool_threads.hpp"
#include "../runtime/support.hpp"
#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_context.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/tracer/structural_jit.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::busy_pool_threads;
using ember::testing::eventually;
using ember::testing::Parked;

namespace {

OperatorRef failing(const std::string& name) {
  return function_operator(name, [name](const Record&) -> Record {
    throw std::runtime_error(name + " is down");
  });
}

OperatorRef doubler() {
  return function_operator("Doubler", [](const Record& in) {
    return Record{{"n", in.get<std::int64_t>("n") * 2}};
  });
}

} // namespace

TEST_CASE("the guide's ensemble of io members in a default-kind composite runs every member at once",
          "[jit][placement][regression]") {
  // Each member waits (bounded) until all have started: members held to the
  // composite's cpu budget (two on two cores) could never all meet.
  constexpr int members = 8;
  std::atomic<int> arrived{0};
  std::atomic<int> met{0};
  std::vector<OperatorRef> ensemble;
  for (int i = 0; i < members; ++i)
    ensemble.push_back(function_operator("Member" + std::to_string(i), [&, i](const Record&) {
      ++arrived;
      if (eventually([&] { return arrived.load() >= members; }, 5s))
        ++met;
      return Record{{"answer", i}};
    }, {}, OperatorKind::io));
  auto composite = function_operator("Ensemble", [ensemble](const Record& in) {
    List answers;
    std::vector<Record> pending;
    for (const auto& member : ensemble)
      pending.push_back(member(in));
    for (const auto& reply : pending)
      answers.push_back(reply.at("answer"));
    return Record{{"answers", answers}};
  });
  auto jitted = structural_jit(composite);
  auto out = jitted(Record{{"q", "?"}});
  CHECK(out.get<List>("answers").size() == members);
  CHECK(met == members);
}

TEST_CASE("a member failure the glue code catches does not fail the jitted call",
          "[jit][exact][failure][regression]") {
  auto member = failing("Flaky");
  auto composite = function_operator("WithFallback", [member](const Record& in) {
    try {
      auto reply = member(in);
      return Record{{"answer", reply.at("answer")}};
    } catch (const std::exception& e) {
      return Record{{"answer", std::string{"fallback: "} + e.what()}};
    }
  });
  Record inputs{{"q", "?"}};
  auto plain = composite(inputs);
  CHECK(plain == Record{{"answer", "fallback: Flaky is down"}});
  for (const auto* strategy : {"auto", "parallel"}) {
    INFO(strategy);
    auto jitted = structural_jit(composite, strategy);
    CHECK(jitted(inputs) == plain);
    CHECK(jitted(inputs) == plain); // the cached plan's path too
  }
}

TEST_CASE("a failure caught through the call that took the failed result stays caught",
          "[jit][exact][failure]") {
  auto source = failing("Source");
  auto next = doubler();
  auto composite = function_operator("CatchesDownstream", [source, next](const Record& in) {
    try {
      auto first = source(in);
      auto second = next(first); // takes the failed result: fails with its error
      return Record{{"n", second.at("n")}};
    } catch (const std::runtime_error&) {
      return Record{{"n", -1}};
    }
  });
  Record inputs{{"n", 3}};
  CHECK(composite(inputs) == Record{{"n", -1}});
  CHECK(structural_jit(composite)(inputs) == Record{{"n", -1}});
}

TEST_CASE("a failure the glue never reads still fails the jitted call like the plain one",
          "[jit][exact][failure]") {
  auto member = failing("Unread");
  auto ok = doubler();
  auto composite = function_operator("IgnoresAFailure", [member, ok](const Record& in) {
    member(in); // the plain call throws here; the jitted one at the end
    return ok(in);
  });
  Record inputs{{"n", 3}};
  CHECK_THROWS_WITH(composite(inputs), "Unread is down");
  CHECK_THROWS_WITH(structural_jit(composite)(inputs), "Unread is down");
}

TEST_CASE("auto keeps cheap composites exact call after call", "[jit][auto][exact]") {
  auto a = doubler();
  auto b = doubler();
  auto composite = function_operator("CheapPair", [a, b](const Record& in) {
    auto left = a(in);
    auto right = b(in);
    return Record{{"sum", left.get<std::int64_t>("n") + right.get<std::int64_t>("n")}};
  });
  auto jitted = structural_jit(composite, "auto");
  for (std::int64_t n = 0; n < 50; ++n) {
    Record inputs{{"n", n}};
    REQUIRE(jitted(inputs) == composite(inputs));
  }
  CHECK(jit_stats(jitted).calls == 50);
  CHECK(jit_stats(jitted).compilations == 1);
}

TEST_CASE("a jitted composite's asynchronous sub-calls hold no thread while they wait",
          "[jit][async][threads][regression]") {
  constexpr int members = 16;
  auto member = std::make_shared<Parked>();
  auto composite = function_operator("AsyncEnsemble", [member](const Record& in) {
    std::vector<Record> pending;
    for (int i = 0; i < members; ++i)
      pending.push_back(OperatorRef{member}(Record{{"x", in.get<std::int64_t>("x") + i}}));
    std::int64_t sum = 0;
    for (const auto& reply : pending)
      sum += reply.get<std::int64_t>("y");
    return Record{{"sum", sum}};
  });
  auto jitted = structural_jit(composite);
  auto scope = execution_options({.max_workers = 64});
  for (int round = 0; round < 2; ++round) { // the first call records the plan, the second follows it
    auto result = std::async(std::launch::async, [&, options = current_execution_snapshot()] {
      ExecutionContextGuard guard{options};
      return jitted(Record{{"x", 0}});
    });
    ember::testing::CompleteOnExit guard{*member, result};
    REQUIRE(eventually([&] { return member->parked() == members; }));
    // Every member is in flight; no helper sits on a pool thread waiting.
    CHECK(eventually([] { return busy_pool_threads() == 0; }));
    member->complete_all();
    REQUIRE(result.wait_for(5s) == std::future_status::ready);
    CHECK(result.get() == Record{{"sum", 2 * (members * (members - 1) / 2)}});
  }
}

TEST_CASE("max_workers bounds a jitted composite's asynchronous sub-calls in flight",
          "[jit][async][max_workers]") {
  constexpr int members = 12;
  auto member = std::make_shared<Parked>();
  auto composite = function_operator("AsyncEnsemble", [member](const Record& in) {
    std::vector<Record> pending;
    for (int i = 0; i < members; ++i)
      pending.push_back(OperatorRef{member}(in));
    List ys;
    for (const auto& reply : pending)
      ys.push_back(reply.at("y"));
    return Record{{"ys", ys}};
  });
  auto jitted = structural_jit(composite);
  auto scope = execution_options({.max_workers = 3});
  auto result = std::async(std::launch::async, [&, options = current_execution_snapshot()] {
    ExecutionContextGuard guard{options};
    return jitted(Record{{"x", 5}});
  });
  CHECK(ember::testing::complete_until_ready(*member, result));
  CHECK(result.get().get<List>("ys").size() == members);
  CHECK(member->peak() <= 3);
}
