#include <ember/xcs/engine/option_parsing.hpp>

#include <ember/core/exceptions.hpp>

#include "engine/option_fields.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace ember::xcs {
namespace {

using namespace detail;

std::string to_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string to_upper(std::string_view text) {
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return upper;
}

bool means_unset(std::string_view text) {
  const auto lower = to_lower(text);
  return lower.empty() || lower == "none" || lower == "null";
}

bool flag_from_text(const OptionField& field, std::string_view text) {
  const auto lower = to_lower(text);
  if (lower == "true" || lower == "yes" || lower == "1") {
    return true;
  }
  if (lower == "false" || lower == "no" || lower == "0") {
    return false;
  }
  throw_invalid_value(field, quoted(text));
}

// Strict: the whole text must be the number, so "4x", " 4" and "4.0" (for an
// integer) are errors rather than silently read as something else.
template <class Number>
std::optional<Number> number_from_text(const OptionField& field, std::string_view text) {
  if (means_unset(text)) {
    return std::nullopt;
  }
  Number value{};
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc{} || stop != end) {
    throw_invalid_value(field, quoted(text));
  }
  return value;
}

void assign_text(ExecutionOptionsUpdate& update, const OptionField& field, std::string_view text) {
  std::visit(Overloaded{
                 [&](FlagMember member) { update.*member = flag_from_text(field, text); },
                 [&](CountMember member) {
                   (update.*member).emplace(number_from_text<int>(field, text));
                 },
                 [&](SecondsMember member) {
                   (update.*member).emplace(number_from_text<double>(field, text));
                 },
                 [&](ChoiceMember member) { update.*member = std::string(text); },
                 [&](OptionalChoiceMember member) {
                   (update.*member).emplace(means_unset(text) ? std::nullopt
                                                              : std::optional<std::string>(text));
                 },
             },
             field.member);
}

} // namespace

ExecutionOptionsUpdate parse_execution_options(const StringOptions& options) {
  ExecutionOptionsUpdate update;
  for (const auto& [name, text] : options) {
    const auto* field = find_option_field(name);
    if (field == nullptr) {
      throw_unknown_option(name);
    }
    assign_text(update, *field, text);
    // Checked per entry so a value a later duplicate overwrites is still checked.
    validate_update(update);
  }
  return update;
}

ExecutionOptionsUpdate execution_options_from_environment(const char* prefix) {
  const std::string variable_prefix = prefix != nullptr ? prefix : "";
  StringOptions found;
  for (const auto& field : option_fields()) {
    const auto variable = variable_prefix + to_upper(field.name);
    if (const char* value = std::getenv(variable.c_str())) {
      found.emplace_back(std::string(field.name), value);
    }
  }
  return parse_execution_options(found);
}

ExecutionOptionsUpdate execution_options_from_command_line(int argc, const char* const* argv) {
  constexpr std::string_view option_prefix = "--xcs-";
  if (argv == nullptr && argc > 1)
    throw std::invalid_argument("execution_options_from_command_line: argv is null with argc " +
                                std::to_string(argc) +
                                " (allowed: a null argv only with argc <= 1)");
  StringOptions found;
  for (int index = 1; index < argc && argv[index] != nullptr; ++index) {
    std::string_view argument = argv[index];
    if (argument == "--") {
      break;
    }
    if (!argument.starts_with(option_prefix)) {
      continue;
    }
    argument.remove_prefix(option_prefix.size());
    const auto equals = argument.find('=');
    const std::string spelled(argument.substr(0, equals));
    std::string name = spelled;
    std::replace(name.begin(), name.end(), '-', '_');
    if (find_option_field(name) == nullptr) {
      throw_unknown_option(spelled);
    }
    if (equals == std::string_view::npos) {
      throw ExecutionOptionError(name, "Execution option '" + name + "' needs a value: --xcs-" +
                                           spelled + "=<value>");
    }
    found.emplace_back(name, std::string(argument.substr(equals + 1)));
  }
  return parse_execution_options(found);
}

} // namespace ember::xcs
