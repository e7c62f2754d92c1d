// Bad input to the execution options in every form, and to the result cache.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "../engine/global_defaults.hpp"
#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/engine/option_parsing.hpp"
#include "ember/xcs/engine/result_cache.hpp"
#include "ember/xcs/transforms/vmap.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::xcs;
using Catch::Matchers::StartsWith;

namespace {

std::string option_error(const ExecutionOptionsUpdate& update) {
  try {
    (void)merge(ExecutionOptions{}, update);
  } catch (const ExecutionOptionError& error) {
    return error.what();
  }
  return "no error";
}

std::string string_error(const StringOptions& options) {
  try {
    (void)parse_execution_options(options);
  } catch (const ExecutionOptionError& error) {
    return error.what();
  }
  return "no error";
}

} // namespace

TEST_CASE("NaN infinite zero and negative timeouts are refused naming the value",
          "[bad_input][engine][nan]") {
  const double inf = std::numeric_limits<double>::infinity();
  const std::string allowed = " (allowed: a positive number of seconds, or none)";
  CHECK(option_error({.timeout_seconds = std::nan("")}) ==
        "Invalid value for execution option 'timeout_seconds': nan" + allowed);
  CHECK(option_error({.timeout_seconds = inf}) ==
        "Invalid value for execution option 'timeout_seconds': inf" + allowed);
  CHECK(option_error({.timeout_seconds = -inf}) ==
        "Invalid value for execution option 'timeout_seconds': -inf" + allowed);
  CHECK(option_error({.timeout_seconds = 0.0}) ==
        "Invalid value for execution option 'timeout_seconds': 0" + allowed);
  CHECK(string_error({{"timeout_seconds", "nan"}}) ==
        "Invalid value for execution option 'timeout_seconds': nan" + allowed);
  // JSON text past a double is refused while reading, naming the field.
  CHECK_THROWS_MATCHES(
      parse_execution_options_json(R"({"timeout_seconds": 1e400})"), JsonError,
      Catch::Message("Execution options are not valid JSON: invalid JSON: field "
                     "'timeout_seconds' is a number outside the range of a double (allowed: "
                     "magnitudes up to 1.7976931348623157e+308)"));
  CHECK_THROWS_AS(parse_execution_options_json(R"({"timeout_seconds": NaN})"), JsonError);
}

TEST_CASE("a huge timeout never fires early", "[bad_input][engine][huge]") {
  // Regression: now + 1e10 s overflowed the steady clock's nanoseconds into a
  // deadline in the past, so every call timed out at once.
  testing::GlobalDefaultsOnExit restore;
  auto echo = function_operator("Echo", [](const Record& in) { return in; });
  for (double seconds : {1e10, 1e300, std::numeric_limits<double>::max()}) {
    auto scope = execution_options({.timeout_seconds = seconds});
    CHECK(echo(Record{{"x", 1}}) == Record{{"x", 1}});
    CHECK(vmap(echo)(Record{{"x", List{1, 2}}}) == Record{{"x", List{1, 2}}});
  }
  set_execution_options({{"timeout_seconds", "1e300"}});
  CHECK(echo(Record{{"x", 2}}) == Record{{"x", 2}});
}

