// How many operator bodies one top-level call may run at once, shared by all
// of its nesting levels. Private to the runtime.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>

namespace ember::xcs::detail {

/// Permits for bodies of one call. The thread that makes the top-level call
/// holds one permit implicitly; every helper a supervisor recruits, and every
/// asynchronous body in flight past the first, must take one first. A thread
/// running a body that makes a nested transform call keeps its permit and
/// works on the nested batch itself, so nesting never multiplies threads and
/// never waits for a permit (no deadlock even with one permit).
///
/// A nested call whose own max_workers is narrower gets a budget of its own
/// chained to the enclosing one: a permit is taken from both, so the nested
/// call narrows what it may use and never widens what the top-level call
/// allows. (std::counting_semaphore has no try-acquire of several counters
/// at once and no way to read its count; hence this small counter.)
class WorkerBudget {
public:
  explicit WorkerBudget(std::size_t limit, std::shared_ptr<WorkerBudget> enclosing = nullptr)
      : limit_(enclosing ? std::min(limit, enclosing->limit()) : limit),
        available_(static_cast<std::ptrdiff_t>(limit) - 1), enclosing_(std::move(enclosing)) {}

  std::size_t limit() const noexcept { return limit_; }

  bool try_acquire() noexcept {
    if (!take(available_))
      return false;
    if (enclosing_ && !enclosing_->try_acquire()) {
      available_.fetch_add(1, std::memory_order_release);
      return false;
    }
    return true;
  }

  void release() noexcept {
    if (enclosing_)
      enclosing_->release();
    available_.fetch_add(1, std::memory_order_release);
  }

  /// Whether a permit is free right now (a hint: another thread may take it).
  bool any_available() const noexcept {
    return available_.load(std::memory_order_relaxed) > 0 &&
           (!enclosing_ || enclosing_->any_available());
  }

private:
  static bool take(std::atomic<std::ptrdiff_t>& counter) noexcept {
    auto available = counter.load(std::memory_order_relaxed);
    while (available > 0)
      if (counter.compare_exchange_weak(available, available - 1, std::memory_order_acquire))
        return true;
    return false;
  }

  std::size_t limit_;
  std::atomic<std::ptrdiff_t> available_;
  std::shared_ptr<WorkerBudget> enclosing_;
};

/// The budget of a call made under `max_workers` (unset: `default_limit`):
/// the enclosing call's budget when there is one, narrowed by a chained
/// budget when max_workers is below it; a fresh one at the top level.
inline std::shared_ptr<WorkerBudget> budget_for(const std::shared_ptr<WorkerBudget>& enclosing,
                                                std::optional<int> max_workers,
                                                std::size_t default_limit) {
  if (!enclosing)
    return std::make_shared<WorkerBudget>(max_workers ? static_cast<std::size_t>(*max_workers)
                                                      : default_limit);
  if (max_workers && static_cast<std::size_t>(*max_workers) < enclosing->limit())
    return std::make_shared<WorkerBudget>(static_cast<std::size_t>(*max_workers), enclosing);
  return enclosing;
}

} // namespace ember::xcs::detail
