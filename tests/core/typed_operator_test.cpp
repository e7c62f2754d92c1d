#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/typed_operator.hpp"
#include "ember/core/types/record_convert.hpp"

using namespace ember;

namespace {

struct Question {
  std::string text;
  std::int64_t max_length = 100;
  std::optional<std::string> model;
};
BOOST_DESCRIBE_STRUCT(Question, (), (text, max_length, model))

struct Answer {
  std::string text;
  std::int64_t length = 0;
};
BOOST_DESCRIBE_STRUCT(Answer, (), (text, length))

struct Inner {
  std::int64_t count = 0;
  std::string label;
};
BOOST_DESCRIBE_STRUCT(Inner, (), (count, label))

struct Everything {
  bool flag = false;
  int small = 0;
  std::uint8_t byte = 0;
  std::uint64_t big = 0;
  float ratio = 0;
  double score = 0;
  std::string name;
  std::vector<std::int64_t> numbers;
  std::vector<bool> bits;
  std::optional<double> maybe;
  std::optional<std::string> absent;
  std::vector<std::optional<int>> holes;
  Value anything;
  Record extra;
  List items;
  Inner inner;
  std::vector<Inner> inners;
};
BOOST_DESCRIBE_STRUCT(Everything, (),
                      (flag, small, byte, big, ratio, score, name, numbers, bits, maybe, absent,
                       holes, anything, extra, items, inner, inners))

bool operator==(const Inner& a, const Inner& b) {
  return a.count == b.count && a.label == b.label;
}

Everything sample() {
  Everything e;
  e.flag = true;
  e.small = -7;
  e.byte = 255;
  e.big = 9'000'000'000;
  e.ratio = 0.5F;
  e.score = 2.25;
  e.name = "ember";
  e.numbers = {1, 2, 3};
  e.bits = {true, false};
  e.maybe = 1.5;
  e.holes = {4, std::nullopt};
  e.anything = Value{"free"};
  e.extra = Record{{"k", 1}};
  e.items = List{Value{1}, Value{"two"}};
  e.inner = Inner{3, "three"};
  e.inners = {Inner{1, "one"}, Inner{2, "two"}};
  return e;
}

class Shortener final : public TypedOperator<Question, Answer> {
public:
  Shortener() : TypedOperator("Shortener") {}

protected:
  Answer run(const Question& q) const override {
    auto text = q.text.substr(0, static_cast<std::size_t>(q.max_length));
    if (q.model)
      text += " (" + *q.model + ")";
    auto length = static_cast<std::int64_t>(text.size());
    return Answer{std::move(text), length};
  }
};

struct Counted {
  Inner inner;
};
BOOST_DESCRIBE_STRUCT(Counted, (), (inner))

struct Overflowing {
  std::uint64_t id = 0;
};
BOOST_DESCRIBE_STRUCT(Overflowing, (), (id))

// Echoes its nested input; lets the tests reach the checks the generated
// Specification cannot make (nested members, ranges).
class Nested final : public TypedOperator<Counted, Overflowing> {
public:
  Nested() : TypedOperator("Nested", OperatorKind::io) {}

protected:
  Overflowing run(const Counted& c) const override {
    return Overflowing{c.inner.count < 0 ? std::numeric_limits<std::uint64_t>::max()
                                         : static_cast<std::uint64_t>(c.inner.count)};
  }
};

} // namespace

TEST_CASE("every supported member type survives a round trip through a record",
          "[convert][round_trip]") {
  const Everything in = sample();
  const Record record = to_record(in);
  const auto out = from_record<Everything>(record);
  CHECK(out.flag == in.flag);
  CHECK(out.small == in.small);
  CHECK(out.byte == in.byte);
  CHECK(out.big == in.big);
  CHECK(out.ratio == in.ratio);
  CHECK(out.score == in.score);
  CHECK(out.name == in.name);
  CHECK(out.numbers == in.numbers);
  CHECK(out.bits == in.bits);
  CHECK(out.maybe == in.maybe);
  CHECK_FALSE(out.absent.has_value());
  CHECK(out.holes == in.holes);
  CHECK(out.anything == in.anything);
  CHECK(out.extra == in.extra);
  CHECK(out.items == in.items);
  CHECK(out.inner == in.inner);
  CHECK(out.inners == in.inners);
  CHECK(to_record(out) == record);
}

