// A mutex that spins briefly before it sleeps. Private to the runtime.
#pragma once

#include <pthread.h>

namespace ember::xcs::detail {

/// glibc's adaptive mutex (PTHREAD_MUTEX_ADAPTIVE_NP): a contended lock spins
/// for a short while before it falls back to a futex wait. For locks held a
/// few dozen nanoseconds by threads on other cores (a graph run's
/// bookkeeping), std::mutex's immediate futex sleep costs a system call on
/// each side and a wake-up of 35-80 us per hand-over. BasicLockable, for
/// std::unique_lock and std::condition_variable_any.
class AdaptiveMutex {
public:
  AdaptiveMutex() noexcept {
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&mutex_, &attributes);
    pthread_mutexattr_destroy(&attributes);
  }
  ~AdaptiveMutex() { pthread_mutex_destroy(&mutex_); }
  AdaptiveMutex(const AdaptiveMutex&) = delete;
  AdaptiveMutex& operator=(const AdaptiveMutex&) = delete;

  void lock() noexcept { pthread_mutex_lock(&mutex_); }
  bool try_lock() noexcept { return pthread_mutex_trylock(&mutex_) == 0; }
  void unlock() noexcept { pthread_mutex_unlock(&mutex_); }

private:
  pthread_mutex_t mutex_;
};

} // namespace ember::xcs::detail
