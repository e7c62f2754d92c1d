// How many operator bodies one top-level call may run at once, shared by all
// of its nesting levels. Private to the runtime.
#pragma once

#include <atomic>
#include <cstddef>

namespace ember::xcs::detail {

/// Permits for threads that run bodies of one call. The thread that makes the
/// top-level call holds one permit implicitly; every helper a supervisor
/// recruits must take one first. A thread running a body that makes a nested
/// transform call keeps its permit and works on the nested batch itself, so
/// nesting never multiplies threads and never waits for a permit (no deadlock
/// even with one permit).
class WorkerBudget {
public:
  explicit WorkerBudget(std::size_t limit) : limit_(limit), available_(limit - 1) {}

  std::size_t limit() const noexcept { return limit_; }

  bool try_acquire() noexcept {
    auto available = available_.load(std::memory_order_relaxed);
    while (available > 0)
      if (available_.compare_exchange_weak(available, available - 1, std::memory_order_acquire))
        return true;
    return false;
  }

  void release() noexcept { available_.fetch_add(1, std::memory_order_release); }

  /// Whether a permit is free right now (a hint: another thread may take it).
  bool any_available() const noexcept { return available_.load(std::memory_order_relaxed) > 0; }

private:
  std::size_t limit_;
  std::atomic<std::ptrdiff_t> available_;
};

} // namespace ember::xcs::detail
