// JSON text for records and values, and conversion to and from Boost.JSON's
// document type. The mapping is exact: integers stay integers, doubles stay
// doubles, keys come out in ascending order, so equal records give equal text.
#pragma once
#include "ember/config.hpp"

#include <iosfwd>
#include <string>
#include <string_view>

#include "ember/core/types/record.hpp"

// Declared, not included: users of records should not pay for Boost.JSON's
// headers. Callers of the two conversions include <boost/json.hpp> themselves.
namespace boost::json {
class value;
} // namespace boost::json

namespace ember {

/// Compact JSON, keys sorted. Doubles are written in shortest round-trip form
/// and always with a '.' or exponent ("1.0"), so they read back as doubles.
/// Throws JsonError naming the field path ("field 'opts.scores[2]' is NaN,
/// ...") for what JSON cannot hold: NaN or infinite doubles, strings that are
/// not valid UTF-8, nesting deeper than max_serialized_depth.
std::string to_json(const Value& value);
std::string to_json(const Record& record);

/// Parses one JSON text (surrounding whitespace allowed). Integers that fit
/// std::int64_t become integers; larger ones become doubles, as Boost.JSON
/// reads integers beyond std::uint64_t. Throws JsonError with the byte offset
/// and the reason for bad syntax, invalid UTF-8, trailing data, or nesting
/// deeper than max_serialized_depth, and naming the field for a number beyond
/// a double's range (1e400), which would read as infinity.
Value value_from_json(std::string_view text);
/// As value_from_json, and the text must hold an object: anything else
/// throws JsonError "expected a JSON object, got a list".
Record record_from_json(std::string_view text);

/// Text for logs, test failures and CAF's deep_to_string: like to_json but
/// never throws. NaN and infinities are written as NaN, Infinity, -Infinity;
/// bytes that are not UTF-8 become U+FFFD; nesting past
/// max_serialized_depth becomes [...] or {...}.
std::string to_string(const Value& value);
std::string to_string(const Record& record);
std::ostream& operator<<(std::ostream& out, const Value& value);
std::ostream& operator<<(std::ostream& out, const Record& record);

/// A Boost.JSON document for `value`; a Record converts to an object. Doubles
/// are copied as they are, NaN included. Throws JsonError past
/// max_serialized_depth.
boost::json::value to_boost_json(const Value& value);
/// The Value for a Boost.JSON document, with the number rules of
/// value_from_json. Throws JsonError past max_serialized_depth.
Value value_from_boost_json(const boost::json::value& json);

} // namespace ember
