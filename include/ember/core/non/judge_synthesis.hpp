// NON: a model synthesizes one answer from several.
#pragma once

#include "ember/config.hpp"

#include <optional>
#include <string>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::non {

/// Ember's JudgeSynthesisOperator: inputs `query` and `responses` (a list
/// of strings), outputs `final_answer` and `reasoning`, parsed from the
/// model's text as Ember does: the text after the first line that starts
/// with "Final Answer:" ("Unknown" when there is none), and the lines from
/// one starting with "Reasoning:" up to it. The default prompt is Ember's,
/// with the responses one per line.
class JudgeSynthesis final : public Operator {
public:
  static const char* const default_prompt;

  /// Throws std::invalid_argument for an empty model or a malformed prompt
  /// template, or one naming a field other than query and responses.
  explicit JudgeSynthesis(OperatorRef model,
                          std::optional<std::string> prompt_template = std::nullopt);

  Record forward(const Record& inputs) const override;

private:
  OperatorRef model_;
};

} // namespace ember::non
