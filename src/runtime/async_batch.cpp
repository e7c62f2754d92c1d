#include "runtime/async_batch.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <stop_token>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "runtime/invoke.hpp"
#include "runtime/failure.hpp"
#include "runtime/runtime_core.hpp"

namespace ember::xcs::detail {

// One item's end, sent by its Completion from whatever thread completes it.
struct ItemEnded {
  std::size_t index = 0;
  std::optional<Record> output;
  std::exception_ptr error;
};

// Item ends waiting for the supervisor. A completing thread appends; the one
// that finds the queue empty sends the supervisor one message to drain it, so
// a burst of ends (10,000 timers firing together) costs a handful of
// messages, not one each.
struct EndedQueue {
  std::mutex mutex;
  std::vector<ItemEnded> items;

  /// Whether the queue was empty (the caller must then tell the supervisor).
  bool push(ItemEnded ended) {
    std::lock_guard lock{mutex};
    items.push_back(std::move(ended));
    return items.size() == 1;
  }

  /// Moves what is queued into `into` (emptied first).
  void take(std::vector<ItemEnded>& into) {
    into.clear();
    std::lock_guard lock{mutex};
    into.swap(items);
  }
};

// Ends a batch from outside: the caller's deadline, an enclosing call's cancellation.
struct EndBatch {
  std::exception_ptr reason;
};

} // namespace ember::xcs::detail

// A local message only: it carries an exception_ptr and never leaves the process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ember::xcs::detail::EndBatch)

namespace ember::xcs::detail {

struct AsyncBatch::Shared {
  std::atomic<std::size_t> ended{0};
  std::size_t size = 0;
  caf::actor supervisor;
  std::shared_ptr<RuntimeCore> core;
};

namespace {

using Clock = this_call::Clock;
using items_ended_atom = caf::atom_constant<caf::atom("e_items")>;
using end_batch_atom = caf::atom_constant<caf::atom("e_end")>;
using deadline_atom = caf::atom_constant<caf::atom("e_deadln")>;

// The call's state. Only the supervisor actor touches it, one message at a
// time, so it needs no lock; only `shared->ended` is read from outside.
struct Supervision {
  BatchSpec spec;
  CallContext context;
  BatchDone done;
  std::shared_ptr<AsyncBatch::Shared> shared;
  // Not in Shared: a pending body's completion holds it, and Shared holds the runtime.
  std::shared_ptr<EndedQueue> ended_queue = std::make_shared<EndedQueue>();
  std::vector<ItemEnded> draining; // the supervisor's, reused between drains
  std::stop_source stop;
  std::stop_token enclosing; // the enclosing call's, if any
  std::optional<std::stop_callback<std::function<void()>>> following;
  std::size_t in_flight_limit = 1;
  std::vector<std::optional<Record>> results;
  std::vector<ItemFailure> failures;
  std::size_t next = 0;
  std::size_t active = 0;
  std::vector<std::size_t> retry; // items to start again, before `next`
  std::vector<std::uint8_t> joins_cut; // per item, when caching: joined bodies cut short
  // The first body in flight runs under the permit the starter holds; the
  // item using it, so that its end frees it.
  std::optional<std::size_t> on_starter_permit;
  bool over = false;

  void end(std::exception_ptr reason) {
    if (over)
      return;
    over = true;
    stop.request_stop();
    done(nullptr, std::move(reason));
  }

  std::exception_ptr timeout() const {
    return std::make_exception_ptr(TimeoutError(batch_timeout_message(
        spec, *context.options, spec.size - shared->ended.load(std::memory_order_relaxed))));
  }

  // Whether one more body may start now; sets `owns_permit` for a permit
  // taken from the budget (the Completion gives it back).
  bool take_slot(bool& owns_permit) {
    if (active >= in_flight_limit)
      return false;
    if (!on_starter_permit) {
      owns_permit = false;
      return true;
    }
    owns_permit = context.budget->try_acquire();
    return owns_permit;
  }

  void launch(const caf::actor& self) {
    bool owns_permit = false;
    while (!over && (!retry.empty() || next < spec.size) && take_slot(owns_permit)) {
      std::size_t index = next;
      if (!retry.empty()) {
        index = retry.back();
        retry.pop_back();
      } else {
        ++next;
      }
      start_item(self, index, owns_permit);
    }
  }

  // Starts item `index`, through the cache and traced as the options say.
  void start_item(const caf::actor& self, std::size_t index, bool owns_permit) {
    ++active;
    if (!owns_permit)
      on_starter_permit = index;
    const auto& op = static_cast<const AsyncOperator&>(*spec.op);
    // The item's end, from whatever thread: it gives its permit back itself,
    // so a body that outlives the batch still frees it for the enclosing call.
    // It holds the runtime weakly: a body still pending at exit (a timer in
    // the runtime's own io_context) must not keep that runtime alive.
    Completion::Deliver deliver = [self, index, owns_permit, budget = context.budget,
                                   queue = ended_queue,
                                   core = std::weak_ptr<RuntimeCore>{shared->core}](
                                      Record* outputs, std::exception_ptr error) {
      if (owns_permit)
        budget->release();
      ItemEnded ended{index, std::nullopt, std::move(error)};
      if (outputs != nullptr)
        ended.output = std::move(*outputs);
      if (!queue->push(std::move(ended)))
        return; // a drain is already on its way
      if (auto runtime = core.lock())
        runtime->if_open([&] { caf::anon_send(self, items_ended_atom::value); });
    };
    Record inputs;
    try {
      inputs = op.specification().validate_inputs(op.name(), spec.item_inputs(index));
    } catch (...) {
      return deliver(nullptr, std::current_exception());
    }
    auto position = static_cast<std::int64_t>(index);
    start_async_body(op, inputs, context,
                     {spec.transform, spec.items_are_shards ? -1 : position,
                      spec.items_are_shards ? position : -1},
                     std::move(deliver));
  }

