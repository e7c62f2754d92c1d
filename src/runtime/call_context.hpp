// The context a body runs under: the call site's options snapshot, deadline
// and stop token. Private to the runtime.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>

#include "ember/core/registry/operator/base/operator_ref.hpp"
#include "ember/xcs/engine/execution_context.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/runtime/this_call.hpp"
#include "runtime/worker_budget.hpp"

namespace ember::xcs::detail {

struct CallContext {
  ExecutionSnapshot options{};
  std::optional<this_call::Clock::time_point> deadline{};
  std::stop_token stop{};
  /// Shared by every nesting level of one top-level transform call; null
  /// outside transforms.
  std::shared_ptr<WorkerBudget> budget{};
  /// The trace span of the body running under this context (0: none).
  std::uint64_t span = 0;
};

/// The context of the body running on this thread, or nullptr outside bodies.
const CallContext* current_call_context() noexcept;

/// Installs a CallContext (and its options snapshot as the options in force)
/// for the lifetime of the scope, so nested calls made by the body inherit
/// the call site's options, deadline and cancellation.
class CallScope {
public:
  explicit CallScope(const CallContext& context);
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

private:
  const CallContext* previous_;
  ExecutionContextGuard options_guard_;
};

/// Takes over the synchronous operator calls made on one thread: while a
/// structural_jit forward runs, its sub-operator calls go to its frame.
class CallInterceptor {
public:
  virtual Record intercept(const OperatorRef& op, const Record& inputs) = 0;

protected:
  ~CallInterceptor() = default;
};

/// The interceptor of this thread, or nullptr.
CallInterceptor* current_interceptor() noexcept;

/// Sets this thread's interceptor (nullptr: none) for the scope's lifetime.
class InterceptScope {
public:
  explicit InterceptScope(CallInterceptor* interceptor) noexcept;
  ~InterceptScope();
  InterceptScope(const InterceptScope&) = delete;
  InterceptScope& operator=(const InterceptScope&) = delete;

private:
  CallInterceptor* previous_;
};

/// now + `seconds`, for a finite `seconds` > 0. The steady clock counts
/// nanoseconds in 64 bits (about 292 years from boot), so a timeout longer
/// than longest_timeout is capped there instead of overflowing into a
/// deadline in the past.
inline constexpr std::chrono::hours longest_timeout{24 * 365 * 100};
this_call::Clock::time_point deadline_after(double seconds);

/// The deadline a new call made here gets: the enclosing call's deadline, or
/// now + timeout_seconds at the outermost call; a scope opened inside a body
/// can only shorten the inherited budget, never extend it.
std::optional<this_call::Clock::time_point> deadline_for(const ExecutionSnapshot& options);

} // namespace ember::xcs::detail
