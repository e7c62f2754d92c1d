// The supervisor of a batch of asynchronous bodies: an actor that starts
// items while the call's budget allows, receives each completion as a
// message, holds the deadline and hands the outcome on. No thread waits for
// any body. Private to the runtime and the transforms.
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
/// scheduler thread: it must not block.
using BatchDone = std::function<void(BatchOutcome* outcome, std::exception_ptr error)>;

/// A handle on a running batch.
class AsyncBatch {
public:
  struct Shared;
  explicit AsyncBatch(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  /// Ends the batch now with `reason` (unless it has ended): running bodies
  /// see their stop token, no further item starts.
  void cancel(std::exception_ptr reason) const;

  /// Items that have not ended yet.
  std::size_t unfinished() const;

private:
  std::shared_ptr<Shared> shared_;
};

/// Starts the items of `spec` (an asynchronous operator) under `context`
/// (see batch_context) on a supervisor actor. At most max_workers bodies are
/// in flight, counted in the call's budget: the first under the permit the
/// starter holds, each further one under a permit of its own, given back by
/// its completion; use_parallel = false starts them one at a time in input
/// order. A body that fails cancels the rest (fail_fast) or is recorded.
AsyncBatch start_async_batch(BatchSpec spec, CallContext context, BatchDone done);

/// For a synchronous caller: starts the batch and waits for it until the
/// deadline; throws what ended it.
BatchOutcome wait_for_async_batch(const BatchSpec& spec, CallContext context);

} // namespace ember::xcs::detail
