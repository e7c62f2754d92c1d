// An operator made from a function: the quick way to write small operators.
#pragma once
#include "ember/config.hpp"

#include <functional>
#include <string>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember {

using ForwardFunction = std::function<Record(const Record&)>;

/// An operator whose forward is `body`. `body` may run on several threads at
/// once, so it must not mutate shared state without synchronisation.
OperatorRef function_operator(std::string name, ForwardFunction body,
                              Specification specification = {},
                              OperatorKind kind = OperatorKind::cpu);

} // namespace ember
