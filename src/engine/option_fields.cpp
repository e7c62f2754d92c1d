#include "engine/option_fields.hpp"

#include <ember/core/exceptions.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <span>

namespace ember::xcs::detail {
namespace {

constexpr std::array<std::string_view, 4> device_strategies{"auto", "cpu", "io", "gpu"};
constexpr std::array<std::string_view, 3> schedulers{"sequential", "parallel", "auto"};

std::string escaped(std::string_view text, bool in_quotes) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string shown;
  shown.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      shown += "\\x";
      shown += hex[byte >> 4];
      shown += hex[byte & 0xF];
    } else {
      if (c == '\\' || (in_quotes && c == '"'))
        shown += '\\';
      shown += c;
    }
  }
  return shown;
}

std::string format_seconds(double seconds) {
  std::array<char, 32> text{};
  auto [end, error] = std::to_chars(text.data(), text.data() + text.size(), seconds);
  return error == std::errc{} ? std::string(text.data(), end) : std::string("?");
}

void check_choice(const OptionField& field, const std::string& value) {
  using Choices = std::span<const std::string_view>;
  Choices choices = field.name == "scheduler" ? Choices(schedulers) : Choices(device_strategies);
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    throw_invalid_value(field, quoted(value));
  }
}

void check_field(const OptionField& field, const ExecutionOptionsUpdate& update) {
  std::visit(Overloaded{
                 [](FlagMember) {},
                 [&](CountMember member) {
                   const auto& count = update.*member;
                   if (count && *count && **count <= 0) {
                     throw_invalid_value(field, std::to_string(**count));
                   }
                 },
                 [&](SecondsMember member) {
                   const auto& seconds = update.*member;
                   // Written so that NaN fails too; infinity is not a deadline.
                   if (seconds && *seconds && !(**seconds > 0.0 && std::isfinite(**seconds))) {
                     throw_invalid_value(field, format_seconds(**seconds));
                   }
                 },
                 [&](ChoiceMember member) {
                   if (const auto& choice = update.*member) {
                     check_choice(field, *choice);
                   }
                 },
                 [&](OptionalChoiceMember member) {
                   if (const auto& choice = update.*member; choice && *choice) {
                     check_choice(field, **choice);
                   }
                 },
             },
             field.member);
}

} // namespace

const std::array<OptionField, 8>& option_fields() {
  static const std::array<OptionField, 8> fields{{
      {"use_parallel", &ExecutionOptionsUpdate::use_parallel, "true or false"},
      {"max_workers", &ExecutionOptionsUpdate::max_workers, "a positive integer, or none"},
      {"device_strategy", &ExecutionOptionsUpdate::device_strategy, "auto, cpu, io or gpu"},
      {"enable_caching", &ExecutionOptionsUpdate::enable_caching, "true or false"},
      {"trace_execution", &ExecutionOptionsUpdate::trace_execution, "true or false"},
      {"timeout_seconds", &ExecutionOptionsUpdate::timeout_seconds,
       "a positive number of seconds, or none"},
      {"scheduler", &ExecutionOptionsUpdate::scheduler, "sequential, parallel, auto, or none"},
      {"fail_fast", &ExecutionOptionsUpdate::fail_fast, "true or false"},
  }};
  return fields;
}

const OptionField* find_option_field(std::string_view name) {
  const auto& fields = option_fields();
  auto found = std::find_if(fields.begin(), fields.end(),
                            [&](const OptionField& field) { return field.name == name; });
  return found == fields.end() ? nullptr : &*found;
}

void throw_unknown_option(std::string_view name) {
  throw ExecutionOptionError(std::string(name), "Invalid execution option: " + printable(name));
}

void throw_invalid_value(const OptionField& field, std::string_view shown_value) {
  std::string name(field.name);
  throw ExecutionOptionError(name, "Invalid value for execution option '" + name +
                                       "': " + std::string(shown_value) + " (allowed: " +
                                       std::string(field.allowed) + ")");
}

void validate_update(const ExecutionOptionsUpdate& update) {
  for (const auto& field : option_fields()) {
    check_field(field, update);
  }
}

std::string printable(std::string_view text) { return escaped(text, false); }

std::string quoted(std::string_view text) { return "\"" + escaped(text, true) + "\""; }

} // namespace ember::xcs::detail
