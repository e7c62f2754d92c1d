// The context a body runs under: the call site's options snapshot, deadline
// and stop token. Private to the runtime.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>

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

/// The deadline a new call made here gets: the enclosing call's deadline, or
/// now + timeout_seconds at the outermost call; a scope opened inside a body
/// can only shorten the inherited budget, never extend it.
std::optional<this_call::Clock::time_point> deadline_for(const ExecutionSnapshot& options);

} // namespace ember::xcs::detail
