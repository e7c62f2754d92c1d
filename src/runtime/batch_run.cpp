#include "runtime/batch_run.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "ember/core/exceptions.hpp"
#include "runtime/async_batch.hpp"
#include "runtime/call_context.hpp"
#include "runtime/executors.hpp"
#include "runtime/failure.hpp"
#include "runtime/invoke.hpp"
#include "runtime/runtime_core.hpp"

namespace ember::xcs::detail {
namespace {

using Clock = this_call::Clock;
using deadline_atom = caf::atom_constant<caf::atom("e_deadln")>;
using finished_atom = caf::atom_constant<caf::atom("e_done")>;

// Shared by the calling thread, the helpers and the supervisor; whoever
// finishes last frees it.
class BatchState : public std::enable_shared_from_this<BatchState> {
public:
  BatchState(const BatchSpec& spec, CallContext context, bool fail_fast)
      : spec_(spec), context_(std::move(context)), fail_fast_(fail_fast),
        results_(spec.absorb ? 0 : spec.size), chunk_(chunk_size(spec.size, context_.budget->limit())) {
    context_.stop = stop_.get_token();
  }

  std::stop_source& stop() noexcept { return stop_; }
  const std::optional<Clock::time_point>& deadline() const noexcept { return context_.deadline; }
  const ExecutionSnapshot& options() const noexcept { return context_.options; }

  // Under mutex_. The first cancellation notes how many items had not ended.
  void mark_cancelled() {
    if (!cancelled_)
      unfinished_at_cancel_ = spec_.size - finished_.load(std::memory_order_acquire);
    cancelled_ = true;
  }

  std::string timeout_message() const {
    return batch_timeout_message(spec_, *context_.options, unfinished_at_cancel_);
  }
  WorkerBudget& budget() noexcept { return *context_.budget; }

  // A worker: claims chunks of items until none are left or the batch is
  // stopped. Items are claimed in index order, so one worker alone runs them
  // in input order.
  void work() {
    {
      std::lock_guard lock{mutex_};
      ++active_;
    }
    {
      CallScope scope{context_};
      std::function<Record(std::size_t)> own;
      if (spec_.worker_item_inputs) {
        try {
          own = spec_.worker_item_inputs();
        } catch (...) {
          // Out of memory for the worker's copies: the shared inputs serve.
        }
      }
      const auto& inputs_of = own ? own : spec_.item_inputs;
      for (;;) {
        auto begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
        if (begin >= spec_.size)
          break;
        auto end = std::min(begin + chunk_, spec_.size);
        // Ended items are counted once per chunk: a shared counter touched by
        // every worker for every item costs more than a cheap body.
        std::size_t ended = 0;
        for (auto index = begin; index < end && !stop_.stop_requested(); ++index, ++ended)
          run_one(index, inputs_of);
        finished_.fetch_add(ended, std::memory_order_release);
        if (stop_.stop_requested())
          break;
      }
    }
    std::lock_guard lock{mutex_};
    // Waking under the lock: the caller may free nothing until it sees active_ == 0.
    if (--active_ == 0)
      changed_.notify_all();
  }

  // Called by the supervisor's timer or a cancelled enclosing call. Bodies
  // that fail because they were stopped are not item failures after this.
  void cancel() {
    {
      std::lock_guard lock{mutex_};
      mark_cancelled();
    }
    // Outside the lock: stop callbacks may complete bodies, which lock.
    stop_.request_stop();
    std::lock_guard lock{mutex_};
    changed_.notify_all();
  }

  // The calling thread, after its own work(): waits for the helpers, then
  // returns the outcome or throws what ended the batch.
  BatchOutcome finish() {
    std::unique_lock lock{mutex_};
    // Settled when every item ended as a result or an error, or the batch
    // failed fast, or it was cancelled. Items claimed but left unrun after a
    // stop are not finished, so a stopped batch never passes for a complete one.
    auto settled = [&] {
      return first_failure_ || cancelled_ ||
             finished_.load(std::memory_order_acquire) == spec_.size;
    };
    if (deadline())
      changed_.wait_until(lock, *deadline(), settled);
    else
      changed_.wait(lock, settled);
    if (first_failure_) {
      lock.unlock();
      rethrow_failure(*first_failure_);
    }
    // A cancelled batch fails even if every body returned: a body stopped
    // early may have returned a partial result.
    if (cancelled_ || finished_.load(std::memory_order_acquire) != spec_.size) {
      mark_cancelled();
      lock.unlock();
      stop_.request_stop();
      if (deadline() && Clock::now() >= *deadline())
        throw TimeoutError(timeout_message());
      throw CancelledError(spec_.name + ": cancelled by its enclosing call");
    }
    BatchOutcome outcome;
    outcome.results = std::move(results_);
    std::sort(failures_.begin(), failures_.end(),
              [](const auto& a, const auto& b) { return a.index < b.index; });
    outcome.failures = std::move(failures_);
    return outcome;
  }

private:
  struct Failure {
    std::size_t index;
    std::exception_ptr error;
  };

