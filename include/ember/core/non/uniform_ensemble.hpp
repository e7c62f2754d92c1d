// NON: n calls of one model on the same prompt.
#pragma once

#include "ember/config.hpp"

#include <optional>
#include <string>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::non {

/// Ember's UniformEnsemble: inputs `query` (a string), outputs `responses`
/// (a list of `num_units` strings, in member order). Each member sends the
/// model `{"prompt": <the rendered prompt>, "sample": i}` and reads its
/// `text`; `sample` keeps the n answers apart under enable_caching (identical
/// requests would share one). The calls run one after another in a plain
/// call and at once under structural_jit. The default prompt is "{query}".
class UniformEnsemble final : public Operator {
public:
  /// Throws std::invalid_argument for an empty model, num_units below 1 or
  /// a malformed prompt template.
  UniformEnsemble(OperatorRef model, int num_units,
                  std::optional<std::string> prompt_template = std::nullopt);

  Record forward(const Record& inputs) const override;

private:
  OperatorRef model_;
  int num_units_;
};

} // namespace ember::non
