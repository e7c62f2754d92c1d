// Runs the items of one transform call for a synchronous caller: the calling
// thread works on them itself while a supervisor actor recruits helpers from
// the executor and holds the deadline. Private to the runtime.
#pragma once

#include "runtime/batch.hpp"

namespace ember::xcs::detail {

/// Runs every item under the options in force. use_parallel = false runs them
/// one at a time in input order on this thread. Otherwise up to max_workers
/// bodies run at once, counted against the budget of the top-level call.
/// Items of an asynchronous operator go to an async batch supervisor and this
/// thread only waits. fail_fast (default): the first failure cancels the rest
/// and throws ExecutionError naming the transform, the item and the operator,
/// with the cause nested. Throws TimeoutError when the deadline passes and
/// CancelledError when an enclosing call is cancelled.
BatchOutcome run_batch(const BatchSpec& spec);

} // namespace ember::xcs::detail
