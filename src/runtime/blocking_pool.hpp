// Threads made for blocking operator bodies. Private to the runtime.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace ember::xcs::detail {

/// An elastic pool: a task starts on an idle thread, or on a new one while
/// fewer than `max_threads` exist; past that it queues. Idle threads retire
/// after `idle_timeout`, so a burst of blocking bodies does not leave threads
/// behind. (asio::thread_pool has a fixed thread count, which either starves
/// waiting bodies or keeps dozens of idle threads; hence this small pool.)
///
/// Threads are detached and share the pool's state, so a body that outlives
/// shutdown() (a call abandoned after its deadline) never touches freed memory.
class BlockingPool {
public:
  /// `name` (at most 15 characters) names the threads, for debuggers and tests.
  BlockingPool(std::string name, std::size_t max_threads, std::chrono::milliseconds idle_timeout);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  /// Runs `task` on a pool thread. After shutdown() the task is dropped.
  /// `thread_limit` above max_threads lets this task start a thread beyond
  /// it (a call whose explicit max_workers asks for more); such threads
  /// retire when idle like the others.
  void post(std::function<void()> task, std::size_t thread_limit = 0);

  /// Threads currently alive (running or idle).
  std::size_t thread_count() const;

  /// Threads waiting for a task.
  std::size_t idle_count() const;

  /// Stops taking work, drops queued tasks and waits up to `grace` for running
  /// ones. Returns true when every thread has finished.
  bool shutdown(std::chrono::milliseconds grace);

  struct State;

private:
  std::shared_ptr<State> state_;
};

} // namespace ember::xcs::detail
