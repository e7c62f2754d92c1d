// Bad input to vmap and pmap: wrong shapes, empty and huge batches, deep and
// odd items, bodies that throw non-standard exceptions or never return.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/transforms/vmap.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::xcs;
using ember::testing::endless;
using ember::testing::EndlessCounts;
using ember::testing::expect_timeout;

namespace {

OperatorRef echo() {
  return function_operator("Echo", [](const Record& in) { return in; });
}

List range(std::int64_t n) {
  List xs;
  for (std::int64_t i = 0; i < n; ++i)
    xs.emplace_back(i);
  return xs;
}

} // namespace

TEST_CASE("vmap and pmap refuse an empty operator naming themselves",
          "[bad_input][transforms][empty]") {
  CHECK_THROWS_MATCHES(vmap(OperatorRef{}), std::invalid_argument,
                       Catch::Message("vmap: the operator is empty"));
  CHECK_THROWS_MATCHES(pmap(OperatorRef{}), std::invalid_argument,
                       Catch::Message("pmap: the operator is empty"));
}

TEST_CASE("vmap and pmap of an empty input record name the missing batch",
          "[bad_input][transforms][empty]") {
  CHECK_THROWS_MATCHES(
      vmap(echo())(Record{}), std::invalid_argument,
      ember::testing::message_that(Catch::StartsWith("vmap(Echo): no batched field")));
  CHECK_THROWS_MATCHES(
      pmap(echo(), 2)(Record{}), std::invalid_argument,
      ember::testing::message_that(Catch::StartsWith("pmap(Echo): no batched field")));
  // No call, and an operator without a Specification declares no output field.
  CHECK(vmap(echo(), {.axis_size = 0})(Record{{"k", 1}}) == Record{});
}

TEST_CASE("vmap refuses an axis_size no list can hold naming it and the limit",
          "[bad_input][transforms][huge]") {
  // Regression: the batch failed later with std::length_error naming nothing.
  const std::size_t too_many = std::numeric_limits<std::size_t>::max();
  CHECK_THROWS_MATCHES(vmap(echo(), {.axis_size = too_many})(Record{{"k", 1}}),
                       std::invalid_argument,
                       Catch::Message("vmap(Echo): axis_size is " + std::to_string(too_many) +
                                      ", more items than a list can hold (allowed: at most " +
                                      std::to_string(List{}.max_size()) + ")"));
}

