// NON: the majority answer among responses.
#pragma once

#include "ember/config.hpp"

#include "ember/core/registry/operator/base/operator_base.hpp"

namespace ember::non {

/// Ember's MostCommonAnswerSelector: inputs `responses` (a list of
/// strings), outputs `final_answer`, the response given most often; among
/// responses given equally often, the one given first. An empty list or an
/// element that is not a string is a ValidationError naming it.
class MostCommon final : public Operator {
public:
  MostCommon();

  Record forward(const Record& inputs) const override;
};

} // namespace ember::non
