#include "ember/core/registry/operator/base/operator_base.hpp"

#include <stdexcept>

namespace ember {

Operator::Operator(std::string name, Specification specification, OperatorKind kind)
    : name_(std::move(name)), specification_(std::move(specification)), kind_(kind) {
  if (name_.empty())
    throw std::invalid_argument("operator name is empty: give every operator a name");
}

Record Operator::call_validated(const Record& inputs) const {
  Record outputs = forward(specification_.validate_inputs(name_, inputs));
  specification_.validate_outputs(name_, outputs);
  return outputs;
}

} // namespace ember
