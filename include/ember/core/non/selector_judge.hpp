// NON: a model selects the best of several answers.
#pragma once

#include "ember/config.hpp"

#include <optional>
#include <string>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::non {

/// Ember's SelectorJudgeOperator: as JudgeSynthesis (same inputs, outputs
/// and parsing), with Ember's prompt asking the model to select one of the
/// responses rather than write a new one.
class SelectorJudge final : public Operator {
public:
  static const char* const default_prompt;

  /// Throws as JudgeSynthesis's constructor does.
  explicit SelectorJudge(OperatorRef model,
                         std::optional<std::string> prompt_template = std::nullopt);

  Record forward(const Record& inputs) const override;

private:
  OperatorRef model_;
};

} // namespace ember::non
