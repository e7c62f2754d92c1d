#include "runtime/batch_supervisor.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "runtime/call_context.hpp"
#include "runtime/executors.hpp"
#include "runtime/failure.hpp"
#include "runtime/invoke.hpp"
#include "runtime/runtime_core.hpp"

namespace ember::xcs::detail {

// An end reported to the supervisor from whatever thread saw it. An
// asynchronous item reports itself (its output or its error). A worker
// claiming synchronous items reports each failure, and the items it ran to a
// result (stored in place or absorbed) as one count when it stops.
struct ItemEnded {
  std::size_t index = 0;
  std::size_t count = 1;
  bool in_place = false;
  std::optional<Record> output;
  std::exception_ptr error;
};

// Ends waiting for the supervisor. A reporter appends; the one that finds
// the queue empty sends the supervisor one message to drain it, so a burst
// of ends (10,000 timers firing together) costs a handful of messages, not
// one each.
struct EndedQueue {
  std::mutex mutex;
  std::vector<ItemEnded> items;

  /// Whether the queue was empty (the caller must then tell the supervisor).
  bool push(ItemEnded ended) {
    std::lock_guard lock{mutex};
    items.push_back(std::move(ended));
    return items.size() == 1;
  }

  /// Moves all of `ended` in (and empties it); whether the queue was empty.
  bool push_all(std::vector<ItemEnded>& ended) {
    std::lock_guard lock{mutex};
    bool was_empty = items.empty();
    std::move(ended.begin(), ended.end(), std::back_inserter(items));
    ended.clear();
    return was_empty;
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

struct BatchHandle::Shared {
  std::atomic<std::size_t> ended{0}; // progress: items ended, in place or failed
  std::atomic<bool> any_failed{false}; // a synchronous item failed
  // Taken by whoever gives the answer: the supervisor, or a synchronous
  // caller that finds every item ended well without it (see run_batch).
  std::atomic<bool> answered{false};
  std::size_t size = 0;
  std::stop_source stop;
  caf::actor supervisor; // none when a synchronous caller runs the batch alone
  std::shared_ptr<RuntimeCore> core;
};

namespace {

using Clock = this_call::Clock;
using items_ended_atom = caf::atom_constant<caf::atom("e_items")>;
using end_batch_atom = caf::atom_constant<caf::atom("e_end")>;
using deadline_atom = caf::atom_constant<caf::atom("e_deadln")>;

// What a synchronous caller waits for (a std::promise costs a call_once and
// a futex call per batch, more than a small batch's bodies).
struct Answer {
  std::mutex mutex;
  std::condition_variable given;
  bool ready = false;
  std::optional<BatchOutcome> outcome;
  std::exception_ptr error;

  void give(BatchOutcome* result, std::exception_ptr failure) {
    {
      std::lock_guard lock{mutex};
      if (result != nullptr)
        outcome = std::move(*result);
      error = std::move(failure);
      ready = true;
    }
    given.notify_all();
  }

  /// Waits until the answer is given or `deadline` passes; false then.
  bool wait(const std::optional<Clock::time_point>& deadline) {
    std::unique_lock lock{mutex};
    if (!deadline) {
      given.wait(lock, [&] { return ready; });
      return true;
    }
    return given.wait_until(lock, *deadline, [&] { return ready; });
  }

  BatchOutcome take() {
    if (error)
      std::rethrow_exception(error);
    return std::move(*outcome);
  }
};

// The call's state. Its decisions (what ended, fail_fast, the deadline, the
// answer) are taken by the supervisor actor, one message at a time, so they
// need no lock. Workers touch only the claim counter, the halt flag and the
// result slots of the items they ran, which the supervisor reads after their
// reports.
struct Supervision {
  BatchSpec spec;
  CallContext context;
  BatchDone done;
  std::shared_ptr<BatchHandle::Shared> shared;
  // Not in Shared: a pending body's completion holds it, and Shared holds the runtime.
  std::shared_ptr<EndedQueue> ended_queue = std::make_shared<EndedQueue>();
  std::vector<ItemEnded> draining; // the supervisor's, reused between drains
  std::stop_token enclosing;       // the enclosing call's, if any
  std::optional<std::stop_callback<std::function<void()>>> following;
  bool synchronous = false;

  // Synchronous items: workers claim chunks of them in index order, so one
  // worker alone runs them in input order.
  Device device = Device::cpu;
  std::size_t helpers = 0;
  std::size_t chunk = 1;
  std::atomic<std::size_t> next_claim{0};
  std::atomic<bool> halted{false}; // a failure under fail_fast: no further item starts
  std::once_flag results_made;

  // Asynchronous items: started one by one by the supervisor.
  std::size_t in_flight_limit = 1;
  std::size_t next = 0;
  std::size_t active = 0;
  std::vector<std::size_t> retry;      // items to start again, before `next`
  std::vector<std::uint8_t> joins_cut; // per item, when caching: joined bodies cut short
  // The first body in flight runs under the permit the starter holds; the
  // item using it, so that its end frees it.
  std::optional<std::size_t> on_starter_permit;

  // In input order. Empty with absorb until a result is left over; a
  // synchronous item's slot is written by the worker that ran it.
  std::vector<std::optional<Record>> results;
  std::vector<ItemFailure> failures;
  std::size_t ended = 0;
  bool over = false;
  Answer answer; // run_batch's

  void end(std::exception_ptr reason) {
    if (over)
      return;
    over = true;
    shared->stop.request_stop();
    if (!shared->answered.exchange(true, std::memory_order_acq_rel))
      done(nullptr, std::move(reason));
  }

  std::exception_ptr timeout() const {
    return std::make_exception_ptr(TimeoutError(batch_timeout_message(
        spec, *context.options, spec.size - shared->ended.load(std::memory_order_relaxed))));
  }

  // Why a batch stopped from outside ended.
  std::exception_ptr stop_reason() const {
    if (context.deadline && Clock::now() >= *context.deadline)
      return timeout();
    return std::make_exception_ptr(CancelledError(spec.name + ": cancelled by its enclosing call"));
  }

  // --- synchronous items -------------------------------------------------

  // Recruits up to `helpers` workers from the executor, each holding a
  // permit of the call's budget while it works.
  void recruit(const caf::actor& self, const std::shared_ptr<Supervision>& me) {
    auto& executor = shared->core->executor(device);
    auto limit = thread_limit(*context.options);
    for (std::size_t i = 0; i < helpers && !shared->stop.stop_requested(); ++i) {
      if (!context.budget->try_acquire())
        break;
      executor.post(
          [me, self] {
            me->work(self);
            me->context.budget->release();
          },
          limit);
    }
  }

  // A worker (the caller or a helper): claims chunks of items until none is
  // left, a failure halts the batch or it is stopped. Reports to
  // `supervisor`, or straight to this state when there is none (a caller
  // alone, which is then its only thread).
  void work(const caf::actor& supervisor) {
    CallScope scope{context};
    std::function<Record(std::size_t)> own;
    if (spec.worker_item_inputs) {
      try {
        own = spec.worker_item_inputs();
      } catch (...) {
        // Out of memory for the worker's copies: the shared inputs serve.
      }
    }
    const auto& inputs_of = own ? own : spec.item_inputs;
    auto stopped = [&] {
      return halted.load(std::memory_order_relaxed) || context.stop.stop_requested();
    };
    std::vector<ItemEnded> failed;
    std::size_t ran_well = 0;
    while (!stopped()) {
      auto begin = next_claim.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= spec.size)
        break;
      auto end = std::min(begin + chunk, spec.size);
      // Progress is counted once per chunk: a shared counter touched by
      // every worker for every item costs more than a cheap body.
      std::size_t ran = 0;
      for (auto index = begin; index < end && !stopped(); ++index, ++ran) {
        if (auto error = run_one(index, inputs_of)) {
          shared->any_failed.store(true, std::memory_order_relaxed);
          failed.push_back(ItemEnded{index, 1, false, std::nullopt, std::move(error)});
          if (context.options->fail_fast)
            halted.store(true, std::memory_order_relaxed);
        } else {
          ++ran_well;
        }
      }
      // Releases the results (and the failure flag) to a caller that reads
      // every item ended.
      shared->ended.fetch_add(ran, std::memory_order_acq_rel);
      report(supervisor, failed);
    }
    if (ran_well > 0) {
      failed.push_back(ItemEnded{0, ran_well, true, std::nullopt, nullptr});
      report(supervisor, failed);
    }
  }

  std::exception_ptr run_one(std::size_t index,
                             const std::function<Record(std::size_t)>& inputs_of) {
    try {
      auto position = static_cast<std::int64_t>(index);
      BodyLabel label{spec.transform, spec.items_are_shards ? -1 : position,
                      spec.items_are_shards ? position : -1};
      auto result = invoke_body(*spec.op, inputs_of(index), context.options, label);
      if (!spec.absorb || !spec.absorb(index, result)) {
        // With absorb, the results nobody took are the exception: their
        // vector is made when the first one comes, not page-faulted in for
        // every batch.
        if (spec.absorb)
          std::call_once(results_made, [&] { results.resize(spec.size); });
        results[index] = std::move(result);
      }
      return nullptr;
    } catch (...) {
      return std::current_exception();
    }
  }

  void report(const caf::actor& supervisor, std::vector<ItemEnded>& ends) {
    if (ends.empty())
      return;
    if (!supervisor) {
      for (auto& ended : ends)
        item_ended(supervisor, ended);
      ends.clear();
      return;
    }
    if (ended_queue->push_all(ends))
      shared->core->if_open([&] { caf::anon_send(supervisor, items_ended_atom::value); });
  }

  // --- asynchronous items ------------------------------------------------

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
      ItemEnded ended{index, 1, false, std::nullopt, std::move(error)};
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

  // --- the supervisor's decisions ----------------------------------------

  void item_ended(const caf::actor& self, ItemEnded& item) {
    if (!synchronous) {
      --active;
      if (on_starter_permit == item.index)
        on_starter_permit.reset();
    }
    if (over)
      return;
    if (item.error && !joins_cut.empty() && !shared->stop.stop_requested() &&
        is_cancelled(item.error) && ++joins_cut[item.index] < 3) {
      // Joined another call's body that was cut short: not this item's
      // outcome; it starts again (bounded, like the synchronous cache path).
      retry.push_back(item.index);
      return launch(self);
    }
    if (item.error) {
      // A nested call that ran into this call's deadline is this batch
      // timing out, not the item failing: nested batches check the shared
      // deadline themselves, so their TimeoutError can come before this
      // supervisor's timer.
      if (context.deadline && Clock::now() >= *context.deadline && is_timeout(item.error))
        return end(timeout());
      if (shared->stop.stop_requested())
        return; // stopped by this batch's end or from outside: not the item's fault
      if (context.options->fail_fast)
        return end(item_failure(spec, item.index, item.error));
      failures.push_back(ItemFailure{item.index, message_of(item.error)});
    } else if (!item.in_place) {
      results[item.index] = std::move(item.output);
    }
    if (!synchronous)
      shared->ended.fetch_add(1, std::memory_order_relaxed);
    ended += item.count;
    if (ended == spec.size)
      return finish();
    if (!synchronous)
      launch(self);
  }

  void finish() {
    // Stopped from outside while the last items ended: a body stopped early
    // may have returned a partial result, so the batch fails.
    if (shared->stop.stop_requested())
      return end(stop_reason());
    over = true;
    if (shared->answered.exchange(true, std::memory_order_acq_rel))
      return; // the caller took it
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
  if (state->synchronous)
    state->recruit(me, state);
  else
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

std::shared_ptr<Supervision> prepare(BatchSpec spec, CallContext context, BatchDone done) {
  auto state = std::make_shared<Supervision>();
  state->shared = std::make_shared<BatchHandle::Shared>();
  state->shared->size = spec.size;
  state->shared->core = runtime_core();
  if (const CallContext* parent = current_call_context())
    state->enclosing = parent->stop;
  const auto& options = *context.options;
  std::size_t workers =
      options.use_parallel ? std::max<std::size_t>(std::min(context.budget->limit(), spec.size), 1)
                           : 1;
  state->synchronous = !spec.op->is_async();
  if (state->synchronous) {
    state->device = device_for(options, spec.op->kind());
    // No permit free (nested in a saturated call): the caller works alone.
    state->helpers = workers < 2 || !context.budget->any_available() ? 0 : workers - 1;
    // Big enough to keep the claim counter cold, small enough that every
    // worker gets several chunks to balance uneven items.
    state->chunk = std::clamp<std::size_t>(spec.size / (16 * workers), 1, 64);
    if (!spec.absorb)
      state->results.resize(spec.size);
  } else {
    state->in_flight_limit = workers;
    state->results.resize(spec.size);
    if (options.enable_caching)
      state->joins_cut.resize(spec.size);
  }
  context.stop = state->shared->stop.get_token();
  state->spec = std::move(spec);
  state->context = std::move(context);
  state->done = std::move(done);
  return state;
}

// Spawns the supervisor (unless the caller runs the batch alone) and ties
// the batch to its enclosing call: a cancelled enclosing call stops its
// bodies at once and ends the batch.
BatchHandle supervise_batch(const std::shared_ptr<Supervision>& state, bool alone) {
  auto shared = state->shared;
  if (!alone)
    shared->supervisor = shared->core->system().spawn(supervise, state);
  // The callback holds no reference to the state: the state holds it.
  if (state->enclosing.stop_possible())
    state->following.emplace(
        state->enclosing,
        std::function<void()>{[stop = shared->stop, me = shared->supervisor, core = shared->core,
                               name = state->spec.name]() mutable {
          stop.request_stop();
          if (me)
            core->if_open([&] {
              caf::anon_send(me, end_batch_atom::value,
                             EndBatch{std::make_exception_ptr(
                                 CancelledError(name + ": cancelled by its enclosing call"))});
            });
        }});
  return BatchHandle{shared};
}

} // namespace

void BatchHandle::cancel(std::exception_ptr reason) const {
  shared_->stop.request_stop();
  if (shared_->supervisor)
    shared_->core->if_open([&] {
      caf::anon_send(shared_->supervisor, end_batch_atom::value, EndBatch{std::move(reason)});
    });
}

std::size_t BatchHandle::unfinished() const {
  return shared_->size - std::min(shared_->size, shared_->ended.load(std::memory_order_relaxed));
}

BatchHandle start_batch(BatchSpec spec, CallContext context, BatchDone done) {
  if (!spec.op->is_async())
    throw std::logic_error("start_batch: " + spec.name +
                           " runs a synchronous operator; run it with run_batch");
  return supervise_batch(prepare(std::move(spec), std::move(context), std::move(done)), false);
}

BatchOutcome run_batch(const BatchSpec& spec) {
  auto options = current_execution_snapshot();
  auto context = batch_context(spec, options);
  auto deadline = context.deadline;
  auto state = prepare(spec, std::move(context), {});
  // A plain pointer: the answer lives as long as the state that holds `done`.
  state->done = [answer = &state->answer](BatchOutcome* outcome, std::exception_ptr error) {
    answer->give(outcome, std::move(error));
  };
  bool alone = state->synchronous && state->helpers == 0 && !deadline;
  auto batch = supervise_batch(state, alone);
  if (state->synchronous) {
    auto& shared = *state->shared;
    state->work(shared.supervisor);
    // Every item ended well (the results are in place): the answer is the
    // results, whatever the supervisor has drained so far, so this thread
    // takes it instead of waiting for a scheduler thread to pass it on. Its
    // own report, already sent, lets the supervisor quit.
    if (!alone && shared.ended.load(std::memory_order_acquire) == spec.size &&
        !shared.any_failed.load(std::memory_order_relaxed) && !shared.stop.stop_requested() &&
        !shared.answered.exchange(true, std::memory_order_acq_rel))
      return BatchOutcome{std::move(state->results), {}};
    // Alone, this thread is the supervisor: an empty batch ends here, and
    // the items it did not run because it was stopped never end.
    if (alone && !state->over) {
      if (state->ended == spec.size)
        state->finish();
      else
        state->end(state->stop_reason());
    }
  }
  // The supervisor holds the deadline too; this wait keeps it even when no
  // scheduler thread is free to deliver the supervisor's timer.
  if (!state->answer.wait(deadline)) {
    auto error = std::make_exception_ptr(
        TimeoutError(batch_timeout_message(spec, *options, batch.unfinished())));
    batch.cancel(error);
    std::rethrow_exception(error);
  }
  return state->answer.take();
}

} // namespace ember::xcs::detail
