// Bad input to the runtime: never-returning bodies behind the facade and the
// actor request API, bodies throwing non-standard exceptions, and runtime
// settings out of range.
#include <catch2/catch.hpp>

#include <future>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/core/registry/operator/base/typed_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/runtime/operator_actor.hpp"
#include "ember/xcs/runtime/runtime.hpp"
#include "support.hpp"
#include "../runtime/actor_request.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::request_from_actor;
using ember::testing::endless;
using ember::testing::EndlessCounts;
using ember::testing::expect_timeout;

namespace {

Envelope envelope_with(const ExecutionOptionsUpdate& update) {
  auto scope = execution_options(update);
  return make_envelope();
}

struct Text {
  std::string text;
};
BOOST_DESCRIBE_STRUCT(Text, (), (text))

class EndlessTyped final : public TypedOperator<Text, Text> {
public:
  explicit EndlessTyped(std::shared_ptr<EndlessCounts> counts)
      : TypedOperator("EndlessTyped"), counts_(std::move(counts)) {}

protected:
  Text run(const Text& in) const override {
    ember::testing::wait_for_stop(*counts_);
    return in;
  }

private:
  std::shared_ptr<EndlessCounts> counts_;
};

} // namespace

TEST_CASE("a never-returning body behind the facade times out and is stopped",
          "[bad_input][runtime][timeout]") {
  auto counts = std::make_shared<EndlessCounts>();
  auto op = endless("Endless", counts);
  auto typed = make_operator<EndlessTyped>(counts);
  auto scope = execution_options({.timeout_seconds = 0.3});
  CHECK(expect_timeout([&] { op(Record{}); }) ==
        "operator 'Endless' timed out: the deadline of timeout_seconds=0.3 passed before it "
        "finished");
  CHECK_THAT(expect_timeout([&] { call<Text>(typed, Text{"x"}); }),
             Catch::StartsWith("operator 'EndlessTyped' timed out"));
  REQUIRE(counts->all_ended());
  // Whether a body started before its deadline is up to the pool (one that
  // did not never starts); every one that did was stopped.
  CHECK(counts->started <= 2);
  CHECK(counts->stopped == counts->started);
}

TEST_CASE("a never-returning body requested through an actor times out and is stopped",
          "[bad_input][runtime][actor][timeout]") {
  auto counts = std::make_shared<EndlessCounts>();
  auto actor = spawn_operator(endless("Endless", counts));
  const auto begin = std::chrono::steady_clock::now();
  auto reply = request_from_actor(actor, Record{}, envelope_with({.timeout_seconds = 0.3}));
  REQUIRE(reply.wait_for(5s) == std::future_status::ready);
  CHECK(std::chrono::steady_clock::now() - begin < 5s);
  CHECK_THROWS_MATCHES(reply.get(), TimeoutError,
                       Catch::Message("operator 'Endless' timed out: the deadline of "
                                      "timeout_seconds=0.3 passed before it finished"));
  REQUIRE(counts->all_ended());
  CHECK(counts->started <= 1);
  CHECK(counts->stopped == counts->started);
}

