// NON: operators in a chain.
#pragma once

#include "ember/config.hpp"

#include <vector>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::non {

/// Ember's Sequential: runs its stages in order, each on the previous
/// one's outputs; its inputs are the first stage's, its outputs the last
/// one's. Its kind is io when any stage's is.
class Sequential final : public Operator {
public:
  /// Throws std::invalid_argument for no stages or an empty one (naming its
  /// position).
  explicit Sequential(std::vector<OperatorRef> stages);

  Record forward(const Record& inputs) const override;

private:
  std::vector<OperatorRef> stages_;
};

} // namespace ember::non
