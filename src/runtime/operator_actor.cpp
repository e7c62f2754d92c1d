// Operators as actors: a request hands the body to the blocking pool; the
// reply goes to the requester when the body ends, the deadline passes or the
// actor ends (at shutdown), whichever is first, exactly once. A short leaf
// body (learned) runs on the actor itself and replies from its handler.
#include "ember/xcs/runtime/operator_actor.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <unordered_map>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "runtime/call_context.hpp"
#include "runtime/failure.hpp"
#include "runtime/inline_body.hpp"
#include "runtime/invoke.hpp"
#include "runtime/runtime_core.hpp"

namespace ember::xcs {
namespace {

using timeout_atom = caf::atom_constant<caf::atom("e_timeout")>;

// One request. Its posted task owns it; every other holder is weak. A call
// freed without a reply is one whose task a stopped pool dropped before it
// ran (at shutdown, while the actor system is still up): it answers so.
struct ActorCall {
  caf::response_promise promise;
  std::stop_source stop;
  std::atomic<bool> replied{false};
  std::string operator_name;
  ExecutionSnapshot options; // names the timeout in a timeout reply

  ActorCall() = default;
  ActorCall(const ActorCall&) = delete;
  ActorCall& operator=(const ActorCall&) = delete;
  ~ActorCall();
};

// Sends `reply` to the requester from any thread: addressed directly (no hop
// back through the operator actor); a null execution unit is CAF's way to
// enqueue from a thread that is not one of its workers. The caller won
// `replied`.
void send_reply(ActorCall& call, caf::message reply) {
  if (auto receiver = call.promise.next())
    receiver->enqueue(caf::make_mailbox_element(nullptr, call.promise.id().response_id(), {},
                                                std::move(reply)),
                      nullptr);
}

ActorCall::~ActorCall() {
  if (replied.exchange(true))
    return;
  try {
    send_reply(*this, caf::make_message(make_error(
                          ErrorCode::unavailable, "operator '" + operator_name +
                                                      "' was not started: the runtime shut down first")));
  } catch (...) {
    // Out of memory while shutting down: the requester's own timeout must do.
  }
}

// The calls of one operator actor that may still need a reply. Weak: a call
// is freed when its body ends; expired entries are pruned as the table grows,
// so a long-lived actor's table stays as large as its calls in flight.
class CallTable {
public:
  std::uint64_t add(const std::shared_ptr<ActorCall>& call) {
    if (calls_.size() >= prune_at_) {
      std::erase_if(calls_, [](const auto& entry) { return entry.second.expired(); });
      prune_at_ = std::max<std::size_t>(2 * calls_.size(), 16);
    }
    auto id = next_id_++;
    calls_.emplace(id, call);
    return id;
  }

  std::shared_ptr<ActorCall> take(std::uint64_t id) {
    auto found = calls_.find(id);
    if (found == calls_.end())
      return nullptr;
    auto call = found->second.lock();
    calls_.erase(found);
    return call;
  }

  // The actor ended (runtime shutdown, an exit message, its last handle
  // gone): every call still unanswered is stopped and told so, whether its
  // body runs, waits in a queue or was dropped by a stopped pool.
  void abandon_all() {
    for (auto& [id, weak] : calls_) {
      auto call = weak.lock();
      if (!call)
        continue;
      call->stop.request_stop();
      if (!call->replied.exchange(true))
        send_reply(*call, caf::make_message(make_error(
                              ErrorCode::unavailable,
                              "operator '" + call->operator_name +
                                  "' did not finish: its actor ended (runtime shutdown) first")));
    }
    calls_.clear();
  }

private:
  std::unordered_map<std::uint64_t, std::weak_ptr<ActorCall>> calls_;
  std::uint64_t next_id_ = 0;
  std::size_t prune_at_ = 16;
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

// A body costs more in the hand-off to a pool thread and back (a thread
// wake-up each way, 35-80 us here) than in itself when it is a leaf (it calls
// no operator) that takes under `cheap_body`. After `leaf_runs` such runs in
// a row on the pool, the actor runs the body itself, on its scheduler
// thread, and replies from its handler: what a plain CAF actor costs. A run
// that is not such a leaf (on the pool or inline) ends the streak. An inline
// body that reaches a wait (a nested call) is refused there and its request
// goes to the pool, where the body runs again from the start.
constexpr auto cheap_body = std::chrono::microseconds{50};
constexpr int leaf_runs = 8;

struct Learning {
  std::atomic<int> streak{0};

