// The JSON form of the execution options. Boost.JSON stays in this file so
// no public header pays for it.
#include <ember/xcs/engine/option_parsing.hpp>

#include <ember/core/exceptions.hpp>
#include <ember/core/types/json.hpp>

#include "engine/option_fields.hpp"

#include <boost/json.hpp>

#include <limits>

namespace ember::xcs {
namespace {

using namespace detail;
namespace json = boost::json;

[[noreturn]] void throw_wrong_type(const OptionField& field, const json::value& value) {
  throw_invalid_value(field, json::serialize(value));
}

bool flag_from_json(const OptionField& field, const json::value& value) {
  if (!value.is_bool()) {
    throw_wrong_type(field, value);
  }
  return value.get_bool();
}

std::optional<int> count_from_json(const OptionField& field, const json::value& value) {
  constexpr auto lowest = std::numeric_limits<int>::min();
  constexpr auto highest = std::numeric_limits<int>::max();
  if (value.is_null()) {
    return std::nullopt;
  }
  if (value.is_int64() && value.get_int64() >= lowest && value.get_int64() <= highest) {
    return static_cast<int>(value.get_int64());
  }
  if (value.is_uint64() && value.get_uint64() <= static_cast<std::uint64_t>(highest)) {
    return static_cast<int>(value.get_uint64());
  }
  throw_wrong_type(field, value);
}

std::optional<double> seconds_from_json(const OptionField& field, const json::value& value) {
  if (value.is_null()) {
    return std::nullopt;
  }
  if (!value.is_number()) {
    throw_wrong_type(field, value);
  }
  return value.to_number<double>();
}

std::optional<std::string> choice_from_json(const OptionField& field, const json::value& value,
                                            bool may_be_null) {
  if (may_be_null && value.is_null()) {
    return std::nullopt;
  }
  if (!value.is_string()) {
    throw_wrong_type(field, value);
  }
  return std::string(value.get_string());
}

void assign_json(ExecutionOptionsUpdate& update, const OptionField& field,
                 const json::value& value) {
  std::visit(Overloaded{
                 [&](FlagMember member) { update.*member = flag_from_json(field, value); },
                 [&](CountMember member) { (update.*member).emplace(count_from_json(field, value)); },
                 [&](SecondsMember member) {
                   (update.*member).emplace(seconds_from_json(field, value));
                 },
                 [&](ChoiceMember member) {
                   update.*member = *choice_from_json(field, value, false);
                 },
                 [&](OptionalChoiceMember member) {
                   (update.*member).emplace(choice_from_json(field, value, true));
                 },
             },
             field.member);
}

} // namespace

ExecutionOptionsUpdate parse_execution_options_json(std::string_view json_object_text) {
  // Read by ember's JSON reader, which rounds doubles correctly (Boost 1.81's
  // json::parse does not, so a timeout written in shortest round-trip form
  // could read back as a neighbouring double).
  json::value root;
  try {
    root = to_boost_json(value_from_json(json_object_text));
  } catch (const JsonError& error) {
    throw JsonError("Execution options are not valid JSON: " + std::string(error.what()));
  }
  if (!root.is_object()) {
    throw JsonError("Execution options must be a JSON object, got a JSON " +
                    std::string(json::to_string(root.kind())));
  }
  ExecutionOptionsUpdate update;
  for (const auto& [name, value] : root.get_object()) {
    const auto* field = find_option_field(name);
    if (field == nullptr) {
      throw_unknown_option(name);
    }
    assign_json(update, *field, value);
    validate_update(update);
  }
  return update;
}

} // namespace ember::xcs
