// The actor runtime behind every call: a CAF actor system and the threads
// that run blocking operator bodies. Started lazily by the first call that
// needs it; shut down, bounded by a grace period, at program exit.
#pragma once
#include "ember/config.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace caf {
class actor_system;
class actor_system_config;
} // namespace caf

namespace ember::xcs {

/// The most scheduler_threads allowed: CAF's threads only route messages, and
/// far more of them than cores only adds contention.
inline constexpr std::size_t max_scheduler_threads = 1024;
/// The most blocking_threads allowed: past a few thousand threads a process
/// runs into the OS's limits; wait for that much I/O with asynchronous operators.
inline constexpr std::size_t max_blocking_threads = 4096;

struct RuntimeConfig {
  /// CAF scheduler threads (they only route messages): 1 to
  /// max_scheduler_threads. Default: the number of cores.
  std::optional<std::size_t> scheduler_threads{};
  /// Upper bound of threads that run blocking operator bodies at once: 1 to
  /// max_blocking_threads.
  std::size_t blocking_threads = 64;
  /// How long shutdown (and so program exit) waits for bodies still running
  /// before it abandons them.
  std::chrono::milliseconds shutdown_grace{1000};

  bool operator==(const RuntimeConfig&) const = default;
};

/// String-keyed runtime settings: scheduler_threads, blocking_threads,
/// shutdown_grace_ms. Unknown name: std::invalid_argument
/// "Invalid runtime option: <name>"; bad value: names option, value, allowed.
RuntimeConfig parse_runtime_config(const std::vector<std::pair<std::string, std::string>>& options,
                                   RuntimeConfig base = {});

/// Defaults overlaid with EMBER_XCS_SCHEDULER_THREADS, EMBER_XCS_BLOCKING_THREADS
/// and EMBER_XCS_SHUTDOWN_GRACE_MS when set. The runtime starts from this.
RuntimeConfig runtime_config_from_environment();

/// Replaces the configuration the runtime starts with. Throws std::logic_error
/// once the runtime has started.
void configure_runtime(const RuntimeConfig& config);

/// The configuration in force (or that the runtime will start with).
RuntimeConfig runtime_config();

/// Prepares an application's own CAF config so ember-xcs can run on its actor
/// system: registers ember-xcs's message types, marks scheduler threads (so a
/// blocking call there is refused) and sets scheduler.max-threads unless the
/// application did. Call before constructing the caf::actor_system.
void prepare_actor_system_config(caf::actor_system_config& config);

/// Makes ember-xcs spawn its actors on `system` instead of starting its own.
/// `system` must outlive every ember-xcs call. Throws std::logic_error once
/// the runtime has started with another system.
void attach_actor_system(caf::actor_system& system);

/// The actor system ember-xcs uses; starts the runtime if needed.
caf::actor_system& actor_system();

/// Shuts the runtime down: stops taking bodies, waits up to shutdown_grace
/// for running ones, abandons the rest. A later call starts a fresh runtime.
/// Returns true when no body was abandoned. Runs at program exit too.
bool shutdown_runtime();

/// Threads alive in the runtime's pools, io and compute (for tests and diagnostics).
std::size_t blocking_thread_count();

} // namespace ember::xcs
