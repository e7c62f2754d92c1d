// Bad input to structural_jit and to the trace export.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/tracer/execution_trace.hpp"
#include "ember/xcs/tracer/structural_jit.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::xcs;

namespace {

OperatorRef pipeline(OperatorRef first, OperatorRef second) {
  return function_operator("Pipeline", [first, second](const Record& in) {
    auto a = first(in);
    auto b = second(in);
    return a.with("b", Value{b});
  });
}

OperatorRef echo(const std::string& name) {
  return function_operator(name, [](const Record& in) { return in; });
}

} // namespace

TEST_CASE("structural_jit refuses an empty operator or strategy naming the value",
          "[bad_input][jit][empty]") {
  CHECK_THROWS_MATCHES(structural_jit(OperatorRef{}), std::invalid_argument,
                       Catch::Message("structural_jit: the operator is empty"));
  CHECK_THROWS_MATCHES(structural_jit(echo("Echo"), ""), std::invalid_argument,
                       Catch::Message("structural_jit(Echo): execution_strategy '' is not one of "
                                      "auto, parallel, sequential"));
  CHECK_THROWS_MATCHES(jit_stats(OperatorRef{}), std::invalid_argument,
                       Catch::Message("operator '(empty)' is not a structural_jit operator"));
  CHECK_THROWS_MATCHES(jit_plan_dot(echo("Plain")), std::invalid_argument,
                       Catch::Message("operator 'Plain' is not a structural_jit operator"));
}

TEST_CASE("a jitted sub-operator's non-standard exception reaches the caller unchanged",
          "[bad_input][jit][non_std]") {
  auto throws = function_operator("ThrowsInt", [](const Record&) -> Record { throw 42; });
  auto plain = pipeline(echo("First"), throws);
  CHECK_THROWS_AS(plain(Record{{"x", 1}}), int);
  CHECK_THROWS_AS(structural_jit(plain)(Record{{"x", 1}}), int);
  auto scope = execution_options({.max_workers = 1});
  CHECK_THROWS_AS(structural_jit(plain)(Record{{"x", 1}}), int);
}

TEST_CASE("a jitted sub-operator given the wrong type fails as in the plain forward",
          "[bad_input][jit][types]") {
  auto typed = function_operator(
      "NeedsText", [](const Record& in) { return in; },
      Specification{{Field::required_field("text", FieldType::string)}, {}});
  auto composite = pipeline(echo("First"), typed);
  CHECK_THROWS_MATCHES(structural_jit(composite)(Record{{"text", 1.5}}), ValidationError,
                       Catch::Message("operator 'NeedsText': input field 'text' is a number, "
                                      "expected a string"));
}

TEST_CASE("a jitted composite passes NaN, bytes and records nested to the limit unchanged",
          "[bad_input][jit][nan][deep]") {
  Value deep = Record{};
  for (std::size_t i = 1; i < max_serialized_depth; ++i)
    deep = Record{{"inner", deep}};
  const Record inputs{{"nan", std::nan("")}, {"deep", deep}, {"bytes", "\xFF"}};
  auto composite = pipeline(echo("First"), echo("Second"));
  CHECK(structural_jit(composite)(inputs) == composite(inputs));
}

TEST_CASE("operator names with quotes and control characters export as valid trace JSON",
          "[bad_input][trace]") {
  ExecutionTrace trace;
  const std::string name = "say \"hi\"\n\t\\ \x01 \xE2\x82\xAC";
  trace.end_span(trace.begin_span(0, name, "vmap", 0, -1), false);
  const auto document = boost::json::parse(trace.to_chrome_json());
  const auto& events = document.at("traceEvents").as_array();
  REQUIRE(events.size() == 1);
  CHECK(events[0].at("name").as_string() == name);
  CHECK_THROWS_MATCHES(trace.write_chrome_json(""), std::runtime_error,
                       ember::testing::message_that(Catch::Contains("''")));
}

TEST_CASE("an operator name that is not UTF-8 still exports as valid trace JSON",
          "[bad_input][trace][utf8]") {
  ExecutionTrace trace;
  trace.end_span(trace.begin_span(0, "op\xFF", "vmap\xC0", 0, -1), false);
  const std::string json = trace.to_chrome_json();
  boost::system::error_code error;
  const auto document = boost::json::parse(json, error);
  REQUIRE_FALSE(error);
  CHECK(document.at("traceEvents").as_array().size() == 1);
}

TEST_CASE("a traced call of an operator whose name is not UTF-8 keeps the export valid",
          "[bad_input][trace][utf8]") {
  execution_trace().clear();
  auto op = function_operator("Model \xC3\x28", [](const Record& in) { return in; });
  {
    auto scope = execution_options({.trace_execution = true});
    op(Record{});
  }
  boost::system::error_code error;
  boost::json::parse(execution_trace().to_chrome_json(), error);
  CHECK_FALSE(error);
  execution_trace().clear();
}

TEST_CASE("a jitted composite returns a record nested 100000 levels deep",
          "[bad_input][jit][deep]") {
  Value deep = Record{};
  for (int i = 0; i < 100'000; ++i)
    deep = Record{{"inner", deep}};
  const Record inputs{{"deep", deep}};
  auto first = function_operator("First", [](const Record& in) { return in; });
  auto composite = function_operator("Composite", [first](const Record& in) { return first(in); });
  CHECK(structural_jit(composite)(inputs) == inputs);
}
