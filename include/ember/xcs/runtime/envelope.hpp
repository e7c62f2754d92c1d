// The metadata that travels with a piece of work: the call site's options
// snapshot and its absolute deadline.
#pragma once
#include "ember/config.hpp"

#include <chrono>
#include <optional>

#include "ember/xcs/engine/execution_context.hpp"
#include "ember/xcs/runtime/this_call.hpp"

namespace ember::xcs {

/// CAF messages have no header map, so the envelope is part of the payload.
/// Copying it copies a shared pointer: the snapshot is immutable.
struct Envelope {
  ExecutionSnapshot options;
  std::optional<this_call::Clock::time_point> deadline;
};

/// The envelope for a call made here and now: the options in force on this
/// thread, and the deadline they imply (or the enclosing call's).
Envelope make_envelope();

} // namespace ember::xcs
