// The supervisor of a batch: one actor per transform call that owns the
// call's state (which items ended, the results in input order, the
// failures), starts units within the call's budget, hears every end as a
// message, applies fail_fast, holds the deadline and answers the caller.
// Asynchronous bodies are started one by one and hold no thread; synchronous
// ones are claimed in chunks by the workers it recruits (and by a
// synchronous caller, which works on its own call instead of waiting).
// Private to the runtime and the transforms.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>

#include "runtime/batch.hpp"

namespace ember::xcs::detail {

/// Receives a batch's end exactly once: the outcome (every item a result or,
/// with fail_fast = false, a failure), or the error that ended it
/// (ExecutionError naming the item that failed fast, TimeoutError,
/// CancelledError, RuntimeUnavailableError at shutdown). Runs on a CAF
/// scheduler thread or on a worker: it must not block.
using BatchDone = std::function<void(BatchOutcome* outcome, std::exception_ptr error)>;

/// A handle on a running batch.
class BatchHandle {
public:
  struct Shared;
  explicit BatchHandle(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  /// Ends the batch now with `reason` (unless it has ended): running bodies
  /// see their stop token at once, no further item starts.
  void cancel(std::exception_ptr reason) const;

  /// Items that have not ended yet.
  std::size_t unfinished() const;

private:
  std::shared_ptr<Shared> shared_;
};

/// Starts the items of `spec` under `context` (see batch_context) on a
/// supervisor actor. At most max_workers bodies run or are in flight at
/// once, counted in the call's budget: the first under the permit the
/// starter holds, each further one (an asynchronous body, or a worker
/// claiming synchronous items) under a permit of its own; use_parallel =
/// false runs them one at a time in input order. A body that fails cancels
/// the rest (fail_fast) or is recorded.
BatchHandle start_batch(BatchSpec spec, CallContext context, BatchDone done);

/// Runs every item for a synchronous caller under the options in force and
/// returns the outcome or throws what ended the batch: ExecutionError naming
/// the transform, the item and the operator with the cause nested
/// (fail_fast), TimeoutError at the deadline, CancelledError when an
/// enclosing call is cancelled. The calling thread works on synchronous items
/// itself; with nothing to supervise (no helper to recruit, no deadline) it
/// runs them alone and no actor is spawned.
BatchOutcome run_batch(const BatchSpec& spec);

} // namespace ember::xcs::detail
