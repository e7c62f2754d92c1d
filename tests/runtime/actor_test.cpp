#include <catch2/catch.hpp>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <future>
#include <latch>
#include <limits>
#include <vector>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/runtime/operator_actor.hpp"
#include "ember/xcs/runtime/runtime.hpp"
#include "runtime/runtime_core.hpp"
#include "support.hpp"
#include "actor_request.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::request_from_actor;
using ember::testing::Gate;

namespace {

Record get_within(std::future<Record>& future, std::chrono::milliseconds limit = 5000ms) {
  REQUIRE(future.wait_for(limit) == std::future_status::ready);
  return future.get();
}

} // namespace

TEST_CASE("a CAF actor requests an operator and gets the output record", "[actor]") {
  auto op = function_operator("Upper", [](const Record& in) {
    auto text = in.get<std::string>("text");
    for (auto& c : text)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return Record{{"text", text}};
  });
  auto future = request_from_actor(spawn_operator(op), Record{{"text", "hello"}});
  CHECK(get_within(future).get<std::string>("text") == "HELLO");
}

TEST_CASE("actor bodies run off the scheduler threads", "[actor][threads]") {
  std::atomic<bool> on_scheduler{true};
  auto op = function_operator("Where", [&](const Record& in) {
    on_scheduler = ember::xcs::detail::on_scheduler_thread();
    return in;
  });
  auto future = request_from_actor(spawn_operator(op), Record{});
  get_within(future);
  CHECK_FALSE(on_scheduler);
}

TEST_CASE("blocking bodies requested through actors overlap", "[actor][threads]") {
  // Each body waits until all eight have started: they can only finish if the
  // runtime runs them concurrently, whatever the scheduler thread count.
  constexpr int bodies = 8;
  std::latch all_started{bodies};
  auto op = function_operator("Rendezvous", [&](const Record& in) {
    all_started.arrive_and_wait();
    return in;
  }, {}, OperatorKind::io);
  auto actor = spawn_operator(op);
  std::vector<std::future<Record>> replies;
  for (int i = 0; i < bodies; ++i)
    replies.push_back(request_from_actor(actor, Record{{"i", i}}));
  for (int i = 0; i < bodies; ++i)
    CHECK(get_within(replies[static_cast<std::size_t>(i)]).get<std::int64_t>("i") == i);
}

TEST_CASE("an envelope carries the call site's options into the body", "[actor][options]") {
  ExecutionOptions seen;
  auto op = function_operator("Probe", [&](const Record& in) {
    seen = get_execution_options();
    return in;
  });
  Envelope envelope;
  {
    auto scope = execution_options({.max_workers = 7, .enable_caching = true});
    envelope = make_envelope();
  }
  auto future = request_from_actor(spawn_operator(op), Record{}, envelope);
  get_within(future);
  CHECK(seen.max_workers == 7);
  CHECK(seen.enable_caching);
}

TEST_CASE("an envelope crosses the wire with its options and its deadline as time remaining",
          "[actor][options][wire]") {
  using Clock = this_call::Clock;
  Envelope sent;
  {
    auto scope = execution_options({.max_workers = 3, .timeout_seconds = 30, .fail_fast = false});
    sent = make_envelope();
  }
  REQUIRE(sent.deadline);
  // The wire holds the remaining time, not this host's clock reading: it is
  // at most the 30 s the scope gave, and positive.
  auto fields = ember::xcs::detail::to_fields(sent);
  CHECK(fields.remaining_ns > 0);
  CHECK(fields.remaining_ns <= std::chrono::nanoseconds{30s}.count());

  std::vector<char> buffer;
  caf::binary_serializer sink{nullptr, buffer};
  REQUIRE_FALSE(sink(sent));
  Envelope received;
  auto before = Clock::now();
  caf::binary_deserializer source{nullptr, buffer};
  REQUIRE_FALSE(source(received));
  auto after = Clock::now();
  REQUIRE(received.options);
  CHECK(received.options->max_workers == 3);
  CHECK_FALSE(received.options->fail_fast);
  REQUIRE(received.deadline);
  // Read back against the reader's clock: the remaining time counted from
  // the moment of reading (the sink wrote a moment after `fields`, so less).
  auto remaining = std::chrono::nanoseconds{fields.remaining_ns};
  CHECK(*received.deadline <= after + remaining);
  CHECK(*received.deadline >= before);

  // A deadline already passed travels as zero time left, never a negative one.
  Envelope late{sent.options, Clock::now() - 1s};
  CHECK(ember::xcs::detail::to_fields(late).remaining_ns == 0);
  // A remaining time past the clock's range saturates instead of wrapping.
  ember::xcs::detail::EnvelopeFields far;
  far.remaining_ns = std::numeric_limits<std::int64_t>::max();
  CHECK(ember::xcs::detail::from_fields(far).deadline == Clock::time_point::max());
}