  static std::size_t chunk_size(std::size_t items, std::size_t workers) {
    // Big enough to keep the shared counter cold, small enough that every
    // worker gets several chunks to balance uneven items.
    return std::clamp<std::size_t>(items / (16 * std::max<std::size_t>(workers, 1)), 1, 64);
  }

  void run_one(std::size_t index, const std::function<Record(std::size_t)>& inputs_of) {
    try {
      auto position = static_cast<std::int64_t>(index);
      BodyLabel label{spec_.transform, spec_.items_are_shards ? -1 : position,
                      spec_.items_are_shards ? position : -1};
      auto result = invoke_body(*spec_.op, inputs_of(index), context_.options, label);
      if (!spec_.absorb || !spec_.absorb(index, result)) {
        // With absorb, the results nobody took are the exception: their
        // vector is made when the first one comes, not page-faulted in for
        // every batch.
        if (spec_.absorb)
          std::call_once(results_made_, [&] { results_.resize(spec_.size); });
        results_[index] = std::move(result);
      }
    } catch (...) {
      fail(index, std::current_exception());
    }
  }

  void fail(std::size_t index, std::exception_ptr error) {
    // A nested call that ran into this call's deadline is this batch timing
    // out, not the item failing: nested batches check the shared deadline
    // themselves, so their TimeoutError can come before the supervisor's
    // timer cancels this batch (it was reported as an item failure, and with
    // fail_fast = false the call returned after its deadline).
    if (deadline() && Clock::now() >= *deadline() && is_timeout(error)) {
      cancel();
      return;
    }
    {
      std::lock_guard lock{mutex_};
      if (cancelled_)
        return; // a body stopped by the deadline or the enclosing call: not its fault
      if (!fail_fast_) {
        failures_.push_back(ItemFailure{index, message_of(error)});
        return;
      }
      if (first_failure_)
        return;
      first_failure_ = Failure{index, error};
    }
    // Outside the lock: stop callbacks may complete other bodies, which lock.
    stop_.request_stop();
    std::lock_guard lock{mutex_};
    changed_.notify_all();
  }

  [[noreturn]] void rethrow_failure(const Failure& failure) const {
    std::rethrow_exception(item_failure(spec_, failure.index, failure.error));
  }

  BatchSpec spec_;
  CallContext context_;
  bool fail_fast_;
  std::vector<std::optional<Record>> results_; // empty with absorb until one is left
  std::once_flag results_made_;
  std::size_t chunk_;
  std::stop_source stop_;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> finished_{0};
  std::size_t unfinished_at_cancel_ = 0; // under mutex_
  bool cancelled_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t active_ = 0;
  std::optional<Failure> first_failure_;
  std::vector<ItemFailure> failures_;
};

// The supervisor of one batch: fans the batch out to up to `helpers` extra
// workers on the executor, each holding a permit of the call's budget, and
// holds the deadline: when it passes, queued items are dropped and running
// bodies see their stop token, even while the calling thread is itself busy
// inside a body.
caf::behavior supervisor(caf::event_based_actor* self, std::shared_ptr<BatchState> state,
                         std::size_t helpers, std::shared_ptr<RuntimeCore> core, Device device) {
  auto& executor = core->executor(device);
  for (std::size_t i = 0; i < helpers && !state->stop().stop_requested(); ++i) {
    if (!state->budget().try_acquire())
      break;
    executor.post(
        [state] {
          state->work();
          state->budget().release();
        },
        thread_limit(*state->options()));
  }
  if (!state->deadline()) {
    self->quit();
    return {};
  }
  auto delay = std::max(*state->deadline() - Clock::now(), Clock::duration::zero());
  self->delayed_send(self, delay, deadline_atom::value);
  return {
      [=](deadline_atom) {
        state->cancel();
        self->quit();
      },
      [=](finished_atom) { self->quit(); },
  };
}

} // namespace

BatchOutcome run_batch(const BatchSpec& spec) {
  auto options = current_execution_snapshot();
  auto context = batch_context(spec, options);
  if (spec.op->is_async())
    return wait_for_async_batch(spec, std::move(context));
  const CallContext* parent = current_call_context();
  auto device = device_for(*options, spec.op->kind());
  std::size_t workers = options->use_parallel ? std::min(context.budget->limit(), spec.size) : 1;
  auto state = std::make_shared<BatchState>(spec, context, options->fail_fast);
  // A cancelled enclosing call cancels this batch too.
  std::optional<std::stop_callback<std::function<void()>>> chained;
  if (parent != nullptr)
    chained.emplace(parent->stop, std::function<void()>{[state] { state->cancel(); }});

  // No permit free (nested in a saturated call): the caller works alone and
  // no supervisor is spawned just to find that out.
  std::size_t helpers = workers < 2 || !context.budget->any_available() ? 0 : workers - 1;
  caf::actor supervising;
  if (helpers > 0 || context.deadline) {
    auto core = runtime_core();
    supervising = core->system().spawn(supervisor, state, helpers, core, device);
  }
  state->work();
  struct NotifySupervisor {
    caf::actor& actor;
    ~NotifySupervisor() {
      if (actor)
        caf::anon_send(actor, finished_atom::value);
    }
  } notify{supervising};
  return state->finish();
}

} // namespace ember::xcs::detail
