#include "ember/core/registry/operator/base/function_operator.hpp"

#include <stdexcept>

namespace ember {
namespace {

class FunctionOperator final : public Operator {
public:
  FunctionOperator(std::string name, ForwardFunction body, Specification specification,
                   OperatorKind kind)
      : Operator(std::move(name), std::move(specification), kind), body_(std::move(body)) {}

  Record forward(const Record& inputs) const override { return body_(inputs); }

private:
  ForwardFunction body_;
};

} // namespace

OperatorRef function_operator(std::string name, ForwardFunction body, Specification specification,
                              OperatorKind kind) {
  if (!body)
    throw std::invalid_argument("function_operator '" + name + "': the body is empty");
  return make_operator<FunctionOperator>(std::move(name), std::move(body),
                                         std::move(specification), kind);
}

} // namespace ember
