// The shared handle through which operators are called, composed and spawned.
#pragma once
#include "ember/config.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "ember/core/registry/operator/base/operator_base.hpp"

namespace ember {

/// A shared, copyable handle to an Operator. Calling it is the synchronous
/// facade: the execution options in force here (scope or global) are
/// snapshotted and honoured, e.g. timeout_seconds bounds the wait.
class OperatorRef {
public:
  OperatorRef() = default;
  OperatorRef(std::shared_ptr<const Operator> op) : op_(std::move(op)) {} // NOLINT: implicit by design

  /// Runs the operator under the options in force on this thread. Throws
  /// ValidationError, TimeoutError, or the body's own exception.
  Record operator()(const Record& inputs) const;

  const Operator& operator*() const { return *checked(); }
  const Operator* operator->() const { return checked(); }
  const Operator* get() const noexcept { return op_.get(); }
  const std::shared_ptr<const Operator>& shared() const noexcept { return op_; }
  explicit operator bool() const noexcept { return static_cast<bool>(op_); }
  const std::string& name() const { return checked()->name(); }

  friend bool operator==(const OperatorRef& a, const OperatorRef& b) noexcept {
    return a.op_ == b.op_;
  }

private:
  const Operator* checked() const {
    if (!op_)
      throw std::logic_error("empty OperatorRef: it holds no operator");
    return op_.get();
  }

  std::shared_ptr<const Operator> op_;
};

/// Creates an operator of type T and returns its shared handle.
template <class T, class... Args>
  requires std::is_base_of_v<Operator, T>
OperatorRef make_operator(Args&&... args) {
  return OperatorRef{std::make_shared<const T>(std::forward<Args>(args)...)};
}

} // namespace ember