TEST_CASE("a batch of 100000 items keeps every item in order", "[bad_input][transforms][huge]") {
  auto scope = execution_options({.max_workers = 4});
  const Record inputs{{"x", range(100'000)}};
  CHECK(vmap(echo())(inputs) == inputs);
  CHECK(pmap(vmap(echo()), 7)(inputs) == inputs);
}

TEST_CASE("items that are NaN, not UTF-8 or deeply nested pass through vmap and pmap intact",
          "[bad_input][transforms][nan][utf8][deep]") {
  Value deep = List{};
  for (int i = 0; i < 100'000; ++i)
    deep = List{deep};
  const List items{std::nan(""), -std::numeric_limits<double>::infinity(), std::string{"\xFF\xFE"},
                   deep};
  const Record inputs{{"x", items}, {"shared", Record{{"deep", deep}}}};
  const Record out = vmap(echo())(inputs);
  CHECK(out.get<List>("x") == items);
  CHECK(std::isnan(out.get<List>("x")[0].as_number()));
  CHECK(pmap(echo(), 3)(Record{{"x", items}}).get<List>("x") == items);
  auto scope = execution_options({.enable_caching = true, .trace_execution = true});
  CHECK(vmap(echo())(inputs).get<List>("x") == items);
}

TEST_CASE("vmap of a field of the wrong type names the field and its kind",
          "[bad_input][transforms][types]") {
  CHECK_THROWS_MATCHES(vmap(echo(), {.in_axes = std::vector<std::string>{"x"}})(
                           Record{{"x", Record{{"a", List{1}}}}}),
                       std::invalid_argument,
                       Catch::Message("vmap(Echo): in_axes names field 'x', which is a record, "
                                      "not a list"));
  CHECK_THROWS_MATCHES(pmap(echo(), std::numeric_limits<int>::min()), std::invalid_argument,
                       ember::testing::message_that(
                           Catch::StartsWith("pmap(Echo): num_workers is -2147483648; allowed: a "
                                             "positive integer")));
}

TEST_CASE("a pmap shard throwing a non-standard exception is reported, not lost",
          "[bad_input][transforms][non_std]") {
  auto op = function_operator("ThrowsInt", [](const Record& in) -> Record {
    if (in.get<List>("x").front().as_integer() >= 2)
      throw 42;
    return in;
  });
  CHECK_THROWS_MATCHES(pmap(op, 2)(Record{{"x", range(4)}}), ExecutionError,
                       ember::testing::message_that(Catch::Contains(
                           "failed in operator 'ThrowsInt': a non-standard exception")));
  auto scope = execution_options({.fail_fast = false});
  const Record out = pmap(op, 2)(Record{{"x", range(4)}});
  const List& errors = out.get<List>("_errors");
  REQUIRE(errors.size() == 2);
  for (const Value& error : errors)
    CHECK(error.as_record().get<std::string>("message") == "a non-standard exception");
  CHECK(out.get<List>("x") == List{0, 1, nullptr, nullptr});
}

TEST_CASE("a batch's own timeout names the transform, the timeout and the unfinished items",
          "[bad_input][transforms][timeout]") {
  auto counts = std::make_shared<EndlessCounts>();
  auto op = endless("Endless", counts, OperatorKind::io);
  // A timed body that narrows the deadline runs the batch inline, so the
  // batch's own timer is the only one at 0.3 s and its message reaches the
  // caller. (A call timed from outside may see the facade's message, which
  // names the same timeout, when the facade's wait ends first.)
  auto scope = execution_options({.timeout_seconds = 60});
  auto narrowed = [](OperatorRef batch) {
    return function_operator("Narrows", [batch](const Record& in) {
      auto narrow = execution_options({.max_workers = 3, .timeout_seconds = 0.3});
      return batch(in);
    });
  };
  CHECK(expect_timeout([&] { narrowed(vmap(op))(Record{{"x", range(8)}}); }) ==
        "vmap(Endless) timed out: the deadline of timeout_seconds=0.3 passed with 8 of 8 "
        "items unfinished");
  // A shard's own vmap holds the same deadline: when its timer fires first,
  // that shard has ended (with its timeout) by the time pmap's does.
  CHECK_THAT(expect_timeout([&] { narrowed(pmap(vmap(op), 2))(Record{{"x", range(8)}}); }),
             Catch::StartsWith("pmap(vmap(Endless)) timed out: the deadline of "
                               "timeout_seconds=0.3 passed with ") &&
                 Catch::EndsWith(" of 2 shards unfinished"));
  REQUIRE(counts->all_ended());
}

TEST_CASE("never-returning bodies in vmap and pmap time out and are all stopped",
          "[bad_input][transforms][timeout]") {
  auto counts = std::make_shared<EndlessCounts>();
  auto op = endless("Endless", counts, OperatorKind::io);
  auto scope = execution_options({.max_workers = 3, .timeout_seconds = 0.3});
  CHECK_THAT(expect_timeout([&] {
               vmap(op)(Record{{"x", range(8)}});
             }),
             Catch::Contains("vmap(Endless)") && Catch::Contains("timeout_seconds=0.3"));
  CHECK_THAT(expect_timeout([&] {
               pmap(vmap(op), 2)(Record{{"x", range(8)}});
             }),
             Catch::Contains("pmap(vmap(Endless))") && Catch::Contains("timeout_seconds=0.3"));
  REQUIRE(counts->all_ended());
  // Which items started before the deadline is up to the scheduler; queued
  // ones never start, so at most 3 per call did, and each of those was stopped.
  CHECK(counts->started <= 6);
  CHECK(counts->stopped == counts->started);
}
