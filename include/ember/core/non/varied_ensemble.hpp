// NON: one call of each of several models on the same prompt.
#pragma once

#include "ember/config.hpp"

#include <optional>
#include <string>
#include <vector>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::non {

/// Ember's VariedEnsemble: inputs `query`, outputs `responses` (one string
/// per model, in the order given). Each model gets `{"prompt": ...}` and
/// answers with its `text`. The calls run one after another in a plain call
/// and at once under structural_jit. The default prompt is "{query}".
class VariedEnsemble final : public Operator {
public:
  /// Throws std::invalid_argument for no models, an empty one (naming its
  /// position) or a malformed prompt template.
  explicit VariedEnsemble(std::vector<OperatorRef> models,
                          std::optional<std::string> prompt_template = std::nullopt);

  Record forward(const Record& inputs) const override;

private:
  std::vector<OperatorRef> models_;
};

} // namespace ember::non
