// How a failed body is reported by the runs that supervise many of them
// (batches, graphs). Private to the runtime.
#pragma once

#include <exception>
#include <string>

#include "ember/xcs/engine/execution_options.hpp"

namespace ember::xcs::detail {

/// Where a run's deadline came from, for its timeout message:
/// "timeout_seconds=0.1", or "its enclosing call" when this scope set none.
std::string deadline_source(const ExecutionOptions& options);

/// what() of the exception, or a fixed text for a non-standard one.
std::string message_of(const std::exception_ptr& error);

/// Whether `error` is a TimeoutError: a body that ran into the run's own
/// deadline (a nested call checks it too, and may do so before the run's
/// timer fires) is the run timing out, not the body failing.
bool is_timeout(const std::exception_ptr& error);

/// Whether `error` is a CancelledError.
bool is_cancelled(const std::exception_ptr& error);

/// Rethrows `error` as ExecutionError(`context` + ": " + its message) with the
/// original nested; a TimeoutError or CancelledError passes through unchanged:
/// a deadline or a cancellation is the caller's outcome, not the body's fault.
[[noreturn]] void rethrow_as_execution_error(const std::exception_ptr& error,
                                             const std::string& context);

} // namespace ember::xcs::detail
