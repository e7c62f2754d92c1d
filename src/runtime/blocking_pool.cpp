#include "runtime/blocking_pool.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <pthread.h>
#include <stdexcept>
#include <thread>

namespace ember::xcs::detail {

struct BlockingPool::State {
  std::mutex mutex;
  std::condition_variable work_ready;
  std::condition_variable all_exited;
  std::deque<std::function<void()>> queue;
  std::string name;
  std::size_t max_threads;
  std::chrono::milliseconds idle_timeout;
  std::size_t threads = 0;
  std::size_t idle = 0;
  bool stopping = false;
};

namespace {

void worker_loop(const std::shared_ptr<BlockingPool::State>& state) {
  pthread_setname_np(pthread_self(), state->name.c_str());
  std::unique_lock lock{state->mutex};
  for (;;) {
    if (state->queue.empty() && !state->stopping) {
      ++state->idle;
      bool woke = state->work_ready.wait_for(lock, state->idle_timeout, [&] {
        return !state->queue.empty() || state->stopping;
      });
      --state->idle;
      if (!woke)
        break;
    }
    if (state->stopping || state->queue.empty())
      break;
    auto task = std::move(state->queue.front());
    state->queue.pop_front();
    lock.unlock();
    task(); // tasks catch their own exceptions: see the runtime's call paths
    task = nullptr;
    lock.lock();
  }
  // The count drops under the lock, so shutdown() sees 0 only when no thread
  // will touch the queue again.
  if (--state->threads == 0)
    state->all_exited.notify_all();
}

} // namespace

BlockingPool::BlockingPool(std::string name, std::size_t max_threads,
                           std::chrono::milliseconds idle_timeout)
    : state_(std::make_shared<State>()) {
  state_->name = std::move(name);
  if (max_threads == 0)
    throw std::invalid_argument("BlockingPool: max_threads is 0; it must be at least 1");
  state_->max_threads = max_threads;
  state_->idle_timeout = idle_timeout;
}

BlockingPool::~BlockingPool() { shutdown(std::chrono::milliseconds{0}); }

void BlockingPool::post(std::function<void()> task, std::size_t thread_limit) {
  std::unique_lock lock{state_->mutex};
  if (state_->stopping)
    return;
  state_->queue.push_back(std::move(task));
  // Idle threads already waiting will take queued tasks; start a thread only
  // when the queue outgrows them.
  if (state_->idle >= state_->queue.size() ||
      state_->threads >= std::max(state_->max_threads, thread_limit)) {
    lock.unlock();
    state_->work_ready.notify_one();
    return;
  }
  ++state_->threads;
  lock.unlock();
  std::thread{[state = state_] { worker_loop(state); }}.detach();
}

std::size_t BlockingPool::thread_count() const {
  std::lock_guard lock{state_->mutex};
  return state_->threads;
}

std::size_t BlockingPool::idle_count() const {
  std::lock_guard lock{state_->mutex};
  return state_->idle;
}

bool BlockingPool::shutdown(std::chrono::milliseconds grace) {
  std::deque<std::function<void()>> dropped;
  std::unique_lock lock{state_->mutex};
  state_->stopping = true;
  dropped.swap(state_->queue);
  state_->work_ready.notify_all();
  bool finished = state_->all_exited.wait_for(lock, grace, [&] { return state_->threads == 0; });
  lock.unlock();
  return finished; // `dropped` is destroyed outside the lock: tasks may own heavy state
}

} // namespace ember::xcs::detail
