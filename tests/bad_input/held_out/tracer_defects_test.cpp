// Bad-input cases that fail today in src/tracer, held out of the build until
// its owner fixes them: add this file to tests/bad_input/meson.build then.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/tracer/execution_trace.hpp"
#include "ember/xcs/tracer/structural_jit.hpp"

using namespace ember;
using namespace ember::xcs;

TEST_CASE("an operator name that is not UTF-8 still exports as valid trace JSON",
          "[bad_input][trace][utf8]") {
  // to_chrome_json copies the name's bytes as they are, so the export is not
  // JSON: Perfetto and boost::json::parse refuse the whole file.
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
  // materialize() in structural_jit.cpp copies the forward's output by
  // recursion, one stack frame pair per level: 100000 levels overflow the
  // stack (SIGSEGV), where every other entry point handles them.
  Value deep = Record{};
  for (int i = 0; i < 100'000; ++i)
    deep = Record{{"inner", deep}};
  const Record inputs{{"deep", deep}};
  auto first = function_operator("First", [](const Record& in) { return in; });
  auto composite = function_operator("Composite", [first](const Record& in) { return first(in); });
  CHECK(structural_jit(composite)(inputs) == inputs);
}