TEST_CASE("an actor body throwing a non-standard exception is an execution error naming it",
          "[bad_input][runtime][actor][non_std]") {
  auto op = function_operator("ThrowsInt", [](const Record&) -> Record { throw 42; });
  auto reply = request_from_actor(spawn_operator(op), Record{});
  REQUIRE(reply.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_MATCHES(reply.get(), ExecutionError,
                       Catch::Message("operator 'ThrowsInt' failed with a non-standard "
                                      "exception"));
}

TEST_CASE("an actor request with wrong input types gets a validation error",
          "[bad_input][runtime][actor]") {
  auto op = function_operator(
      "Typed", [](const Record& in) { return in; },
      Specification{{Field::required_field("text", FieldType::string)}, {}});
  auto reply = request_from_actor(spawn_operator(op), Record{{"text", List{}}});
  REQUIRE(reply.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_MATCHES(reply.get(), ExecutionError,
                       Catch::Message("operator 'Typed': input field 'text' is a list, expected "
                                      "a string"));
  CHECK_THROWS_MATCHES(spawn_operator(OperatorRef{}), std::invalid_argument,
                       Catch::Message("spawn_operator: the OperatorRef is empty"));
}

TEST_CASE("an actor request with a huge timeout or deep inputs is answered",
          "[bad_input][runtime][actor][huge]") {
  // Regression: a timeout of 1e300 s overflowed into a deadline in the past.
  Value deep = Record{};
  for (int i = 0; i < 100'000; ++i)
    deep = Record{{"inner", deep}};
  auto echo = function_operator("Echo", [](const Record& in) { return in; });
  const Record inputs{{"deep", deep}, {"nan", std::nan("")}};
  auto reply = request_from_actor(spawn_operator(echo), inputs, envelope_with({.timeout_seconds = 1e300}));
  REQUIRE(reply.wait_for(5s) == std::future_status::ready);
  CHECK(reply.get() == inputs);
  ember::xcs::detail::EnvelopeFields fields;
  fields.timeout_seconds = std::numeric_limits<double>::infinity();
  auto from_wire = request_from_actor(spawn_operator(echo), inputs, ember::xcs::detail::from_fields(fields));
  REQUIRE(from_wire.wait_for(5s) == std::future_status::ready);
  CHECK(from_wire.get() == inputs);
}

TEST_CASE("runtime settings out of range are refused naming setting value and range",
          "[bad_input][runtime][config]") {
  CHECK_THROWS_MATCHES(parse_runtime_config({{"blocking_threads", "99999999999999999999"}}),
                       std::invalid_argument,
                       Catch::Message("Invalid value for runtime option 'blocking_threads': "
                                      "'99999999999999999999' (allowed: a positive integer "
                                      "up to 4096)"));
  CHECK_THROWS_MATCHES(parse_runtime_config({{"scheduler_threads", "1025"}}),
                       std::invalid_argument,
                       Catch::Message("Invalid value for runtime option 'scheduler_threads': "
                                      "'1025' (allowed: a positive integer up to 1024)"));
  CHECK(parse_runtime_config({{"scheduler_threads", "1024"}, {"blocking_threads", "4096"}}) ==
        RuntimeConfig{.scheduler_threads = 1024, .blocking_threads = 4096});
  // Regression: a scheduler_threads of a billion was accepted and made CAF
  // try to start that many threads at the first call.
  CHECK_THROWS_MATCHES(configure_runtime(RuntimeConfig{.scheduler_threads = 1'000'000'000}),
                       std::invalid_argument,
                       Catch::Message("Invalid value for runtime option 'scheduler_threads': "
                                      "1000000000 (allowed: 1 to 1024)"));
  CHECK_THROWS_MATCHES(configure_runtime(RuntimeConfig{.blocking_threads = 4097}),
                       std::invalid_argument,
                       Catch::Message("Invalid value for runtime option 'blocking_threads': "
                                      "4097 (allowed: 1 to 4096)"));
  CHECK_THROWS_MATCHES(parse_runtime_config({{"shutdown_grace_ms", "-1"}}), std::invalid_argument,
                       Catch::Message("Invalid value for runtime option 'shutdown_grace_ms': '-1' "
                                      "(allowed: a non-negative integer up to 3153600000000)"));
  CHECK_THROWS_MATCHES(parse_runtime_config({{"", "1"}}), std::invalid_argument,
                       Catch::Message("Invalid runtime option: "));
  CHECK_THROWS_MATCHES(parse_runtime_config({{"scheduler_threads", ""}}), std::invalid_argument,
                       Catch::Message("Invalid value for runtime option 'scheduler_threads': '' "
                                      "(allowed: a positive integer up to 1024)"));
  CHECK_THROWS_AS(configure_runtime(RuntimeConfig{.blocking_threads = 0}), std::invalid_argument);
}

TEST_CASE("a shutdown grace beyond the clock's range is refused instead of wrapping",
          "[bad_input][runtime][config][huge]") {
  // Regression: 18446744073709551615 ms was accepted as a grace of -1 ms, and
  // a grace near the type's limit overflowed the clock at shutdown.
  CHECK_THROWS_MATCHES(parse_runtime_config({{"shutdown_grace_ms", "18446744073709551615"}}),
                       std::invalid_argument,
                       Catch::Message("Invalid value for runtime option 'shutdown_grace_ms': "
                                      "'18446744073709551615' (allowed: a non-negative integer "
                                      "up to 3153600000000)"));
  CHECK(parse_runtime_config({{"shutdown_grace_ms", "3153600000000"}}).shutdown_grace ==
        std::chrono::milliseconds{3'153'600'000'000});
  CHECK_THROWS_MATCHES(configure_runtime(RuntimeConfig{.shutdown_grace = -1ms}),
                       std::invalid_argument,
                       Catch::Message("Invalid value for runtime option 'shutdown_grace': -1 ms "
                                      "(allowed: 0 to 3153600000000 ms)"));
  CHECK_THROWS_AS(
      configure_runtime(RuntimeConfig{.shutdown_grace = std::chrono::milliseconds::max()}),
      std::invalid_argument);
  CHECK(runtime_config().shutdown_grace == RuntimeConfig{}.shutdown_grace);
}

TEST_CASE("throw_error of an empty or foreign CAF error throws a clear exception",
          "[bad_input][runtime][actor][empty]") {
  // Regression: an empty caf::error crashed reading its category.
  CHECK_THROWS_MATCHES(throw_error(caf::error{}), std::invalid_argument,
                       Catch::Message("throw_error: the caf::error is empty, so there is no error "
                                      "to throw; call it only for a failed request"));
  CHECK_THROWS_MATCHES(throw_error(caf::make_error(caf::sec::runtime_error)), ExecutionError,
                       Catch::Message("system_error(runtime_error)"));
  CHECK_THROWS_MATCHES(throw_error(make_error(ErrorCode::timeout, "operator 'X' timed out")),
                       TimeoutError, Catch::Message("operator 'X' timed out"));
}

TEST_CASE("this_call outside any body reports no call", "[bad_input][runtime][empty]") {
  CHECK_FALSE(this_call::stop_requested());
  CHECK_FALSE(this_call::stop_token().stop_possible());
  CHECK_FALSE(this_call::deadline());
}
