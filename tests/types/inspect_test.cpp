// CAF serialization of records: what crosses a process boundary arrives intact.
#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/message.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ember/core/types/record_inspect.hpp"

using ember::List;
using ember::Record;
using ember::Value;

namespace {

using Buffer = std::vector<char>;

template <class T>
Buffer serialize(const T& x) {
  Buffer buffer;
  caf::binary_serializer sink{nullptr, buffer};
  auto copy = x;
  if (auto error = sink(copy))
    FAIL("serializing failed: " << caf::to_string(error));
  return buffer;
}

template <class T>
caf::error deserialize(const Buffer& buffer, T& x) {
  caf::binary_deserializer source{nullptr, buffer};
  return source(x);
}

// Every kind, nested through lists and records alternately, 60 levels deep.
Record every_kind_nested() {
  const double inf = std::numeric_limits<double>::infinity();
  Value inner = Record{{"null", nullptr},
                       {"yes", true},
                       {"no", false},
                       {"min", std::numeric_limits<std::int64_t>::min()},
                       {"max", std::numeric_limits<std::int64_t>::max()},
                       {"nan", std::nan("")},
                       {"inf", inf},
                       {"neg_inf", -inf},
                       {"neg_zero", -0.0},
                       {"third", 1.0 / 3.0},
                       {"text", "h\xC3\xA9llo"},
                       {"bytes", std::string("a\0\xFF", 3)},
                       {"empty_text", ""},
                       {"empty_list", List{}},
                       {"empty_record", Record{}}};
  for (int level = 0; level < 30; ++level)
    inner = Record{{"level", level}, {"items", List{level, inner, "after"}}};
  return Record{{"root", inner}, {"", "empty key"}};
}

const Value& innermost(const Record& record) {
  const Value* at = &record.at("root");
  while (at->as_record().contains("items"))
    at = &at->as_record().at("items").as_list()[1];
  return *at;
}

} // namespace

TEST_CASE("a deeply nested record with every kind survives a CAF binary round trip",
          "[caf][inspect]") {
  const Record original = every_kind_nested();
  Record back;
  REQUIRE_FALSE(deserialize(serialize(original), back));
  CHECK(back == original);
  const Record& leaf = innermost(back).as_record();
  CHECK(std::isnan(leaf.get<double>("nan")));
  CHECK(std::isinf(leaf.get<double>("neg_inf")));
  CHECK(leaf.get<double>("neg_inf") < 0);
  CHECK(std::signbit(leaf.get<double>("neg_zero")));
  CHECK(leaf.at("min").is_integer());
  CHECK(leaf.get<std::string>("bytes") == std::string("a\0\xFF", 3));
  CHECK(leaf.at("empty_record").is_record());
  CHECK(back.get<std::string>("") == "empty key");
}

TEST_CASE("a single value of each kind survives a CAF binary round trip", "[caf][inspect]") {
  for (const Value& original : {Value(), Value(true), Value(-5), Value(2.5), Value("s"),
                                Value(List{1, List{}}), Value(Record{{"k", List{}}})}) {
    Value back = "placeholder";
    REQUIRE_FALSE(deserialize(serialize(original), back));
    CHECK(back.kind() == original.kind());
    CHECK(back == original);
  }
}

TEST_CASE("CAF serialization refuses nesting deeper than the limit", "[caf][inspect][deep]") {
  Value deep = List{};
  for (std::size_t i = 1; i < ember::max_serialized_depth; ++i)
    deep = List{deep};
  Value back;
  REQUIRE_FALSE(deserialize(serialize(deep), back));
  CHECK(back == deep);

  Buffer buffer;
  caf::binary_serializer sink{nullptr, buffer};
  Value too_deep = List{deep};
  CHECK(sink(too_deep));

  // A hand-made message claiming more nesting than allowed must fail to load
  // cleanly, not exhaust the stack.
  Buffer hostile;
  caf::binary_serializer writer{nullptr, hostile};
  for (int i = 0; i < 100'000; ++i) {
    auto tag = static_cast<std::uint8_t>(ember::ValueKind::list);
    std::size_t one = 1;
    static_cast<void>(writer(tag));
    static_cast<void>(writer.begin_sequence(one));
  }
  REQUIRE(hostile.size() == 200'000);
  CHECK(deserialize(hostile, back));
}

TEST_CASE("CAF deserialization of corrupt input is an error", "[caf][inspect]") {
  Value back;
  CHECK(deserialize(Buffer{char{42}}, back)); // Unknown kind tag.
  Buffer truncated = serialize(Value(List{1, 2, 3}));
  truncated.pop_back();
  CHECK(deserialize(truncated, back));
  Record record;
  CHECK(deserialize(Buffer{}, record));
}

TEST_CASE("deep_to_string prints a record as its text", "[caf][inspect]") {
  const Record record{{"b", std::nan("")}, {"a", List{1, "x"}}};
  CHECK(caf::deep_to_string(record) == R"({"a":[1,"x"],"b":NaN})");
}

TEST_CASE("a record survives serialization inside a CAF message", "[caf][inspect][message]") {
  caf::actor_system_config config;
  config.add_message_type<Record>("ember::Record");
  caf::actor_system system{config};
  const Record original = every_kind_nested();
  caf::message message = caf::make_message(original);

  Buffer buffer;
  caf::binary_serializer sink{system, buffer};
  REQUIRE_FALSE(sink(message));
  caf::message back;
  caf::binary_deserializer source{system, buffer};
  REQUIRE_FALSE(source(back));
  REQUIRE(back.match_elements<Record>());
  CHECK(back.get_as<Record>(0) == original);
}
