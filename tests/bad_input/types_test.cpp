// Bad input to the record model: empty, huge, deeply nested, non-finite and
// non-UTF-8 values through records, JSON, Boost.JSON, CAF and conversion.
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/sec.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ember/core/types/json.hpp"
#include "ember/core/types/record.hpp"
#include "ember/core/types/record_convert.hpp"
#include "ember/core/types/record_inspect.hpp"
#include "support.hpp"

using namespace ember;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

template <class T>
T caf_round_trip(const T& original) {
  std::vector<char> buffer;
  caf::binary_serializer sink{nullptr, buffer};
  auto copy = original;
  REQUIRE_FALSE(sink(copy));
  T back;
  caf::binary_deserializer source{nullptr, buffer};
  REQUIRE_FALSE(source(back));
  return back;
}

Value nested_lists(std::size_t depth) {
  Value value = List{};
  for (std::size_t i = 1; i < depth; ++i)
    value = List{value};
  return value;
}

} // namespace

TEST_CASE("empty keys strings lists and records survive JSON and CAF",
          "[bad_input][types][empty]") {
  const Record record{{"", ""}, {"list", List{}}, {"record", Record{}}};
  CHECK(record_from_json(to_json(record)) == record);
  CHECK(caf_round_trip(record) == record);
  CHECK(caf_round_trip(Record{}) == Record{});
  CHECK(record_from_json("{}") == Record{});
  CHECK_THROWS_MATCHES(Record{}.at("text"), FieldError, Catch::Message("field 'text' is missing"));
  CHECK_THROWS_MATCHES(record_from_json(""), JsonError,
                       ember::testing::message_that(StartsWith("invalid JSON at offset 0: ")));
  CHECK_THROWS_MATCHES(record_from_json("   "), JsonError,
                       ember::testing::message_that(StartsWith("invalid JSON at offset 3: ")));
}

