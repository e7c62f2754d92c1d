// The synchronous facade: `op(inputs)` from a plain thread.
#include <exception>
#include <future>
#include <optional>
#include <stdexcept>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "ember/core/registry/operator/base/operator_ref.hpp"
#include "runtime/call_context.hpp"
#include "runtime/executors.hpp"
#include "runtime/failure.hpp"
#include "runtime/invoke.hpp"
#include "runtime/run_before.hpp"
#include "runtime/inline_body.hpp"
#include "runtime/runtime_core.hpp"

namespace ember {
namespace {

using xcs::this_call::Clock;

// One timed call's outcome. The body's task owns it too, so an abandoned body
// writes its result into memory nobody reads any more and frees it on return.
struct TimedCall {
  std::optional<Record> result;
  std::exception_ptr error;
  std::stop_source stop;
};

void refuse_scheduler_thread(const Operator& op) {
  xcs::detail::before_nested_call();
  if (xcs::detail::on_scheduler_thread())
    throw std::logic_error("operator '" + op.name() +
                           "' was called synchronously on a CAF scheduler thread, where a "
                           "blocking body would stall the actor system; use spawn_operator and "
                           "request it instead");
}

std::string timeout_message(const Operator& op, const xcs::ExecutionSnapshot& options) {
  return "operator '" + op.name() + "' timed out: the deadline of " +
         xcs::detail::deadline_source(*options) + " passed before it finished";
}

Record run_with_deadline(const std::shared_ptr<const Operator>& op, const Record& inputs,
                         const xcs::ExecutionSnapshot& options, Clock::time_point deadline) {
  if (Clock::now() >= deadline)
    throw TimeoutError(timeout_message(*op, options));
  auto call = std::make_shared<TimedCall>();
  auto device = xcs::detail::device_for(*options, op->kind());
  bool ended = xcs::detail::run_before(deadline, device, [call, op, inputs, options, deadline] {
    if (call->stop.stop_requested())
      return; // abandoned before it started: never run it
    xcs::detail::CallContext context{options, deadline, call->stop.get_token()};
    xcs::detail::CallScope scope{context};
    try {
      call->result = xcs::detail::invoke_body(*op, inputs, options);
    } catch (...) {
      call->error = std::current_exception();
    }
  });
  if (!ended) {
    call->stop.request_stop();
    throw TimeoutError(timeout_message(*op, options));
  }
  if (call->error)
    std::rethrow_exception(call->error);
  return std::move(*call->result);
}

} // namespace

Record OperatorRef::operator()(const Record& inputs) const {
  const Operator& op = *checked();
  if (auto* interceptor = xcs::detail::current_interceptor())
    return interceptor->intercept(*this, inputs);
  refuse_scheduler_thread(op);
  auto options = xcs::current_execution_snapshot();
  auto deadline = xcs::detail::deadline_for(options);
  const auto* parent = xcs::detail::current_call_context();
  // Without a deadline, or inside a body whose caller already waits on the
  // same deadline, the body runs right here: no thread hop, no extra thread.
  if (!deadline || (parent != nullptr && parent->deadline == deadline)) {
    xcs::detail::device_for(*options, op.kind()); // an unavailable device is an error here too
    return xcs::detail::invoke_body(op, inputs, options);
  }
  if (parent != nullptr) {
    // A body that narrows its deadline runs the nested call inline too:
    // blocking this worker while another runs it could starve the pool. The
    // outermost caller still gets its TimeoutError on time; here the shorter
    // deadline is enforced when the nested body returns.
    auto child = *parent;
    child.options = options;
    child.deadline = deadline;
    xcs::detail::CallScope scope{child};
    auto result = xcs::detail::invoke_body(op, inputs, options);
    if (xcs::this_call::Clock::now() > *deadline)
      throw TimeoutError(timeout_message(op, options));
    return result;
  }
  return run_with_deadline(op_, inputs, options, *deadline);
}

// Called synchronously, an asynchronous body is started and waited for on
// the calling thread. Defined here, not in core: the wait reads the call's
// stop token, which the runtime owns.
Record AsyncOperator::forward(const Record& inputs) const {
  xcs::detail::before_nested_call(); // it waits
  auto outcome = std::make_shared<std::promise<Record>>();
  auto result = outcome->get_future();
  start(inputs, Completion{[outcome](Record* outputs, std::exception_ptr error) {
                             if (outputs != nullptr)
                               outcome->set_value(std::move(*outputs));
                             else
                               outcome->set_exception(error);
                           },
                           xcs::this_call::stop_token()});
  return result.get();
}

} // namespace ember
