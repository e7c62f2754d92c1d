// The prompt an operator that calls a model renders from its inputs.
#pragma once

#include "ember/config.hpp"

#include <string>
#include <string_view>
#include <vector>

#include "ember/core/types/record.hpp"

namespace ember {

/// A prompt with `{field}` placeholders filled from an operator's inputs;
/// `{{` and `}}` stand for literal braces (Python's str.format, which Ember's
/// templates use, minus format specs).
class PromptTemplate {
public:
  /// Parses `text`. Throws std::invalid_argument naming the offset of an
  /// unclosed `{`, an empty or malformed placeholder, or a lone `}`.
  explicit PromptTemplate(std::string text);

  const std::string& text() const noexcept { return text_; }

  /// The input fields the template names, in order of first use.
  const std::vector<std::string>& fields() const noexcept { return fields_; }

  /// The prompt for `inputs`: a string value as it is, a list one element
  /// per line (strings as they are, other values as JSON), any other value as
  /// JSON. Throws ValidationError naming `operator_name` and the field when
  /// an input the template names is missing.
  std::string render(std::string_view operator_name, const Record& inputs) const;

private:
  struct Piece {
    bool field;
    std::string text; // literal text, or the field's name
  };

  std::string text_;
  std::vector<Piece> pieces_;
  std::vector<std::string> fields_;
};

} // namespace ember
