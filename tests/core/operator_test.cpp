#include <catch2/catch.hpp>

#include <thread>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"

using namespace ember;

namespace {

class TextProcessor final : public Operator {
public:
  explicit TextProcessor(std::int64_t max_length)
      : Operator("TextProcessor",
                 Specification{{Field::required_field("text", FieldType::string),
                                Field::optional_field("suffix", FieldType::string, Value{"!"})},
                               {Field::required_field("processed", FieldType::string)}}),
        max_length_(max_length) {}

  Record forward(const Record& inputs) const override {
    auto text = inputs.get<std::string>("text").substr(0, static_cast<std::size_t>(max_length_));
    return Record{{"processed", "Processed: " + text + inputs.get<std::string>("suffix")}};
  }

private:
  std::int64_t max_length_;
};

} // namespace

TEST_CASE("an operator call runs forward with defaults filled in", "[operator]") {
  auto op = make_operator<TextProcessor>(5);
  auto out = op(Record{{"text", "Sample text"}});
  CHECK(out.get<std::string>("processed") == "Processed: Sampl!");
  CHECK(op.name() == "TextProcessor");
}

TEST_CASE("a plain call runs on the calling thread", "[operator][facade]") {
  std::thread::id body_thread;
  auto op = function_operator("where", [&](const Record& in) {
    body_thread = std::this_thread::get_id();
    return in;
  });
  op(Record{{"x", 1}});
  CHECK(body_thread == std::this_thread::get_id());
}

TEST_CASE("a wrong input type names operator, field, expected and actual type",
          "[operator][validation]") {
  auto op = make_operator<TextProcessor>(5);
  try {
    op(Record{{"text", 1.5}});
    FAIL("no ValidationError");
  } catch (const ValidationError& e) {
    CHECK(std::string{e.what()} ==
          "operator 'TextProcessor': input field 'text' is a number, expected a string");
    CHECK(e.operator_name() == "TextProcessor");
    CHECK(e.field() == "text");
    CHECK(e.expected() == "a string");
    CHECK(e.actual() == "a number");
  }
}

TEST_CASE("a missing required input is a validation error", "[operator][validation]") {
  auto op = make_operator<TextProcessor>(5);
  CHECK_THROWS_WITH(op(Record{{"other", "x"}}),
                    "operator 'TextProcessor': required input field 'text' is missing "
                    "(expected a string)");
}

TEST_CASE("outputs that break the specification are rejected", "[operator][validation]") {
  auto op = function_operator(
      "Broken", [](const Record&) { return Record{{"processed", 3}}; },
      Specification{{}, {Field::required_field("processed", FieldType::string)}});
  CHECK_THROWS_AS(op(Record{}), ValidationError);
  CHECK_THROWS_WITH(op(Record{}),
                    "operator 'Broken': output field 'processed' is an integer, expected a string");
}

TEST_CASE("fields outside the specification pass through untouched", "[operator][validation]") {
  auto op = function_operator(
      "Echo", [](const Record& in) { return in; },
      Specification{{Field::required_field("text", FieldType::string)}, {}});
  auto out = op(Record{{"text", "a"}, {"options", Record{{"format", "plain"}}}});
  CHECK(out.get<Record>("options").get<std::string>("format") == "plain");
}

TEST_CASE("an optional field may be null and a number field takes integers", "[operator][validation]") {
  auto op = function_operator(
      "Scale", [](const Record& in) { return Record{{"y", in.get<double>("x") * 2}}; },
      Specification{{Field::required_field("x", FieldType::number),
                     Field::optional_field("note", FieldType::string)},
                    {}});
  CHECK(op(Record{{"x", 2}, {"note", nullptr}}).get<double>("y") == 4.0);
  CHECK_THROWS_AS(op(Record{{"x", "2"}}), ValidationError);
}

TEST_CASE("an operator must have a name and a function operator a body", "[operator]") {
  CHECK_THROWS_WITH(function_operator("", [](const Record& in) { return in; }),
                    "operator name is empty: give every operator a name");
  CHECK_THROWS_WITH(function_operator("Nothing", nullptr),
                    "function_operator 'Nothing': the body is empty");
  CHECK_THROWS_AS(OperatorRef{}(Record{}), std::logic_error);
}
