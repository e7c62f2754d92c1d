#include "ember/core/registry/specification.hpp"

#include <algorithm>
#include <stdexcept>

#include "ember/core/exceptions.hpp"

namespace ember {
namespace {

bool holds(const Value& value, FieldType type) noexcept {
  switch (type) {
  case FieldType::any: return true;
  case FieldType::boolean: return value.kind() == ValueKind::boolean;
  case FieldType::integer: return value.kind() == ValueKind::integer;
  case FieldType::number: return value.is_number();
  case FieldType::string: return value.kind() == ValueKind::string;
  case FieldType::list: return value.kind() == ValueKind::list;
  case FieldType::record: return value.kind() == ValueKind::record;
  }
  return false;
}

[[noreturn]] void fail(std::string_view operator_name, std::string_view direction,
                       const Field& field, std::string actual) {
  auto expected = std::string{describe(field.type)};
  auto prefix = "operator '" + std::string{operator_name} + "': ";
  auto message = actual == "missing"
      ? prefix + "required " + std::string{direction} + " field '" + field.name +
            "' is missing (expected " + expected + ")"
      : prefix + std::string{direction} + " field '" + field.name + "' is " + actual +
            ", expected " + expected;
  throw ValidationError(std::string{operator_name}, field.name, std::move(expected),
                        std::move(actual), message);
}

// An optional field may be null (Python's Optional[T]); a required one may not
// unless it is typed `any`.
void check(std::string_view operator_name, std::string_view direction,
           const std::vector<Field>& fields, const Record& record) {
  for (const auto& field : fields) {
    const Value* value = record.find(field.name);
    if (value == nullptr) {
      if (field.required)
        fail(operator_name, direction, field, "missing");
      continue;
    }
    if (!holds(*value, field.type) && !(value->is_null() && !field.required))
      fail(operator_name, direction, field, std::string{describe(value->kind())});
  }
}

} // namespace

std::string_view describe(FieldType type) noexcept {
  switch (type) {
  case FieldType::any: return "any value";
  case FieldType::boolean: return "a boolean";
  case FieldType::integer: return "an integer";
  case FieldType::number: return "a number";
  case FieldType::string: return "a string";
  case FieldType::list: return "a list";
  case FieldType::record: return "a record";
  }
  return "an unknown type";
}

Field Field::required_field(std::string name, FieldType type) {
  return Field{std::move(name), type, true, std::nullopt};
}

Field Field::optional_field(std::string name, FieldType type, std::optional<Value> default_value) {
  return Field{std::move(name), type, false, std::move(default_value)};
}

Specification::Specification(std::vector<Field> inputs, std::vector<Field> outputs)
    : inputs_(std::move(inputs)), outputs_(std::move(outputs)) {
  for (const auto& field : inputs_)
    has_defaults_ = has_defaults_ || field.default_value.has_value();
}

Record Specification::validate_inputs(std::string_view operator_name, const Record& inputs) const {
  check(operator_name, "input", inputs_, inputs);
  if (!has_defaults_)
    return inputs;
  Record completed = inputs;
  for (const auto& field : inputs_)
    if (field.default_value && !completed.contains(field.name))
      completed.set(field.name, *field.default_value);
  return completed;
}

Specification Specification::with_prompt(PromptTemplate prompt) const {
  if (!inputs_.empty()) {
    for (const auto& name : prompt.fields()) {
      auto declared = [&](const Field& field) { return field.name == name; };
      if (std::find_if(inputs_.begin(), inputs_.end(), declared) != inputs_.end())
        continue;
      std::string names;
      for (const auto& field : inputs_)
        names += (names.empty() ? "" : ", ") + field.name;
      throw std::invalid_argument("prompt template names {" + name +
                                  "}, which is not an input field; the input fields are " + names);
    }
  }
  Specification copy = *this;
  copy.prompt_ = std::move(prompt);
  return copy;
}

void Specification::validate_outputs(std::string_view operator_name, const Record& outputs) const {
  check(operator_name, "output", outputs_, outputs);
}

} // namespace ember