  void item_ended(const caf::actor& self, ItemEnded& ended) {
    --active;
    if (on_starter_permit == ended.index)
      on_starter_permit.reset();
    if (over)
      return;
    if (ended.error && !joins_cut.empty() && !stop.stop_requested() &&
        is_cancelled(ended.error) && ++joins_cut[ended.index] < 3) {
      // Joined another call's body that was cut short: not this item's
      // outcome; it starts again (bounded, like the synchronous cache path).
      retry.push_back(ended.index);
      return launch(self);
    }
    if (ended.error) {
      // A nested call that ran into this call's deadline is this batch
      // timing out, not the item failing.
      if (context.deadline && Clock::now() >= *context.deadline && is_timeout(ended.error))
        return end(timeout());
      if (stop.stop_requested())
        return; // stopped by this batch's own end: not the item's fault
      if (context.options->fail_fast)
        return end(item_failure(spec, ended.index, ended.error));
      failures.push_back(ItemFailure{ended.index, message_of(ended.error)});
    } else {
      results[ended.index] = std::move(ended.output);
    }
    if (shared->ended.fetch_add(1, std::memory_order_relaxed) + 1 == spec.size)
      return finish();
    launch(self);
  }

  void finish() {
    over = true;
    std::sort(failures.begin(), failures.end(),
              [](const auto& a, const auto& b) { return a.index < b.index; });
    BatchOutcome outcome{std::move(results), std::move(failures)};
    done(&outcome, nullptr);
  }
};

caf::behavior supervise(caf::event_based_actor* self, std::shared_ptr<Supervision> state) {
  auto me = caf::actor_cast<caf::actor>(self);
  // Killed before the batch ended (runtime shutdown): the owner still hears.
  self->attach_functor([state] {
    state->end(std::make_exception_ptr(RuntimeUnavailableError(
        state->spec.name + ": the runtime shut down before the batch ended")));
  });
  if (state->spec.size == 0) {
    state->finish();
    self->quit();
    return {};
  }
  if (state->context.deadline) {
    auto delay = std::max(*state->context.deadline - Clock::now(), Clock::duration::zero());
    self->delayed_send(self, delay, deadline_atom::value);
  }
  // The callback holds no reference to the state: the state holds it.
  if (state->enclosing.stop_possible())
    state->following.emplace(
        state->enclosing,
        std::function<void()>{[me, core = state->shared->core, name = state->spec.name] {
          core->if_open([&] {
            caf::anon_send(me, end_batch_atom::value,
                           EndBatch{std::make_exception_ptr(
                               CancelledError(name + ": cancelled by its enclosing call"))});
          });
        }});
  state->launch(me);
  return {
      [=](items_ended_atom) {
        state->ended_queue->take(state->draining);
        for (auto& ended : state->draining) {
          state->item_ended(me, ended);
          if (state->over)
            break;
        }
        if (state->over)
          self->quit();
      },
      [=](deadline_atom) {
        state->end(state->timeout());
        self->quit();
      },
      [=](end_batch_atom, EndBatch& end) {
        state->end(end.reason);
        self->quit();
      },
  };
}

} // namespace

void AsyncBatch::cancel(std::exception_ptr reason) const {
  shared_->core->if_open([&] {
    caf::anon_send(shared_->supervisor, end_batch_atom::value, EndBatch{std::move(reason)});
  });
}

std::size_t AsyncBatch::unfinished() const {
  return shared_->size - shared_->ended.load(std::memory_order_relaxed);
}

AsyncBatch start_async_batch(BatchSpec spec, CallContext context, BatchDone done) {
  auto state = std::make_shared<Supervision>();
  state->shared = std::make_shared<AsyncBatch::Shared>();
  state->shared->size = spec.size;
  state->shared->core = runtime_core();
  if (const CallContext* parent = current_call_context())
    state->enclosing = parent->stop;
  state->in_flight_limit = context.options->use_parallel
                               ? std::max<std::size_t>(std::min(context.budget->limit(), spec.size), 1)
                               : 1;
  state->results.resize(spec.size);
  if (context.options->enable_caching)
    state->joins_cut.resize(spec.size);
  context.stop = state->stop.get_token();
  state->spec = std::move(spec);
  state->context = std::move(context);
  state->done = std::move(done);
  auto shared = state->shared;
  // The actor never reads `supervisor`: only this handle's cancel does.
  shared->supervisor = shared->core->system().spawn(supervise, state);
  return AsyncBatch{shared};
}

BatchOutcome wait_for_async_batch(const BatchSpec& spec, CallContext context) {
  auto outcome = std::make_shared<std::promise<BatchOutcome>>();
  auto ended = outcome->get_future();
  auto deadline = context.deadline;
  auto options = context.options;
  auto batch = start_async_batch(spec, std::move(context),
                                 [outcome](BatchOutcome* result, std::exception_ptr error) {
                                   if (result != nullptr)
                                     outcome->set_value(std::move(*result));
                                   else
                                     outcome->set_exception(std::move(error));
                                 });
  // The supervisor holds the deadline too; this wait keeps it even when no
  // scheduler thread is free to deliver the supervisor's timer.
  if (deadline && ended.wait_until(*deadline) == std::future_status::timeout) {
    auto error = std::make_exception_ptr(
        TimeoutError(batch_timeout_message(spec, *options, batch.unfinished())));
    batch.cancel(error);
    std::rethrow_exception(error);
  }
  return ended.get();
}

} // namespace ember::xcs::detail
