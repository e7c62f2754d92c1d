// The running runtime: the actor system in use, the blocking pool and the
// gate that keeps abandoned bodies away from a system being shut down.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>
#include <future>
#include <shared_mutex>
#include <thread>

#include <caf/actor_addr.hpp>

#include "ember/xcs/runtime/runtime.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/executors.hpp"
#include "runtime/io_service.hpp"

namespace ember::xcs::detail {

class RuntimeCore {
public:
  RuntimeCore(const RuntimeConfig& config, caf::actor_system* attached);
  ~RuntimeCore();
  RuntimeCore(const RuntimeCore&) = delete;
  RuntimeCore& operator=(const RuntimeCore&) = delete;

  caf::actor_system& system() noexcept { return *system_; }
  /// The waiting-friendly pool (io bodies, timed calls of io operators).
  BlockingPool& pool() noexcept { return pool_; }
  /// The executor for `device`: the compute pool for cpu, pool() for io.
  BlockingPool& executor(Device device) noexcept { return device == Device::cpu ? cpu_pool_ : pool_; }
  const RuntimeConfig& config() const noexcept { return config_; }

  /// The I/O thread for asynchronous bodies, started on first use.
  IoService& io();

  /// Remembers an operator actor so shutdown can end it even while a
  /// handle to it is still held somewhere.
  void track(const caf::actor_addr& actor);

  /// Runs `deliver` unless shutdown has begun; returns whether it ran. A body
  /// finishing on a pool thread hands its reply to CAF only through here, so
  /// nothing reaches an actor system that is being destroyed.
  bool if_open(const std::function<void()>& deliver);

  /// Closes the gate, waits up to the grace period for running bodies and
  /// stops an owned actor system. Returns true when no body was abandoned.
  bool shutdown();

private:
  static void linger(std::jthread owner, std::future<void> destroyed);

  RuntimeConfig config_;
  // An owned actor system lives on its own thread from construction to
  // destruction: CAF 0.17 corrupts its heap when the system is destroyed on
  // another thread than the one that made it, or by an exit handler.
  std::jthread owner_;
  std::promise<void> release_;
  std::future<void> destroyed_;
  caf::actor_system* system_;
  BlockingPool pool_;
  BlockingPool cpu_pool_;
  std::once_flag io_started_;
  std::unique_ptr<IoService> io_;
  std::mutex spawned_mutex_;
  std::vector<caf::actor_addr> spawned_;
  std::size_t spawned_live_estimate_ = 16;
  std::shared_mutex gate_;
  bool open_ = true;
};

/// The running runtime, started on first use. Work holds the shared pointer,
/// so an abandoned body keeps the core (not the actor system) alive.
std::shared_ptr<RuntimeCore> runtime_core();

/// True on a CAF scheduler thread of a system prepared by ember-xcs.
bool on_scheduler_thread() noexcept;

} // namespace ember::xcs::detail
