// A graph node or a jit sub-call that joined an identical cached body in
// flight, which another call's deadline then cut short, starts its own body
// instead of failing with the other call's cancellation.
#include <catch2/catch.hpp>

#include <future>

#include "../runtime/parked.hpp"
#include "../runtime/support.hpp"
#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_context.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/engine/result_cache.hpp"
#include "ember/xcs/graph/graph.hpp"
#include "ember/xcs/tracer/structural_jit.hpp"
#include "ember/xcs/transforms/vmap.hpp"

using namespace ember;
using namespace ember::xcs;
using ember::testing::CompleteOnExit;
using ember::testing::complete_until_ready;
using ember::testing::eventually;
using ember::testing::Parked;

namespace {

// Starts a body for {x: 1} under a deadline that cuts it (1 s: under a
// sanitizer both calls must reach the body before it), has `joiner` (run
// with caching and no deadline) join that body while it is parked, lets the
// deadline pass, then completes the cut body: the joiner must start a body
// of its own and return that body's result.
template <class Joiner>
void check_joiner_restarts(const std::shared_ptr<const Parked>& op, Joiner joiner) {
  result_cache().clear();
  result_cache().reset_stats();
  auto cut = std::async(std::launch::async, [op] {
    auto scope = execution_options({.enable_caching = true, .timeout_seconds = 1.0});
    return vmap(OperatorRef{op})(Record{{"x", List{1}}});
  });
  REQUIRE(eventually([&] { return op->started.load() == 1; }));
  auto joined = std::async(std::launch::async, [joiner] {
    auto scope = execution_options({.enable_caching = true});
    return joiner();
  });
  CompleteOnExit<Record> complete{*op, joined};
  REQUIRE(eventually([&] { return result_cache().stats().hits == 1; }));
  CHECK_THROWS_AS(cut.get(), TimeoutError);
  // The cut body reports after its stop: its result is not the joiner's.
  REQUIRE(complete_until_ready(*op, joined));
  CHECK(joined.get() == Record{{"y", 2}});
  CHECK(op->started == 2);
}

} // namespace

TEST_CASE("a graph node that joined a cached body cut by another call's deadline runs its own",
          "[cache][graph]") {
  auto op = std::make_shared<const Parked>();
  Graph graph;
  graph.add_node("double", OperatorRef{op});
  check_joiner_restarts(op, [graph] { return graph.run(Record{{"x", 1}}).outputs.at("double"); });
}

TEST_CASE("a jit sub-call that joined a cached body cut by another call's deadline runs its own",
          "[cache][jit]") {
  auto op = std::make_shared<const Parked>();
  auto jitted = structural_jit(function_operator(
      "Wrapper", [member = OperatorRef{op}](const Record& inputs) { return member(inputs); }, {},
      OperatorKind::io));
  check_joiner_restarts(op, [jitted] { return jitted(Record{{"x", 1}}); });
}
