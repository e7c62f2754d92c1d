// An operator actor runs a body it has seen to be a short leaf on its own
// scheduler thread; a body that then reaches a wait (a nested call) is
// refused there and runs on the pool instead, and a slow one goes back there.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/runtime/operator_actor.hpp"
#include "runtime/runtime_core.hpp"
#include "actor_request.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::request_from_actor;

namespace {

// What one request saw: its reply and whether the body ran on a scheduler thread.
struct Body {
  std::atomic<int> runs{0};
  std::atomic<bool> on_scheduler{false};
};

Record ask(const OperatorActor& actor, const Record& inputs) {
  auto reply = request_from_actor(actor, inputs);
  REQUIRE(reply.wait_for(5s) == std::future_status::ready);
  return reply.get();
}

// Requests until one request's body runs on the actor's scheduler thread
// (bounded: a loaded machine can make a trivial body look slow now and then).
bool learned_inline(const OperatorActor& actor, Body& body, const Record& inputs) {
  for (int request = 0; request < 500; ++request) {
    ask(actor, inputs);
    if (body.on_scheduler)
      return true;
  }
  return false;
}

} // namespace

TEST_CASE("an operator actor runs a short leaf body on its own thread once it learned it",
          "[actor][inline]") {
  Body body;
  auto op = function_operator("Leaf", [&](const Record& in) {
    ++body.runs;
    body.on_scheduler = xcs::detail::on_scheduler_thread();
    return Record{{"y", in.get<std::int64_t>("x") + 1}};
  });
  auto actor = spawn_operator(op);
  // The first requests run on the pool: nothing is known about the body yet.
  CHECK(ask(actor, Record{{"x", 1}}) == Record{{"y", 2}});
  CHECK_FALSE(body.on_scheduler);
  REQUIRE(learned_inline(actor, body, Record{{"x", 1}}));
  CHECK(ask(actor, Record{{"x", 41}}) == Record{{"y", 42}});
}

TEST_CASE("a learned leaf body that makes a nested call runs again on the pool",
          "[actor][inline][nested]") {
  // The nested call is caught and answered with a fallback by the body's own
  // catch-all: the refusal must still win, not the fallback.
  Body body;
  auto inner = function_operator("Inner", [](const Record& in) {
    return Record{{"y", in.get<std::int64_t>("x") * 10}};
  });
  auto op = function_operator("SometimesNested", [&](const Record& in) {
    ++body.runs;
    body.on_scheduler = xcs::detail::on_scheduler_thread();
    if (!in.get<bool>("nest"))
      return Record{{"y", std::int64_t{0}}};
    try {
      return inner(Record{{"x", in.get<std::int64_t>("x")}});
    } catch (...) {
      return Record{{"y", std::int64_t{-1}}};
    }
  });
  auto actor = spawn_operator(op);
  // A loaded machine can make the learning run look slow, which ends the
  // streak, and the nested request then starts on the pool: try again until
  // one nested request was started inline (it ran twice).
  bool refused_inline = false;
  for (int attempt = 0; attempt < 50 && !refused_inline; ++attempt) {
    REQUIRE(learned_inline(actor, body, Record{{"x", 0}, {"nest", false}}));
    auto runs_before = body.runs.load();
    CHECK(ask(actor, Record{{"x", 4}, {"nest", true}}) == Record{{"y", 40}});
    // Started inline, refused at the nested call, run again on the pool.
    refused_inline = body.runs.load() == runs_before + 2;
    CHECK_FALSE(body.on_scheduler);
  }
  REQUIRE(refused_inline);
  // The streak is over: the next request runs on the pool too.
  ask(actor, Record{{"x", 0}, {"nest", false}});
  CHECK_FALSE(body.on_scheduler);
}

TEST_CASE("a learned leaf body that turns slow goes back to the pool", "[actor][inline]") {
  Body body;
  auto op = function_operator("SometimesSlow", [&](const Record& in) {
    ++body.runs;
    body.on_scheduler = xcs::detail::on_scheduler_thread();
    if (in.get<bool>("slow"))
      std::this_thread::sleep_for(2ms);
    return in;
  });
  auto actor = spawn_operator(op);
  REQUIRE(learned_inline(actor, body, Record{{"slow", false}}));
  ask(actor, Record{{"slow", true}});
  ask(actor, Record{{"slow", false}});
  CHECK_FALSE(body.on_scheduler);
}

TEST_CASE("a learned leaf body's failure is the request's error", "[actor][inline][failures]") {
  Body body;
  auto op = function_operator("FailsOnRequest", [&](const Record& in) {
    body.on_scheduler = xcs::detail::on_scheduler_thread();
    if (in.get<bool>("fail"))
      throw std::runtime_error("asked to fail");
    return in;
  });
  auto actor = spawn_operator(op);
  // Until a failing request ran inline (a loaded machine can end the streak
  // first); the error is the same wherever it ran.
  bool failed_inline = false;
  for (int attempt = 0; attempt < 50 && !failed_inline; ++attempt) {
    REQUIRE(learned_inline(actor, body, Record{{"fail", false}}));
    auto reply = request_from_actor(actor, Record{{"fail", true}});
    REQUIRE(reply.wait_for(5s) == std::future_status::ready);
    CHECK_THROWS_WITH(reply.get(),
                      Catch::Contains("FailsOnRequest") && Catch::Contains("asked to fail"));
    failed_inline = body.on_scheduler;
  }
  CHECK(failed_inline);
}
