// The options in force as an immutable snapshot that travels with the work:
// the call site takes it, the envelope carries it, the worker runs the body
// under it. No worker reads its own thread's state or the global to decide how
// to run someone else's work.
#pragma once
#include "ember/config.hpp"

#include <ember/fwd.hpp>

namespace ember::xcs {

/// The options in force on this thread of control. Never null. Cheap: while the
/// global settings are unchanged it costs one atomic load and a copy of a
/// pointer this thread cached; merged results of scopes are cached per thread
/// too and rebuilt only after the global or this thread's scopes changed. Two
/// calls with nothing changed in between return the same pointer.
ExecutionSnapshot current_execution_snapshot();

/// Installs `snapshot` as the options in force on this thread while a body
/// runs here on behalf of a call site elsewhere. While the guard is alive the
/// snapshot replaces the global as the base: scopes the body opens merge over
/// it, set_execution_options from elsewhere does not reach it, and the scopes
/// this thread had open before are hidden. Destruction restores the previous
/// state; guards nest. Must be destroyed on the thread that created it.
class [[nodiscard]] ExecutionContextGuard {
public:
  /// Throws std::invalid_argument for a null snapshot: a body with no known
  /// options would silently fall back to the worker's own state.
  explicit ExecutionContextGuard(ExecutionSnapshot snapshot);
  ~ExecutionContextGuard();

  ExecutionContextGuard(const ExecutionContextGuard&) = delete;
  ExecutionContextGuard& operator=(const ExecutionContextGuard&) = delete;
};

} // namespace ember::xcs
