#include "ember/core/registry/operator/base/async_operator.hpp"

#include <atomic>

#include "ember/core/exceptions.hpp"

namespace ember {

struct Completion::Slot {
  Deliver deliver;
  std::atomic<bool> delivered{false};

  // A body that drops its completion without using it (a lost callback, a
  // timer destroyed at shutdown) must not leave its caller waiting forever.
  ~Slot() {
    if (!delivered.exchange(true))
      deliver(nullptr, std::make_exception_ptr(ExecutionError(
                           "an asynchronous operator body ended without completing")));
  }

  // Hands the outcome over once and lets go of the receiver: a body that
  // keeps its Completion (in a timer, a stop callback) must not keep the
  // finished batch alive through it.
  void deliver_once(Record* outputs, std::exception_ptr error) {
    if (delivered.exchange(true))
      return;
    Deliver receiver;
    receiver.swap(deliver);
    receiver(outputs, std::move(error));
  }
};

Completion::Completion(Deliver deliver, std::stop_token stop)
    : slot_(std::make_shared<Slot>()), stop_(std::move(stop)) {
  slot_->deliver = std::move(deliver);
}

void Completion::succeed(Record outputs) const { slot_->deliver_once(&outputs, nullptr); }

void Completion::fail(std::exception_ptr error) const {
  // Every receiver rethrows the error; rethrowing a null exception_ptr is
  // undefined behaviour (a crash), so a failure without one gets a message.
  if (!error)
    error = std::make_exception_ptr(
        ExecutionError("an asynchronous operator body failed without an exception: "
                       "Completion::fail was given a null std::exception_ptr"));
  slot_->deliver_once(nullptr, std::move(error));
}

} // namespace ember
