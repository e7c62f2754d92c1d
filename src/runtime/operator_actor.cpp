// Operators as actors: a request hands the body to the blocking pool; the
// reply goes to the requester when the body ends or the deadline passes,
// whichever is first, exactly once.
#include "ember/xcs/runtime/operator_actor.hpp"

#include <atomic>
#include <exception>
#include <unordered_map>

#include "ember/core/exceptions.hpp"
#include "runtime/call_context.hpp"
#include "runtime/invoke.hpp"
#include "runtime/runtime_core.hpp"

namespace ember::xcs {
namespace {

using timeout_atom = caf::atom_constant<caf::atom("e_timeout")>;

struct ActorCall {
  caf::response_promise promise;
  std::stop_source stop;
  std::atomic<bool> replied{false};
  std::string operator_name;
};

caf::error error_of(const std::exception_ptr& failure, const std::string& operator_name) {
  try {
    std::rethrow_exception(failure);
  } catch (const ValidationError& e) {
    return make_error(ErrorCode::validation, e.what());
  } catch (const TimeoutError& e) {
    return make_error(ErrorCode::timeout, e.what());
  } catch (const std::exception& e) {
    return make_error(ErrorCode::execution, "operator '" + operator_name + "' failed: " + e.what());
  } catch (...) {
    return make_error(ErrorCode::execution,
                      "operator '" + operator_name + "' failed with a non-standard exception");
  }
}

// Runs on a pool thread. The requester is addressed directly (no hop back
// through the operator actor); a null execution unit is CAF's way to enqueue
// from a thread that is not one of its workers.
void run_body(const std::shared_ptr<ActorCall>& call, const OperatorRef& op, Record inputs,
              const Envelope& envelope, const std::shared_ptr<detail::RuntimeCore>& core) {
  if (call->stop.stop_requested())
    return;
  caf::message reply;
  {
    detail::CallContext context{envelope.options, envelope.deadline, call->stop.get_token()};
    detail::CallScope scope{context};
    try {
      reply = caf::make_message(detail::invoke_body(*op, inputs, envelope.options));
    } catch (...) {
      reply = caf::make_message(error_of(std::current_exception(), op.name()));
    }
  }
  if (call->replied.exchange(true))
    return; // the deadline answered first
  core->if_open([&] {
    auto& promise = call->promise;
    if (auto receiver = promise.next())
      receiver->enqueue(caf::make_mailbox_element(nullptr, promise.id().response_id(), {},
                                                  std::move(reply)),
                        nullptr);
  });
}

caf::behavior operator_behavior(caf::event_based_actor* self, OperatorRef op,
                                std::shared_ptr<detail::RuntimeCore> core) {
  // Weak: a call that already replied is freed when its body ends, not when
  // its deadline timer fires.
  auto pending = std::make_shared<std::unordered_map<std::uint64_t, std::weak_ptr<ActorCall>>>();
  auto next_id = std::make_shared<std::uint64_t>(0);
  auto invoke = [=](Record& inputs, Envelope envelope) {
    auto call = std::make_shared<ActorCall>();
    call->promise = self->make_response_promise();
    call->operator_name = op.name();
    if (!envelope.options)
      envelope.options = current_execution_snapshot();
    if (!envelope.deadline && envelope.options->timeout_seconds)
      envelope.deadline = detail::deadline_after(*envelope.options->timeout_seconds);
    if (envelope.deadline) {
      auto id = (*next_id)++;
      pending->emplace(id, call);
      auto delay = std::max(*envelope.deadline - this_call::Clock::now(),
                            this_call::Clock::duration::zero());
      self->delayed_send(self, delay, timeout_atom::value, id);
    }
    detail::Device device;
    try {
      device = detail::device_for(*envelope.options, op->kind());
    } catch (const RuntimeUnavailableError& e) {
      call->replied = true;
      call->promise.deliver(make_error(ErrorCode::unavailable, e.what()));
      return call->promise;
    }
    core->executor(device).post([call, op, inputs = std::move(inputs), envelope, core]() mutable {
      run_body(call, op, std::move(inputs), envelope, core);
    });
    return call->promise;
  };
  return {
    [=](invoke_atom, Record& inputs) -> caf::result<Record> { return invoke(inputs, {}); },
    [=](invoke_atom, Record& inputs, Envelope& envelope) -> caf::result<Record> {
      return invoke(inputs, envelope);
    },
    [=](timeout_atom, std::uint64_t id) {
      auto found = pending->find(id);
      if (found == pending->end())
        return;
      auto call = found->second.lock();
      pending->erase(found);
      if (!call || call->replied.exchange(true))
        return;
      call->stop.request_stop();
      call->promise.deliver(make_error(
          ErrorCode::timeout, "operator '" + call->operator_name +
                                  "' timed out: its deadline passed before it finished"));
    },
  };
}

} // namespace

OperatorActor spawn_operator(caf::actor_system& system, const OperatorRef& op) {
  if (!op)
    throw std::invalid_argument("spawn_operator: the OperatorRef is empty");
  // The implementation is untyped so it can also take its own timer message;
  // callers only ever see the typed interface.
  auto core = detail::runtime_core();
  auto actor = system.spawn(operator_behavior, op, core);
  core->track(actor.address());
  return caf::actor_cast<OperatorActor>(actor);
}

OperatorActor spawn_operator(const OperatorRef& op) { return spawn_operator(actor_system(), op); }

} // namespace ember::xcs
