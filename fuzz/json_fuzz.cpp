// Fuzz target: JSON text to values and records. The input is the text.
// value_from_json and record_from_json must return or throw JsonError; what
// they return must be written back by to_json (or refused with JsonError) into
// text that parses to an equal value and writes back identically, and must
// survive the trip through a Boost.JSON document.
#include <ember/core/exceptions.hpp>
#include <ember/core/types/json.hpp>

#include "fuzz_check.hpp"

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

using namespace ember;
using ember::fuzz::fail;

std::optional<Value> parse_value(std::string_view text) {
  try {
    return value_from_json(text);
  } catch (const JsonError&) {
    return std::nullopt;
  } catch (...) {
    ember::fuzz::fail_on_unexpected_exception("value_from_json");
  }
}

// record_from_json agrees with value_from_json: the same record for an
// object, JsonError for everything else.
void check_record(std::string_view text, const std::optional<Value>& value) {
  try {
    const Record record = record_from_json(text);
    if (!value || !value->is_record())
      fail("record_from_json accepted text that value_from_json does not read as an object");
    if (!(record == value->as_record()))
      fail("record_from_json and value_from_json read different records");
  } catch (const JsonError&) {
    if (value && value->is_record())
      fail("record_from_json refused an object that value_from_json reads");
  } catch (...) {
    ember::fuzz::fail_on_unexpected_exception("record_from_json");
  }
}

void check_round_trip(const Value& value) {
  std::string text;
  try {
    text = to_json(value);
  } catch (const JsonError&) {
    return; // e.g. a number too large for a double reads as infinity
  } catch (...) {
    ember::fuzz::fail_on_unexpected_exception("to_json");
  }
  std::optional<Value> back;
  try {
    back = value_from_json(text);
  } catch (const std::exception& error) {
    fail("to_json wrote text that does not parse back: " + std::string(error.what()) + "\n" + text);
  }
  if (!(*back == value))
    fail("to_json wrote text that parses back to another value: " + text);
  if (to_json(*back) != text)
    fail("to_json is not canonical: the text it wrote writes back differently: " + text);
  if (value.is_record() && to_json(value.as_record()) != text)
    fail("to_json of a record and of the value holding it differ: " + text);
}

void check_boost_round_trip(const Value& value) {
  try {
    if (!(value_from_boost_json(to_boost_json(value)) == value))
      fail("a value changed through a Boost.JSON document: " + to_string(value));
  } catch (const std::exception& error) {
    fail("a parsed value does not survive a Boost.JSON document: " + std::string(error.what()));
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<Value> value = parse_value(text);
  check_record(text, value);
  if (value) {
    try {
      (void)to_string(*value);
    } catch (...) {
      ember::fuzz::fail_on_unexpected_exception("to_string, documented never to throw,");
    }
    check_round_trip(*value);
    check_boost_round_trip(*value);
  }
  return 0;
}
