// Which executor runs a body, and how many bodies of one call may run at
// once by default. Private to the runtime.
#pragma once

#include <cstddef>

#include "ember/core/registry/operator/base/operator_base.hpp"
#include "ember/xcs/engine/execution_options.hpp"

namespace ember::xcs::detail {

enum class Device {
  cpu, ///< bounded compute pool: as many threads as cores
  io,  ///< waiting-friendly pool: many blocked bodies at once
};

/// device_strategy resolved for `op`: cpu and io as named, auto by the
/// operator's declared kind. Throws RuntimeUnavailableError for a strategy
/// with no executor registered (gpu), naming the registered ones.
Device device_for(const ExecutionOptions& options, OperatorKind kind);

/// The machine's cores, read once: std::thread::hardware_concurrency() reads
/// /sys on every call (microseconds), too slow for a per-call default.
std::size_t core_count() noexcept;

/// max_workers when the options leave it unset: the cores for cpu, the io
/// pool's thread cap for io.
std::size_t default_workers(Device device);

/// How many threads an executor may grow to for the helpers of a call: an
/// explicit max_workers above the pool's size grows it for that call, up to
/// max_blocking_threads; 0 (no growth) when max_workers is unset.
std::size_t thread_limit(const ExecutionOptions& options);

} // namespace ember::xcs::detail
