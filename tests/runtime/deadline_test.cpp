// A deadline cuts every path even when no body polls: each body here blocks
// on a gate only the test opens, so the caller's TimeoutError arriving while
// the body still runs is an order of events, not a measured time.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/graph/graph.hpp"
#include "ember/xcs/runtime/operator_actor.hpp"
#include "ember/xcs/tracer/structural_jit.hpp"
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/transforms/vmap.hpp"
#include "actor_request.hpp"
#include "stubborn.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::eventually;
using ember::testing::Stubborn;

namespace {

// Calls `call` under a 0.1 s timeout and checks that it threw TimeoutError
// while the stubborn bodies were still blocked.
template <class Call>
void check_cut(Stubborn& stubborn, Call&& call) {
  {
    auto scope = execution_options({.timeout_seconds = 0.1});
    CHECK_THROWS_AS(call(), TimeoutError);
  }
  CHECK(stubborn.ended == 0);
  CHECK(stubborn.release());
}

} // namespace

TEST_CASE("a deadline cuts a plain call whose body never polls", "[deadline][facade]") {
  Stubborn stubborn;
  auto op = stubborn.op();
  check_cut(stubborn, [&] { return op(Record{{"x", 1}}); });
}

TEST_CASE("a deadline cuts vmap and pmap of vmap whose bodies never poll",
          "[deadline][transforms]") {
  for (auto kind : {OperatorKind::cpu, OperatorKind::io}) {
    Stubborn stubborn;
    auto leaf = stubborn.op("NeverPolls", kind);
    check_cut(stubborn, [&] { return vmap(leaf)(Record{{"x", List{1, 2, 3, 4}}}); });
    Stubborn sharded;
    auto sharded_leaf = sharded.op("NeverPolls", kind);
    check_cut(sharded, [&] { return pmap(vmap(sharded_leaf), 2)(Record{{"x", List{1, 2, 3, 4}}}); });
  }
}

TEST_CASE("a deadline cuts a jitted call whose sub-calls never poll", "[deadline][jit]") {
  Stubborn stubborn;
  auto member = stubborn.op("NeverPolls", OperatorKind::io);
  auto composite = function_operator("Pair", [member](const Record& in) {
    auto a = member(in);
    auto b = member(in);
    return Record{{"a", a.at("x")}, {"b", b.at("x")}};
  });
  auto jitted = structural_jit(composite);
  check_cut(stubborn, [&] { return jitted(Record{{"x", 1}}); });
}

TEST_CASE("a deadline cuts vmap of graph runs whose nodes never poll", "[deadline][graph][nesting]") {
  Stubborn stubborn;
  Graph graph;
  graph.add_node("stuck", stubborn.op());
  auto runs_graph = function_operator("RunsGraph", [graph](const Record& in) {
    return graph.run(in).at("stuck");
  });
  check_cut(stubborn, [&] { return vmap(runs_graph)(Record{{"x", List{1, 2}}}); });
}

TEST_CASE("a deadline cuts an operator actor request whose body never polls",
          "[deadline][actor]") {
  Stubborn stubborn;
  auto actor = spawn_operator(stubborn.op("NeverPolls", OperatorKind::io));
  std::future<Record> reply;
  {
    auto scope = execution_options({.timeout_seconds = 0.1});
    reply = ember::testing::request_from_actor(actor, Record{{"x", 1}}, make_envelope());
  }
  REQUIRE(reply.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_AS(reply.get(), TimeoutError);
  CHECK(stubborn.ended == 0);
  CHECK(stubborn.release());
}
