// Fuzz target: the string-keyed execution options. The input is read as lines
// "name=value" for parse_execution_options and, whole, as JSON text for
// parse_execution_options_json. Each parser must return options that hold
// what the option table allows, or throw ExecutionOptionError (or JsonError
// for text that is not a JSON object) with the documented message; what it
// returns must survive being written back as text and as JSON.
#include <ember/core/exceptions.hpp>
#include <ember/core/types/json.hpp>
#include <ember/xcs/engine/option_parsing.hpp>

#include "fuzz_check.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

using namespace ember;
using namespace ember::xcs;
using ember::fuzz::fail;

constexpr std::array<std::string_view, 8> option_names{
    "use_parallel",    "max_workers",     "device_strategy", "enable_caching",
    "trace_execution", "timeout_seconds", "scheduler",       "fail_fast"};

bool is_option(std::string_view name) {
  return std::find(option_names.begin(), option_names.end(), name) != option_names.end();
}

StringOptions pairs_from_lines(std::string_view text) {
  StringOptions pairs;
  while (!text.empty()) {
    const auto end = std::min(text.find('\n'), text.size());
    const auto line = text.substr(0, end);
    const auto equals = std::min(line.find('='), line.size());
    pairs.emplace_back(std::string(line.substr(0, equals)),
                       std::string(line.substr(std::min(equals + 1, line.size()))));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return pairs;
}

void check_allowed(const ExecutionOptions& options, std::string_view from) {
  const std::string where = "options parsed from " + std::string(from);
  if (options.max_workers && *options.max_workers <= 0)
    fail(where + " hold max_workers " + std::to_string(*options.max_workers));
  if (options.timeout_seconds &&
      !(*options.timeout_seconds > 0 && std::isfinite(*options.timeout_seconds)))
    fail(where + " hold timeout_seconds " + std::to_string(*options.timeout_seconds));
  constexpr std::array<std::string_view, 4> strategies{"auto", "cpu", "io", "gpu"};
  if (std::find(strategies.begin(), strategies.end(), options.device_strategy) == strategies.end())
    fail(where + " hold device_strategy '" + options.device_strategy + "'");
  constexpr std::array<std::string_view, 3> schedulers{"sequential", "parallel", "auto"};
  if (options.scheduler &&
      std::find(schedulers.begin(), schedulers.end(), *options.scheduler) == schedulers.end())
    fail(where + " hold scheduler '" + *options.scheduler + "'");
}

std::string seconds_text(double seconds) {
  std::array<char, 32> text{};
  const auto [end, error] = std::to_chars(text.data(), text.data() + text.size(), seconds);
  if (error != std::errc{})
    fail("to_chars cannot write a timeout_seconds of " + std::to_string(seconds));
  return std::string(text.data(), end);
}

std::string flag_text(bool flag) {
  return flag ? "true" : "false";
}

// Every field of `options`, as a user would type it.
StringOptions as_text(const ExecutionOptions& options) {
  return {
      {"use_parallel", flag_text(options.use_parallel)},
      {"max_workers", options.max_workers ? std::to_string(*options.max_workers) : "none"},
      {"device_strategy", options.device_strategy},
      {"enable_caching", flag_text(options.enable_caching)},
      {"trace_execution", flag_text(options.trace_execution)},
      {"timeout_seconds", options.timeout_seconds ? seconds_text(*options.timeout_seconds) : ""},
      {"scheduler", options.scheduler.value_or("null")},
      {"fail_fast", flag_text(options.fail_fast)}};
}

// Every field of `options` as a JSON object, typed.
std::string as_json(const ExecutionOptions& options) {
  auto optional = [](const auto& field) { return field ? Value(*field) : Value(); };
  return to_json(Record{{"use_parallel", options.use_parallel},
                        {"max_workers", optional(options.max_workers)},
                        {"device_strategy", options.device_strategy},
                        {"enable_caching", options.enable_caching},
                        {"trace_execution", options.trace_execution},
                        {"timeout_seconds", optional(options.timeout_seconds)},
                        {"scheduler", optional(options.scheduler)},
                        {"fail_fast", options.fail_fast}});
}

// What the parsers returned must read back as the same options in both forms.
void check_round_trips(const ExecutionOptions& options, std::string_view from) {
  check_allowed(options, from);
  try {
    if (merge({}, parse_execution_options(as_text(options))) != options)
      fail("options parsed from " + std::string(from) + " read back differently from text");
    if (merge({}, parse_execution_options_json(as_json(options))) != options)
      fail("options parsed from " + std::string(from) + " read back differently from JSON " +
           as_json(options));
  } catch (const std::exception& error) {
    fail("options parsed from " + std::string(from) + " do not read back: " + error.what());
  }
}

// The bytes a message shows, read back: "\\xNN" is the byte NN, "\\\\" one
// backslash. Empty when `shown` holds a control byte itself (a NUL would end
// what() there) or a backslash that starts neither form.
std::optional<std::string> read_back(std::string_view shown) {
  std::string bytes;
  for (std::size_t at = 0; at < shown.size(); ++at) {
    const auto byte = static_cast<unsigned char>(shown[at]);
    if (byte < 0x20 || byte == 0x7F)
      return std::nullopt;
    if (shown[at] != '\\') {
      bytes += shown[at];
      continue;
    }
    if (shown.substr(at, 2) == "\\\\") {
      bytes += '\\';
      ++at;
      continue;
    }
    unsigned value = 0;
    const auto hex = shown.substr(at + 2, 2);
    if (shown.substr(at, 2) != "\\x" || hex.size() != 2 ||
        std::from_chars(hex.data(), hex.data() + 2, value, 16).ptr != hex.data() + 2)
      return std::nullopt;
    bytes += static_cast<char>(value);
    at += 3;
  }
  return bytes;
}

// The two documented messages: an unknown name, or a bad value of a known one,
// whole: a NUL in the input is shown escaped and no longer ends what().
void check_message(const ExecutionOptionError& error, std::string_view from) {
  const std::string what = error.what();
  const std::string& name = error.option();
  constexpr std::string_view unknown = "Invalid execution option: ";
  if (what.starts_with(unknown) && read_back(std::string_view{what}.substr(unknown.size())) == name) {
    if (is_option(name))
      fail("parsing " + std::string(from) + " calls the known option '" + name + "' unknown");
    return;
  }
  const std::string start = "Invalid value for execution option '" + name + "': ";
  const bool names_allowed = what.find(" (allowed: ") != std::string::npos && what.ends_with(")");
  if (!is_option(name) || !what.starts_with(start) || !names_allowed)
    fail("parsing " + std::string(from) + " threw an undocumented message for option '" + name +
         "': " + what);
}

void fuzz_pairs(std::string_view text) {
  const StringOptions pairs = pairs_from_lines(text);
  ExecutionOptionsUpdate update;
  try {
    update = parse_execution_options(pairs);
  } catch (const ExecutionOptionError& error) {
    check_message(error, "name=value pairs");
    const bool named = std::any_of(pairs.begin(), pairs.end(),
                                   [&](const auto& pair) { return pair.first == error.option(); });
    if (!named)
      fail("an error for the option '" + error.option() + "', which the pairs do not name");
    return;
  } catch (...) {
    ember::fuzz::fail_on_unexpected_exception("parse_execution_options");
  }
  const ExecutionOptions options = merge({}, update);
  // A name given twice takes the last value.
  StringOptions last_values;
  for (auto pair = pairs.rbegin(); pair != pairs.rend(); ++pair)
    if (std::none_of(last_values.begin(), last_values.end(),
                     [&](const auto& kept) { return kept.first == pair->first; }))
      last_values.push_back(*pair);
  if (merge({}, parse_execution_options(last_values)) != options)
    fail("the pairs and their last values give different options");
  check_round_trips(options, "name=value pairs");
}

void fuzz_json(std::string_view text) {
  ExecutionOptionsUpdate update;
  try {
    update = parse_execution_options_json(text);
  } catch (const ExecutionOptionError& error) {
    check_message(error, "JSON");
    return;
  } catch (const JsonError&) {
    return;
  } catch (...) {
    ember::fuzz::fail_on_unexpected_exception("parse_execution_options_json");
  }
  check_round_trips(merge({}, update), "JSON");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz_pairs(text);
  fuzz_json(text);
  return 0;
}
