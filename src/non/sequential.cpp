#include "ember/core/non/sequential.hpp"

#include <algorithm>
#include <stdexcept>

namespace ember::non {
namespace {

std::string chain_name(const std::vector<OperatorRef>& stages) {
  if (stages.empty())
    throw std::invalid_argument("Sequential: no stages; allowed: one or more operators");
  std::string name = "Sequential(";
  for (std::size_t i = 0; i < stages.size(); ++i) {
    if (!stages[i])
      throw std::invalid_argument("Sequential: stage " + std::to_string(i) + " is empty");
    name += (i == 0 ? "" : " -> ") + stages[i].name();
  }
  return name + ")";
}

OperatorKind chain_kind(const std::vector<OperatorRef>& stages) {
  bool waits = std::any_of(stages.begin(), stages.end(),
                           [](const OperatorRef& stage) { return stage->kind() == OperatorKind::io; });
  return waits ? OperatorKind::io : OperatorKind::cpu;
}

} // namespace

Sequential::Sequential(std::vector<OperatorRef> stages)
    : Operator(chain_name(stages), {}, chain_kind(stages)), stages_(std::move(stages)) {}

Record Sequential::forward(const Record& inputs) const {
  Record current = stages_.front()(inputs);
  for (std::size_t i = 1; i < stages_.size(); ++i)
    current = stages_[i](current);
  return current;
}

} // namespace ember::non
