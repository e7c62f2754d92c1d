// What an operator accepts and returns: named, typed input and output fields.
#pragma once
#include "ember/config.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ember/core/registry/prompt_template.hpp"
#include "ember/core/types/record.hpp"

namespace ember {

/// The type a field must hold. `number` accepts integers and doubles.
enum class FieldType { any, boolean, integer, number, string, list, record };

/// "a string", "a number", ... as used in validation messages.
std::string_view describe(FieldType type) noexcept;

/// One field of a Specification.
struct Field {
  std::string name;
  FieldType type = FieldType::any;
  bool required = true;
  /// Filled in for an absent optional input before forward runs.
  std::optional<Value> default_value;

  static Field required_field(std::string name, FieldType type = FieldType::any);
  static Field optional_field(std::string name, FieldType type = FieldType::any,
                              std::optional<Value> default_value = std::nullopt);
};

/// Input and output fields of an operator. Fields not named are allowed and
/// passed through untouched (the guide broadcasts extra fields such as
/// "options"); an empty Specification accepts any record.
class Specification {
public:
  Specification() = default;
  Specification(std::vector<Field> inputs, std::vector<Field> outputs);

  const std::vector<Field>& inputs() const noexcept { return inputs_; }
  const std::vector<Field>& outputs() const noexcept { return outputs_; }

  /// Checks `inputs` and returns them with the defaults of absent optional
  /// fields filled in. Throws ValidationError naming the operator, the field,
  /// the expected and the actual type.
  Record validate_inputs(std::string_view operator_name, const Record& inputs) const;

  /// Checks `outputs`; throws ValidationError as validate_inputs does.
  void validate_outputs(std::string_view operator_name, const Record& outputs) const;

  /// The prompt of an operator that calls a model, if it has one.
  const std::optional<PromptTemplate>& prompt() const noexcept { return prompt_; }

  /// This specification with `prompt` as its prompt template. Throws
  /// std::invalid_argument naming a placeholder that is not one of the
  /// declared input fields (when any are declared) and listing those.
  Specification with_prompt(PromptTemplate prompt) const;

private:
  std::vector<Field> inputs_;
  std::vector<Field> outputs_;
  bool has_defaults_ = false;
  std::optional<PromptTemplate> prompt_;
};

} // namespace ember
