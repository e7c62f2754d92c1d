// Models tried in order: the first that answers gives the call's outputs.
#pragma once
#include "ember/config.hpp"

#include <vector>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::models {

/// An asynchronous operator over `models` (each an AsyncOperator, such as
/// ModelRegistry::model gives): a call goes to the first; when it fails for
/// good (after its own retries), the same inputs go to the next, and so on.
/// A call that is stopped (its deadline, fail_fast) ends at once and tries no
/// further model. When every model failed, the error is a ModelRequestError
/// naming each model and its error, with the last one's status. Its name is
/// "Fallback(a -> b -> ...)"; its specification is the first model's. Each
/// model records its own usage. Throws ModelConfigError for no models, an
/// empty one, or one that is not asynchronous, naming its position.
OperatorRef with_fallbacks(std::vector<OperatorRef> models);

} // namespace ember::models
