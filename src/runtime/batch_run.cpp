#include "transforms/batch_run.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
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
  BatchState(const BatchSpec& spec, CallContext context, bool fail_fast, std::size_t in_flight)
      : spec_(spec), context_(std::move(context)), fail_fast_(fail_fast),
        results_(spec.size), chunk_(chunk_size(spec.size, context_.budget->limit())),
        in_flight_limit_(in_flight) {
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

  // "vmap(Op) timed out: the deadline of timeout_seconds=0.1 passed with 3 of
  // 8 items unfinished"; none unfinished means the stop cut bodies short.
  std::string timeout_message() const {
    auto unfinished = unfinished_at_cancel_;
    std::string noun = spec_.items_are_shards ? "shard" : "item";
    std::string message = spec_.name + " timed out: the deadline of " +
                          deadline_source(*context_.options) + " passed ";
    if (unfinished == 0)
      return message + "and stopped its " + noun + (spec_.size == 1 ? "" : "s");
    return message + "with " + std::to_string(unfinished) + " of " +
           std::to_string(spec_.size) + " " + noun + (spec_.size == 1 ? "" : "s") + " unfinished";
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
      for (;;) {
        auto begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
        if (begin >= spec_.size)
          break;
        auto end = std::min(begin + chunk_, spec_.size);
        for (auto index = begin; index < end && !stop_.stop_requested(); ++index)
          run_one(index);
        if (stop_.stop_requested())
          break;
      }
    }
    std::lock_guard lock{mutex_};
    // Waking under the lock: the caller may free nothing until it sees active_ == 0.
    if (--active_ == 0)
      changed_.notify_all();
  }

  // The calling thread of a batch of asynchronous bodies: starts items in
  // order while fewer than the limit are in flight. A waiting body holds no
  // thread; its completion arrives on whatever thread finishes it.
  //
  // Every body in flight counts against the call's budget: the first one
  // under the permit this thread holds, each further one under a permit of
  // its own, given back when a body completes. With none free, the thread
  // waits for one of its own bodies to complete, so it never waits forever.
  void start_async() {
    CallScope scope{context_};
    for (std::size_t index = 0; index < spec_.size; ++index) {
      {
        std::unique_lock lock{mutex_};
        changed_.wait(lock, [&] { return stop_.stop_requested() || take_slot(); });
        if (stop_.stop_requested())
          return;
        ++active_;
      }
      next_.store(index + 1, std::memory_order_relaxed);
      start_one(index);
    }
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

  void run_one(std::size_t index) {
    try {
      auto position = static_cast<std::int64_t>(index);
      BodyLabel label{spec_.transform, spec_.items_are_shards ? -1 : position,
                      spec_.items_are_shards ? position : -1};
      results_[index] = invoke_body(*spec_.op, spec_.item_inputs(index), context_.options, label);
    } catch (...) {
      fail(index, std::current_exception());
    }
    finished_.fetch_add(1, std::memory_order_release);
  }

  void start_one(std::size_t index) {
    const auto& op = static_cast<const AsyncOperator&>(*spec_.op);
    // One Completion per item: if start throws, the failure goes through it,
    // so the item completes exactly once.
    Completion done{[self = shared_from_this(), index](Record* outputs, std::exception_ptr error) {
                      self->complete(index, outputs, std::move(error));
                    },
                    stop_.get_token()};
    try {
      op.start(op.specification().validate_inputs(op.name(), spec_.item_inputs(index)), done);
    } catch (...) {
      done.fail(std::current_exception());
    }
  }

  // Under mutex_: whether one more asynchronous body may start now.
  bool take_slot() {
    if (active_ >= in_flight_limit_)
      return false;
    if (active_ == 0)
      return true; // under the starting thread's own permit
    if (!context_.budget->try_acquire())
      return false;
    ++permits_held_;
    return true;
  }

  void complete(std::size_t index, Record* outputs, std::exception_ptr error) {
    if (outputs != nullptr) {
      try {
        spec_.op->specification().validate_outputs(spec_.op->name(), *outputs);
        results_[index] = std::move(*outputs);
      } catch (...) {
        error = std::current_exception();
      }
    }
    if (error)
      fail(index, std::move(error));
    finished_.fetch_add(1, std::memory_order_release);
    std::lock_guard lock{mutex_};
    --active_;
    // The bodies still in flight hold the starter's permit and one each beyond it.
    if (permits_held_ > 0 && permits_held_ >= active_) {
      --permits_held_;
      context_.budget->release();
    }
    changed_.notify_all(); // the starter may wait for a free slot, the caller for the end
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
    rethrow_as_execution_error(failure.error, spec_.name + ": item " +
                                                  std::to_string(failure.index) + " of " +
                                                  std::to_string(spec_.size) +
                                                  " failed in operator '" + spec_.op->name() + "'");
  }


  BatchSpec spec_;
  CallContext context_;
  bool fail_fast_;
  std::vector<std::optional<Record>> results_;
  std::size_t chunk_;
  std::size_t in_flight_limit_;
  std::stop_source stop_;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> finished_{0};
  std::size_t unfinished_at_cancel_ = 0; // under mutex_
  bool cancelled_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t active_ = 0;
  std::size_t permits_held_ = 0; // by asynchronous bodies in flight beyond the first
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
  const CallContext* parent = current_call_context();
  auto device = device_for(*options, spec.op->kind());
  CallContext context{options, deadline_for(options), {},
                      budget_for(parent != nullptr ? parent->budget : nullptr,
                                 options->max_workers, default_workers(device)),
                      parent != nullptr ? parent->span : 0};
  if (context.deadline && Clock::now() >= *context.deadline)
    throw TimeoutError(spec.name + " timed out: the deadline of " + deadline_source(*options) +
                       " passed before it started");
  std::size_t workers = options->use_parallel ? std::min(context.budget->limit(), spec.size) : 1;
  bool async = spec.op->is_async();
  auto state = std::make_shared<BatchState>(spec, context, options->fail_fast,
                                            std::max<std::size_t>(workers, 1));
  // A cancelled enclosing call cancels this batch too.
  std::optional<std::stop_callback<std::function<void()>>> chained;
  if (parent != nullptr)
    chained.emplace(parent->stop, std::function<void()>{[state] { state->cancel(); }});

  // Asynchronous bodies need no helper threads: the caller starts them all.
  // No permit free (nested in a saturated call): the caller works alone and
  // no supervisor is spawned just to find that out.
  std::size_t helpers =
      async || workers < 2 || !context.budget->any_available() ? 0 : workers - 1;
  caf::actor supervising;
  if (helpers > 0 || context.deadline) {
    auto core = runtime_core();
    supervising = core->system().spawn(supervisor, state, helpers, core, device);
  }
  if (async)
    state->start_async();
  else
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