TEST_CASE("an actor request past its deadline gets a timeout error", "[actor][timeout]") {
  auto gate = std::make_shared<Gate>(); // shared: an abandoned body may outlive the test
  auto op = function_operator("Stuck", [&, gate](const Record& in) {
    gate->wait();
    return in;
  });
  Envelope envelope;
  {
    auto scope = execution_options({.timeout_seconds = 0.05});
    envelope = make_envelope();
  }
  auto future = request_from_actor(spawn_operator(op), Record{}, envelope);
  REQUIRE(future.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_AS(future.get(), TimeoutError);
  gate->open();
}

TEST_CASE("actor requests in flight at shutdown get an unavailable error whether running or queued",
          "[actor][shutdown]") {
  // Regression: CAF 0.17 sends nothing for a dropped response promise, so a
  // request whose body was queued when the pool stopped, or still running
  // after the grace period, never got a reply.
  shutdown_runtime();
  configure_runtime(RuntimeConfig{.blocking_threads = 1, .shutdown_grace = 100ms});
  auto gate = std::make_shared<Gate>(); // shared: the abandoned body outlives the shutdown
  auto started = std::make_shared<std::atomic<int>>(0);
  auto op = function_operator("Held", [gate, started](const Record& in) {
    ++*started;
    gate->wait(30000ms);
    return in;
  }, {}, OperatorKind::io);
  auto actor = spawn_operator(op);
  auto running = request_from_actor(actor, Record{{"n", 1}});
  REQUIRE(ember::testing::eventually([&] { return started->load() == 1; }));
  auto queued = request_from_actor(actor, Record{{"n", 2}});
  // The actor handles its mailbox in order: once this request's timer has
  // answered, the request before it is in the pool's queue behind the body.
  Envelope barrier;
  {
    auto scope = execution_options({.timeout_seconds = 0.001});
    barrier = make_envelope();
  }
  auto timed = request_from_actor(actor, Record{{"n", 3}}, barrier);
  REQUIRE(timed.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_AS(timed.get(), TimeoutError);
  CHECK_FALSE(shutdown_runtime()); // the running body is abandoned after 100 ms
  REQUIRE(running.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_MATCHES(running.get(), RuntimeUnavailableError,
                       Catch::Message("operator 'Held' did not finish: its actor ended "
                                      "(runtime shutdown) first"));
  REQUIRE(queued.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_MATCHES(queued.get(), RuntimeUnavailableError,
                       Catch::Message("operator 'Held' was not started: the runtime shut down "
                                      "first"));
  CHECK(started->load() == 1); // the queued body never ran
  gate->open();
  configure_runtime(RuntimeConfig{});
}

TEST_CASE("a body's exception reaches the requester as an execution error", "[actor][errors]") {
  auto op = function_operator("Thrower", [](const Record&) -> Record {
    throw std::runtime_error("boom");
  });
  auto future = request_from_actor(spawn_operator(op), Record{});
  REQUIRE(future.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_WITH(future.get(), "operator 'Thrower' failed: boom");
}

TEST_CASE("a synchronous call on a scheduler thread is refused", "[actor][threads]") {
  auto op = function_operator("Blocking", [](const Record& in) { return in; });
  auto promise = std::make_shared<std::promise<std::string>>();
  auto future = promise->get_future();
  actor_system().spawn([=](caf::event_based_actor*) {
    try {
      op(Record{});
      promise->set_value("not refused");
    } catch (const std::logic_error& e) {
      promise->set_value(e.what());
    }
  });
  REQUIRE(future.wait_for(5s) == std::future_status::ready);
  CHECK_THAT(future.get(), Catch::Contains("called synchronously on a CAF scheduler thread"));
}