TEST_CASE("a record holds the model's kinds for each member", "[convert][round_trip]") {
  const Record record = to_record(sample());
  CHECK(record.get<bool>("flag"));
  CHECK(record.get<std::int64_t>("big") == 9'000'000'000);
  CHECK(record.at("ratio").kind() == ValueKind::number);
  CHECK(record.get<Record>("inner") == Record{{"count", 3}, {"label", "three"}});
  CHECK(record.get<List>("inners").at(1) == Value{Record{{"count", 2}, {"label", "two"}}});
  CHECK(record.get<List>("bits") == List{Value{true}, Value{false}});
  CHECK(record.get<List>("holes") == List{Value{4}, Value{}});
}

TEST_CASE("std::nullopt is an omitted field and absent or null fields read as nullopt",
          "[convert][optional]") {
  const Record record = to_record(Question{"hi", 5, std::nullopt});
  CHECK(record == Record{{"text", "hi"}, {"max_length", 5}});
  CHECK(to_record(Question{"hi", 5, "m"}).get<std::string>("model") == "m");
  CHECK_FALSE(from_record<Question>(record).model.has_value());
  CHECK_FALSE(from_record<Question>(record.with("model", nullptr)).model.has_value());
}

TEST_CASE("fields the struct does not name are ignored", "[convert]") {
  const auto q = from_record<Question>(Record{{"text", "hi"}, {"max_length", 3}, {"seed", 9}});
  CHECK(q.text == "hi");
  CHECK(q.max_length == 3);
}

TEST_CASE("integers convert to a double member but doubles not to an integer member",
          "[convert][number]") {
  auto e = sample();
  CHECK(from_record<Everything>(to_record(e).with("score", 2)).score == 2.0);
  CHECK_THROWS_WITH(from_record<Everything>(to_record(e).with("small", 2.0)),
                    "field 'small' is a number, expected an integer");
}

TEST_CASE("bare values convert with to_value and from_value", "[convert][value]") {
  CHECK(to_value(std::vector<int>{1, 2}) == Value{List{Value{1}, Value{2}}});
  CHECK(to_value(std::optional<int>{}) == Value{});
  CHECK(from_value<Inner>(Value{Record{{"count", 4}, {"label", "x"}}}) == Inner{4, "x"});
  CHECK_THROWS_WITH(from_value<std::string>(Value{1.5}), "value is a number, expected a string");
  CHECK_THROWS_WITH(from_value<std::vector<std::string>>(Value{List{Value{"a"}, Value{true}}}),
                    "field 'value[1]' is a boolean, expected a string");
}

TEST_CASE("a missing required member names its path", "[convert][error]") {
  CHECK_THROWS_AS(from_record<Question>(Record{{"max_length", 1}}), FieldError);
  CHECK_THROWS_WITH(from_record<Question>(Record{{"max_length", 1}}), "field 'text' is missing");
  CHECK_THROWS_WITH(from_record<Counted>(Record{{"inner", Record{{"label", "x"}}}}),
                    "field 'inner.count' is missing");
}

TEST_CASE("a wrongly typed member names its path and both types", "[convert][error]") {
  CHECK_THROWS_WITH(from_record<Question>(Record{{"text", 1.5}}),
                    "field 'text' is a number, expected a string");
  CHECK_THROWS_WITH(from_record<Counted>(Record{{"inner", Record{{"count", "3"}, {"label", "x"}}}}),
                    "field 'inner.count' is a string, expected an integer");
  auto record = to_record(sample());
  auto inners = record.get<List>("inners");
  inners.push_back(Value{Record{{"count", 1}, {"label", nullptr}}});
  CHECK_THROWS_WITH(from_record<Everything>(record.with("inners", inners)),
                    "field 'inners[2].label' is null, expected a string");
  CHECK_THROWS_WITH(from_record<Everything>(record.with("maybe", "x")),
                    "field 'maybe' is a string, expected a number");
  try {
    from_record<Counted>(Record{{"inner", 7}});
    FAIL("no ConversionError");
  } catch (const ConversionError& e) {
    CHECK(e.path() == "inner");
    CHECK(e.expected() == "a record");
    CHECK(e.actual() == "an integer");
  }
}

TEST_CASE("integers outside a member's range are rejected both ways", "[convert][range]") {
  const Record record = to_record(sample());
  CHECK_THROWS_WITH(
      from_record<Everything>(record.with("byte", 256)),
      "field 'byte' is the integer 256, outside the range of std::uint8_t (0 to 255)");
  CHECK_THROWS_WITH(from_record<Everything>(record.with("big", -1)),
                    "field 'big' is the integer -1, outside the range of std::uint64_t "
                    "(0 to 18446744073709551615)");
  CHECK_THROWS_WITH(from_record<Everything>(record.with("small", std::int64_t{1} << 40)),
                    "field 'small' is the integer 1099511627776, outside the range of std::int32_t "
                    "(-2147483648 to 2147483647)");
  CHECK_THROWS_WITH(from_record<Everything>(record.with("ratio", 1e300)),
                    "field 'ratio' is the number 1e+300, outside the range of float "
                    "(-3.4028234663852886e+38 to 3.4028234663852886e+38)");
  Overflowing huge{std::numeric_limits<std::uint64_t>::max()};
  CHECK_THROWS_WITH(to_record(huge), "field 'id' is the integer 18446744073709551615, outside "
                                     "the range of std::int64_t (-2^63 to 2^63 - 1)");
}

TEST_CASE("the specification lists the struct members with types and required flags",
          "[convert][specification]") {
  const auto fields = fields_of<Question>();
  REQUIRE(fields.size() == 3);
  CHECK(fields[0].name == "text");
  CHECK(fields[0].type == FieldType::string);
  CHECK(fields[0].required);
  CHECK(fields[1].name == "max_length");
  CHECK(fields[1].type == FieldType::integer);
  CHECK(fields[1].required);
  CHECK(fields[2].name == "model");
  CHECK(fields[2].type == FieldType::string);
  CHECK_FALSE(fields[2].required);
  CHECK_FALSE(fields[2].default_value.has_value());

  STATIC_REQUIRE(field_type_of<bool>() == FieldType::boolean);
  STATIC_REQUIRE(field_type_of<std::uint8_t>() == FieldType::integer);
  STATIC_REQUIRE(field_type_of<float>() == FieldType::number);
  STATIC_REQUIRE(field_type_of<std::vector<Inner>>() == FieldType::list);
  STATIC_REQUIRE(field_type_of<List>() == FieldType::list);
  STATIC_REQUIRE(field_type_of<Inner>() == FieldType::record);
  STATIC_REQUIRE(field_type_of<Record>() == FieldType::record);
  STATIC_REQUIRE(field_type_of<Value>() == FieldType::any);
  STATIC_REQUIRE(field_type_of<std::optional<double>>() == FieldType::number);
}

TEST_CASE("a typed operator has the specification of its structs", "[typed_operator]") {
  auto op = make_operator<Shortener>();
  const auto& spec = op->specification();
  REQUIRE(spec.inputs().size() == 3);
  CHECK(spec.inputs()[2].name == "model");
  CHECK_FALSE(spec.inputs()[2].required);
  REQUIRE(spec.outputs().size() == 2);
  CHECK(spec.outputs()[1].name == "length");
  CHECK(spec.outputs()[1].type == FieldType::integer);
  CHECK(op->kind() == OperatorKind::cpu);
  CHECK(make_operator<Nested>()->kind() == OperatorKind::io);
}

TEST_CASE("a typed operator is called with a record through its handle", "[typed_operator]") {
  auto op = make_operator<Shortener>();
  const Record out = op(Record{{"text", "Sample text"}, {"max_length", 6}});
  CHECK(out == Record{{"text", "Sample"}, {"length", 6}});
}

TEST_CASE("call runs a typed operator with structs in and out", "[typed_operator]") {
  auto op = make_operator<Shortener>();
  const auto answer = call<Answer>(op, Question{"Sample text", 6, "m1"});
  CHECK(answer.text == "Sample (m1)");
  CHECK(answer.length == 11);
}

TEST_CASE("a wrong input type through the facade names the operator", "[typed_operator][error]") {
  auto op = make_operator<Shortener>();
  try {
    op(Record{{"text", 1.5}});
    FAIL("no ValidationError");
  } catch (const ValidationError& e) {
    CHECK(std::string{e.what()} ==
          "operator 'Shortener': input field 'text' is a number, expected a string");
    CHECK(e.operator_name() == "Shortener");
    CHECK(e.field() == "text");
    CHECK(e.expected() == "a string");
    CHECK(e.actual() == "a number");
  }
  CHECK_THROWS_WITH(op(Record{{"max_length", 3}}),
                    "operator 'Shortener': required input field 'text' is missing "
                    "(expected a string)");
}

TEST_CASE("a nested input mismatch is a validation error naming the operator",
          "[typed_operator][error]") {
  auto op = make_operator<Nested>();
  try {
    op(Record{{"inner", Record{{"count", "3"}, {"label", "x"}}}});
    FAIL("no ValidationError");
  } catch (const ValidationError& e) {
    CHECK(std::string{e.what()} ==
          "operator 'Nested': input field 'inner.count' is a string, expected an integer");
    CHECK(e.operator_name() == "Nested");
    CHECK(e.field() == "inner.count");
    CHECK(e.expected() == "an integer");
    CHECK(e.actual() == "a string");
  }
}

TEST_CASE("an output outside the record range is a validation error naming the operator",
          "[typed_operator][error]") {
  auto op = make_operator<Nested>();
  CHECK(call<Overflowing>(op, Counted{Inner{5, "x"}}).id == 5);
  CHECK_THROWS_WITH(op(Record{{"inner", Record{{"count", -1}, {"label", "x"}}}}),
                    "operator 'Nested': output field 'id' is the integer 18446744073709551615, "
                    "outside the range of std::int64_t (-2^63 to 2^63 - 1)");
}
