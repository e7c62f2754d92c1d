#include <catch2/catch.hpp>

#include <atomic>

#include "../runtime/support.hpp"
#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/engine/result_cache.hpp"
#include "ember/xcs/runtime/this_call.hpp"
#include "ember/xcs/tracer/execution_trace.hpp"
#include "ember/xcs/tracer/structural_jit.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::eventually;

TEST_CASE("sub-operator spans nest under the jitted composite's span", "[jit][trace]") {
  execution_trace().clear();
  auto a = function_operator("PartA", [](const Record& in) { return in; });
  auto b = function_operator("PartB", [](const Record& in) { return in; });
  auto composite = function_operator("Whole", [a, b](const Record& in) {
    auto first = a(in);
    return b(first);
  });
  {
    auto scope = execution_options({.trace_execution = true});
    structural_jit(composite)(Record{{"x", 1}});
  }
  auto spans = execution_trace().spans();
  auto whole = std::find_if(spans.begin(), spans.end(),
                            [](const TraceSpan& s) { return s.operator_name == "Whole"; });
  REQUIRE(whole != spans.end());
  int parts = 0;
  for (const auto& span : spans)
    if (span.operator_name == "PartA" || span.operator_name == "PartB") {
      ++parts;
      CHECK(span.parent == whole->id);
      CHECK(span.transform == "structural_jit");
    }
  CHECK(parts == 2);
}

TEST_CASE("caching applies to each sub-operator call of a jitted composite", "[jit][cache]") {
  result_cache().clear();
  std::atomic<int> expensive_runs{0};
  auto expensive = function_operator("Expensive", [&](const Record& in) {
    ++expensive_runs;
    return in.with("embedded", true);
  });
  auto cheap = function_operator("Cheap", [](const Record& in) { return in.with("n", 1); });
  auto composite = function_operator("Pipeline", [expensive, cheap](const Record& in) {
    return cheap(expensive(in));
  });
  auto jitted = structural_jit(composite);
  auto scope = execution_options({.enable_caching = true});
  jitted(Record{{"text", "same"}});
  jitted(Record{{"text", "same"}});
  jitted(Record{{"text", "other"}});
  CHECK(expensive_runs == 2);
}

TEST_CASE("a deadline reaches the sub-operators of a jitted composite", "[jit][timeout]") {
  auto saw_stop = std::make_shared<std::atomic<int>>(0);
  auto slow = function_operator("SlowPart", [saw_stop](const Record& in) {
    eventually([] { return this_call::stop_requested(); }, 3000ms);
    if (this_call::stop_requested())
      ++*saw_stop;
    return in;
  }, {}, OperatorKind::io);
  auto composite = function_operator("Slow", [slow](const Record& in) {
    auto first = slow(in);
    auto second = slow(in.with("y", 2));
    return second.with("first", first);
  }, {}, OperatorKind::io);
  auto scope = execution_options({.timeout_seconds = 0.1});
  auto begin = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(structural_jit(composite)(Record{{"x", 1}}), TimeoutError);
  CHECK(std::chrono::steady_clock::now() - begin < 1s); // bodies would run 3 s: early, not precise
  CHECK(eventually([&] { return *saw_stop >= 1; }));
}
