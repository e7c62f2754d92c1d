// NON: a model checks a candidate answer and may revise it.
#pragma once

#include "ember/config.hpp"

#include <optional>
#include <string>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::non {

/// Ember's VerifierOperator: inputs `query` and `candidate_answer`, outputs
/// `verdict` (1 correct, 0 incorrect), `explanation` and `revised_answer`
/// (null when the model gives none), parsed from the model's lines
/// "Verdict:", "Explanation:" and "Revised Answer:" (also "Revised Answer
/// (optional):", as the default prompt words it); a section runs on over
/// the lines up to the next one. A verdict that is not a number counts as
/// correct when it says "correct" and not "incorrect". No verdict line: 0.
class Verifier final : public Operator {
public:
  static const char* const default_prompt;

  /// Throws std::invalid_argument for an empty model or a malformed prompt
  /// template, or one naming a field other than query and candidate_answer.
  explicit Verifier(OperatorRef model, std::optional<std::string> prompt_template = std::nullopt);

  Record forward(const Record& inputs) const override;

private:
  OperatorRef model_;
};

} // namespace ember::non