TEST_CASE("huge worker counts are accepted and out-of-range text is refused",
          "[bad_input][engine][huge]") {
  auto scope = execution_options({.max_workers = std::numeric_limits<int>::max()});
  auto echo = function_operator("Echo", [](const Record& in) { return in; });
  CHECK(vmap(echo)(Record{{"x", List{1, 2, 3}}}) == Record{{"x", List{1, 2, 3}}});
  CHECK(string_error({{"max_workers", "2147483648"}}) ==
        "Invalid value for execution option 'max_workers': \"2147483648\" (allowed: a positive "
        "integer, or none)");
  CHECK(string_error({{"timeout_seconds", std::string(100'000, '9')}}) != "no error");
}

TEST_CASE("empty option names and values are refused or unset as documented",
          "[bad_input][engine][empty]") {
  CHECK(string_error({{"", "1"}}) == "Invalid execution option: ");
  CHECK(string_error({{"device_strategy", ""}}) ==
        "Invalid value for execution option 'device_strategy': \"\" (allowed: auto, cpu, io or "
        "gpu)");
  CHECK(option_error({.device_strategy = ""}) ==
        "Invalid value for execution option 'device_strategy': \"\" (allowed: auto, cpu, io or "
        "gpu)");
  const auto nothing = parse_execution_options({});
  CHECK(merge(ExecutionOptions{}, nothing) == ExecutionOptions{});
  CHECK_THROWS_MATCHES(parse_execution_options_json("{\"\": 1}"), ExecutionOptionError,
                       Catch::Message("Invalid execution option: "));
  CHECK_THROWS_MATCHES(parse_execution_options_json("null"), JsonError,
                       Catch::Message("Execution options must be a JSON object, got a JSON null"));
  const char* empty_name[] = {"program", "--xcs-=1"};
  CHECK_THROWS_MATCHES(execution_options_from_command_line(2, empty_name), ExecutionOptionError,
                       Catch::Message("Invalid execution option: "));
  const char* no_arguments[] = {"program"};
  CHECK_FALSE(execution_options_from_command_line(-1, no_arguments).max_workers);
  // Regression: a null argv was read as an array.
  CHECK_THROWS_MATCHES(execution_options_from_command_line(3, nullptr), std::invalid_argument,
                       Catch::Message("execution_options_from_command_line: argv is null with "
                                      "argc 3 (allowed: a null argv only with argc <= 1)"));
  CHECK_FALSE(execution_options_from_command_line(1, nullptr).max_workers);
}

TEST_CASE("option values that are not UTF-8 are refused naming option and value",
          "[bad_input][engine][utf8]") {
  CHECK(string_error({{"device_strategy", "cp\xFF"}}) ==
        "Invalid value for execution option 'device_strategy': \"cp\xFF\" (allowed: auto, cpu, io "
        "or gpu)");
  CHECK(string_error({{"use_parallel", "\xC0\xAF"}}) ==
        "Invalid value for execution option 'use_parallel': \"\xC0\xAF\" (allowed: true or "
        "false)");
  CHECK_THROWS_MATCHES(
      parse_execution_options_json("{\"device_strategy\": \"cp\xFF\"}"), JsonError,
      ember::testing::message_that(StartsWith("Execution options are not valid JSON")));
  ::setenv("BADIN_SCHEDULER", "seq\xFF", 1);
  CHECK_THROWS_MATCHES(
      execution_options_from_environment("BADIN_"), ExecutionOptionError,
      Catch::Message("Invalid value for execution option 'scheduler': "
                     "\"seq\xFF\" (allowed: sequential, parallel, auto, or none)"));
  ::unsetenv("BADIN_SCHEDULER");
}

TEST_CASE("option names and values with control bytes are shown escaped in the error",
          "[bad_input][engine][utf8]") {
  // Regression: a NUL ended what() there, hiding the rest of the message.
  using namespace std::string_literals;
  CHECK(string_error({{"device_strategy", "cp\0u\n"s}}) ==
        "Invalid value for execution option 'device_strategy': \"cp\\x00u\\x0A\" (allowed: auto, "
        "cpu, io or gpu)");
  CHECK(string_error({{"max_workers", "4\0"s}}) ==
        "Invalid value for execution option 'max_workers': \"4\\x00\" (allowed: a positive "
        "integer, or none)");
  CHECK(string_error({{"device_strategy", R"(say "hi" \)"}}) ==
        R"(Invalid value for execution option 'device_strategy': "say \"hi\" \\" (allowed: )"
        "auto, cpu, io or gpu)");
  CHECK(string_error({{"max\0workers"s, "1"}}) == "Invalid execution option: max\\x00workers");
}

TEST_CASE("options JSON of the wrong shape or nested deep is refused",
          "[bad_input][engine][deep]") {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  CHECK_THROWS_MATCHES(
      parse_execution_options_json(deep), JsonError,
      ember::testing::message_that(StartsWith("Execution options are not valid JSON")));
  CHECK_THROWS_MATCHES(parse_execution_options_json(R"({"max_workers": [[4]]})"),
                       ExecutionOptionError,
                       ember::testing::message_that(
                           StartsWith("Invalid value for execution option 'max_workers': ")));
  CHECK_THROWS_MATCHES(parse_execution_options_json(R"({"use_parallel": {"value": true}})"),
                       ExecutionOptionError,
                       ember::testing::message_that(
                           StartsWith("Invalid value for execution option 'use_parallel': ")));
}

TEST_CASE("a bad option anywhere leaves scopes and globals unchanged",
          "[bad_input][engine][scopes]") {
  testing::GlobalDefaultsOnExit restore;
  set_execution_options({.max_workers = 3});
  CHECK_THROWS_AS(set_execution_options({{"max_workers", "5"}, {"timeout_seconds", "nan"}}),
                  ExecutionOptionError);
  CHECK_THROWS_AS(execution_options({.max_workers = 5, .timeout_seconds = std::nan("")}),
                  ExecutionOptionError);
  CHECK(get_execution_options().max_workers == 3);
  CHECK_FALSE(get_execution_options().timeout_seconds);
}

TEST_CASE("a cached computation throwing a non-standard exception stores nothing",
          "[bad_input][engine][cache][non_std]") {
  ResultCache cache;
  auto op = function_operator("Cached", [](const Record& in) { return in; });
  const Record inputs{{"nan", std::nan("")}, {"bytes", "\xFF"}};
  CHECK_THROWS_AS(cache.get_or_compute(*op, inputs, []() -> Record { throw 42; }), int);
  CHECK(cache.stats().size == 0);
  CHECK_FALSE(cache.lookup(*op, inputs));
  CHECK(cache.get_or_compute(*op, inputs, [] {
    return Record{{"ok", true}};
  }) == Record{{"ok", true}});
  CHECK(cache.lookup(*op, inputs) == Record{{"ok", true}});
  CHECK_THROWS_AS(cache.get_or_compute(*op, Record{}, std::function<Record()>{}),
                  std::bad_function_call);
}