TEST_CASE("a huge string and a huge list survive JSON and CAF", "[bad_input][types][huge]") {
  List numbers;
  for (std::int64_t i = 0; i < 200'000; ++i)
    numbers.emplace_back(i);
  const Record record{{"text", std::string(8 << 20, 'x')}, {"numbers", numbers}};
  const Record from_json = record_from_json(to_json(record));
  CHECK(from_json == record);
  CHECK(from_json.get<std::string>("text").size() == 8u << 20);
  CHECK(caf_round_trip(record) == record);
}

TEST_CASE("JSON numbers beyond the range of a double are refused naming the field",
          "[bad_input][types][json][nan]") {
  // Regression: 1e400 was read as infinity, which to_json then refused to write.
  CHECK_THROWS_MATCHES(
      record_from_json(R"({"a": {"b": [1, 1e400]}})"), JsonError,
      Catch::Message("invalid JSON: field 'a.b[1]' is a number outside the range of a double "
                     "(allowed: magnitudes up to 1.7976931348623157e+308)"));
  CHECK_THROWS_MATCHES(value_from_json("-1e400"), JsonError,
                       Catch::Message("invalid JSON: value is a number outside the range of a "
                                      "double (allowed: magnitudes up to "
                                      "1.7976931348623157e+308)"));
  CHECK(value_from_json("1.7976931348623157e308").as_number() ==
        std::numeric_limits<double>::max());
  CHECK(value_from_json("1e-400").as_number() == 0.0); // underflow is a finite double
  for (const char* text : {"NaN", "Infinity", "-Infinity", "[nan]"})
    CHECK_THROWS_MATCHES(value_from_json(text), JsonError,
                         ember::testing::message_that(StartsWith("invalid JSON at offset")));
}

TEST_CASE("NaN and infinities pass through Boost.JSON documents and CAF but not JSON text",
          "[bad_input][types][nan]") {
  const double inf = std::numeric_limits<double>::infinity();
  const Record record{{"nan", std::nan("")}, {"inf", inf}, {"scores", List{1.0, -inf}}};
  const boost::json::value document = to_boost_json(record);
  CHECK(std::isnan(document.at("nan").as_double()));
  CHECK(value_from_boost_json(document) == Value(record));
  const Record back = caf_round_trip(record);
  CHECK(std::isnan(back.get<double>("nan")));
  CHECK(back == record);
  CHECK_THROWS_MATCHES(to_json(record), JsonError,
                       Catch::Message("field 'inf' is infinite, which JSON cannot represent"));
  CHECK(to_string(record) == R"({"inf":Infinity,"nan":NaN,"scores":[1.0,-Infinity]})");
}

TEST_CASE("a record key that is not UTF-8 is refused by to_json naming its record",
          "[bad_input][types][utf8]") {
  // Regression: the error called the record holding the key "a string".
  const Record nested{{"options", Record{{"k\xFF", 1}}}};
  CHECK_THROWS_MATCHES(to_json(nested), JsonError,
                       Catch::Message("field 'options' is a record with a key that is not valid "
                                      "UTF-8 (byte 1)"));
  CHECK_THROWS_MATCHES(to_json(Record{{"\xC0\xAF", 1}}), JsonError,
                       Catch::Message("value is a record with a key that is not valid UTF-8 "
                                      "(byte 0)"));
  CHECK(to_string(nested) == R"({"options":{"k\ufffd":1}})");
  CHECK(caf_round_trip(nested) == nested);
  CHECK_THROWS_AS(record_from_json("{\"k\xFF\": 1}"), JsonError);
}

TEST_CASE("invalid UTF-8 in a string value keeps its bytes everywhere but JSON text",
          "[bad_input][types][utf8]") {
  const std::string bytes{"ok\xED\xA0\x80", 5}; // a lone surrogate
  const Record record{{"list", List{"fine", bytes}}};
  CHECK(record.get<List>("list")[1].as_string() == bytes);
  CHECK(caf_round_trip(record) == record);
  CHECK(value_from_boost_json(to_boost_json(Value(record))) == Value(record));
  CHECK_THROWS_MATCHES(to_json(record), JsonError,
                       Catch::Message("field 'list[1]' is a string that is not valid UTF-8 "
                                      "(byte 2)"));
}

TEST_CASE("nesting past the limit is an error for every serialized form but to_string",
          "[bad_input][types][deep]") {
  const Value too_deep = nested_lists(max_serialized_depth + 5);
  CHECK_THROWS_MATCHES(to_json(too_deep), JsonError,
                       ember::testing::message_that(Contains("nested deeper than 1000 levels")));
  CHECK_THROWS_MATCHES(to_boost_json(too_deep), JsonError,
                       Catch::Message("JSON document nested deeper than 1000 levels"));
  const std::string text = to_string(too_deep);
  CHECK_THAT(text, Contains("[...]"));
  CHECK(text.size() == 2 * max_serialized_depth + 5);

  boost::json::value document = boost::json::array{};
  for (std::size_t i = 0; i < max_serialized_depth + 5; ++i)
    document = boost::json::array{document};
  CHECK_THROWS_MATCHES(value_from_boost_json(document), JsonError,
                       Catch::Message("JSON document nested deeper than 1000 levels"));

  std::vector<char> buffer;
  caf::binary_serializer sink{nullptr, buffer};
  auto copy = too_deep;
  const caf::error error = sink(copy);
  CHECK(error.category() == caf::atom("system"));
  CHECK(error.code() == static_cast<std::uint8_t>(caf::sec::invalid_argument));
}

TEST_CASE("converting a struct member keeps NaN and infinity and names wrong kinds",
          "[bad_input][types][convert]") {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(std::isnan(from_value<float>(Value(std::nan("")))));
  CHECK(from_value<float>(Value(-inf)) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(to_value(std::nan("")).as_number()));
  CHECK_THROWS_MATCHES(from_value<std::vector<std::int64_t>>(Value(List{1, "two"})),
                       ConversionError,
                       Catch::Message("field 'value[1]' is a string, expected an integer"));
  CHECK_THROWS_MATCHES(from_value<std::string>(Value()), ConversionError,
                       Catch::Message("value is null, expected a string"));
}

TEST_CASE("a null C string is refused naming Value and what to write instead",
          "[bad_input][types][empty]") {
  // Regression: libstdc++'s "basic_string: construction from null is not
  // valid" named neither the Value nor the way to store a null.
  const char* missing = nullptr;
  CHECK_THROWS_MATCHES(Value(missing), std::invalid_argument,
                       Catch::Message("Value: a null const char* is not a string; write nullptr "
                                      "or Value{} for a null value"));
  CHECK_THROWS_AS((Record{{"text", missing}}), std::invalid_argument);
  CHECK(Value(nullptr).is_null());
  CHECK(Value("").as_string().empty());
}
