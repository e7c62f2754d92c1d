// Typed operators: C++ structs in and out, records at the boundary.
#pragma once
#include "ember/config.hpp"

#include <string>
#include <utility>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/operator_ref.hpp"
#include "ember/core/types/record_convert.hpp"

namespace ember {

/// An operator written against described structs. Its Specification is
/// generated from the members of In and Out (see fields_of), so a call is
/// validated by the facade like any other operator's. A mismatch the
/// Specification cannot see (a nested member, an integer outside a member's
/// range) still throws ValidationError naming the operator and member path.
///
///   class Answerer final : public TypedOperator<Question, Answer> {
///   public:
///     Answerer() : TypedOperator("Answerer") {}
///   protected:
///     Answer run(const Question& q) const override { ... }
///   };
template <DescribedStruct In, DescribedStruct Out>
class TypedOperator : public Operator {
public:
  using Input = In;
  using Output = Out;

  Record forward(const Record& inputs) const final {
    In input = convert("input", [&] { return from_record<In>(inputs); });
    Out output = run(input);
    return convert("output", [&] { return to_record(output); });
  }

protected:
  explicit TypedOperator(std::string name, OperatorKind kind = OperatorKind::cpu)
      : Operator(std::move(name), Specification{fields_of<In>(), fields_of<Out>()}, kind) {}

  /// The body; const and possibly run on several threads at once, as forward.
  virtual Out run(const In& input) const = 0;

private:
  // Only the conversions are wrapped: a ConversionError thrown by run itself
  // is the body's own exception and stays as it is.
  template <class Convert>
  auto convert(const char* direction, Convert&& conversion) const {
    try {
      return std::forward<Convert>(conversion)();
    } catch (const ConversionError& e) {
      throw ValidationError(name(), e.path(), e.expected(), e.actual(),
                            "operator '" + name() + "': " + direction + " " + e.what());
    }
  }
};

/// Calls `op` through the synchronous facade with `input` as a record and
/// reads its output as Out. Throws what OperatorRef::operator() throws, and
/// ConversionError when the output does not fit Out.
template <DescribedStruct Out, DescribedStruct In>
Out call(const OperatorRef& op, const In& input) {
  return from_record<Out>(op(to_record(input)));
}

} // namespace ember
