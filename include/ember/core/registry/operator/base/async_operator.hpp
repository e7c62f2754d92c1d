// Operators whose body completes later (a timer, a callback, a network
// reply) instead of blocking a thread while it waits.
#pragma once
#include "ember/config.hpp"

#include <exception>
#include <functional>
#include <memory>
#include <stop_token>

#include "ember/core/registry/operator/base/operator_base.hpp"

namespace ember {

/// Hands an asynchronous body's outcome back to the runtime, from any thread.
/// Only the first succeed/fail counts; copies share the same slot.
class Completion {
public:
  using Deliver = std::function<void(Record* outputs, std::exception_ptr error)>;

  Completion(Deliver deliver, std::stop_token stop);

  void succeed(Record outputs) const;
  /// A null `error` fails the call with an ExecutionError saying so.
  void fail(std::exception_ptr error) const;
  /// True once the call was cancelled (deadline, fail-fast): stop waiting and
  /// report anything; the outcome is discarded.
  bool stop_requested() const noexcept { return stop_.stop_requested(); }
  std::stop_token stop_token() const noexcept { return stop_; }

private:
  struct Slot;
  std::shared_ptr<Slot> slot_;
  std::stop_token stop_;
};

/// Base class of asynchronous operators: implement start, which must return
/// quickly and later call done.succeed(outputs) or done.fail(error) exactly
/// once, from any thread (ember::xcs::io_context() runs timers and sockets
/// without a thread per body). Inputs are validated before start and outputs
/// before they are delivered. In a transform, waiting bodies hold no thread:
/// max_workers bounds how many are in flight. Called synchronously, forward
/// starts the body and waits for it.
class AsyncOperator : public Operator {
public:
  virtual void start(const Record& inputs, Completion done) const = 0;

  Record forward(const Record& inputs) const final;
  bool is_async() const noexcept final { return true; }

protected:
  using Operator::Operator;
};

} // namespace ember