  bool inline_ready() const noexcept { return streak.load(std::memory_order_relaxed) >= leaf_runs; }
  void saw(bool leaf) noexcept {
    auto now = streak.load(std::memory_order_relaxed);
    streak.store(leaf ? std::min(now + 1, leaf_runs) : 0, std::memory_order_relaxed);
  }
};

// Runs on a pool thread.
void run_body(const std::shared_ptr<ActorCall>& call, const OperatorRef& op, Record inputs,
              const Envelope& envelope, const std::shared_ptr<detail::RuntimeCore>& core,
              Learning& learning) {
  if (call->stop.stop_requested())
    return;
  caf::message reply;
  {
    detail::CallContext context{envelope.options, envelope.deadline, call->stop.get_token()};
    detail::CallScope scope{context};
    auto calls = detail::operator_calls();
    auto began = this_call::Clock::now();
    try {
      reply = caf::make_message(detail::invoke_body(*op, inputs, envelope.options));
    } catch (...) {
      reply = caf::make_message(error_of(std::current_exception(), op.name()));
    }
    learning.saw(detail::operator_calls() == calls &&
                 this_call::Clock::now() - began < cheap_body);
  }
  if (call->replied.exchange(true))
    return; // the deadline answered first
  core->if_open([&] { send_reply(*call, std::move(reply)); });
}

// An asynchronous body starts right here, on the actor's thread (start must
// return quickly), and its completion replies from whatever thread ends it:
// no thread is held while it waits.
void start_async(const std::shared_ptr<ActorCall>& call, const OperatorRef& op,
                 const Record& inputs, const Envelope& envelope,
                 const std::shared_ptr<detail::RuntimeCore>& core) {
  // Holds the runtime weakly, as a batch item's end does: a body pending at
  // exit must not keep the runtime (and its io_context) alive.
  auto deliver = [call, op, weak = std::weak_ptr<detail::RuntimeCore>{core}](
                     Record* outputs, std::exception_ptr error) {
    auto reply = outputs != nullptr ? caf::make_message(std::move(*outputs))
                                    : caf::make_message(error_of(error, op.name()));
    if (call->replied.exchange(true))
      return; // the deadline answered first
    if (auto runtime = weak.lock())
      runtime->if_open([&] { send_reply(*call, std::move(reply)); });
  };
  detail::CallContext context{envelope.options, envelope.deadline, call->stop.get_token()};
  const auto& body = static_cast<const AsyncOperator&>(*op);
  Record checked;
  try {
    checked = op->specification().validate_inputs(op.name(), inputs);
  } catch (...) {
    return deliver(nullptr, std::current_exception());
  }
  detail::start_async_body(body, checked, context, {}, std::move(deliver));
}

// The body on the actor's own thread, for a learned short leaf; nothing when
// it reached a wait and must run on the pool instead.
std::optional<caf::result<Record>> run_inline(const OperatorRef& op, const Record& inputs,
                                              const Envelope& envelope, Learning& learning) {
  detail::CallContext context{envelope.options, std::nullopt, {}};
  detail::CallScope scope{context};
  detail::InlineBodyScope inline_body;
  std::optional<caf::result<Record>> reply;
  auto began = this_call::Clock::now();
  try {
    reply.emplace(detail::invoke_body(*op, inputs, envelope.options));
  } catch (const detail::InlineBodyRefused&) {
  } catch (...) {
    reply.emplace(error_of(std::current_exception(), op.name()));
  }
  bool refused = inline_body.refused(); // also when the body swallowed the refusal
  learning.saw(!refused && this_call::Clock::now() - began < cheap_body);
  if (refused)
    return std::nullopt;
  return reply;
}

caf::behavior operator_behavior(caf::event_based_actor* self, OperatorRef op,
                                std::shared_ptr<detail::RuntimeCore> core) {
  auto calls = std::make_shared<CallTable>();
  auto learning = std::make_shared<Learning>();
  self->attach_functor([calls] { calls->abandon_all(); });
  auto invoke = [=](Record& inputs, Envelope envelope) -> caf::result<Record> {
    if (!envelope.options)
      envelope.options = current_execution_snapshot();
    if (!envelope.deadline && envelope.options->timeout_seconds)
      envelope.deadline = detail::deadline_after(*envelope.options->timeout_seconds);
    detail::Device device;
    try {
      device = detail::device_for(*envelope.options, op->kind());
    } catch (const RuntimeUnavailableError& e) {
      return make_error(ErrorCode::unavailable, e.what());
    }
    // Inline: a compute body known to be a short leaf, nothing to supervise
    // (no deadline), no cache entry to wait on.
    if (learning->inline_ready() && device == detail::Device::cpu && !envelope.deadline &&
        !op->is_async() && !envelope.options->enable_caching)
      if (auto reply = run_inline(op, inputs, envelope, *learning))
        return std::move(*reply);
    auto call = std::make_shared<ActorCall>();
    call->promise = self->make_response_promise();
    call->operator_name = op.name();
    call->options = envelope.options;
    auto id = calls->add(call);
    if (envelope.deadline) {
      auto delay = std::max(*envelope.deadline - this_call::Clock::now(),
                            this_call::Clock::duration::zero());
      self->delayed_send(self, delay, timeout_atom::value, id);
    }
    if (op->is_async()) {
      start_async(call, op, inputs, envelope, core);
      return call->promise;
    }
    core->executor(device).post(
        [call, op, inputs = std::move(inputs), envelope, core, learning]() mutable {
          run_body(call, op, std::move(inputs), envelope, core, *learning);
        });
    return call->promise;
  };
  return {
    [=](invoke_atom, Record& inputs) -> caf::result<Record> { return invoke(inputs, {}); },
    [=](invoke_atom, Record& inputs, Envelope& envelope) -> caf::result<Record> {
      return invoke(inputs, envelope);
    },
    [=](timeout_atom, std::uint64_t id) {
      auto call = calls->take(id);
      if (!call || call->replied.exchange(true))
        return;
      call->stop.request_stop();
      call->promise.deliver(make_error(ErrorCode::timeout,
                                       "operator '" + call->operator_name +
                                           "' timed out: the deadline of " +
                                           detail::deadline_source(*call->options) +
                                           " passed before it finished"));
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
