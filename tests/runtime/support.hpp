// Helpers for runtime tests: waits that fail a test at a deadline instead of
// hanging it.
#pragma once

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <functional>
#include <thread>

#include "ember/core/exceptions.hpp"

namespace ember::testing {

using namespace std::chrono_literals;

/// Polls `condition` until it holds or `limit` passes; returns whether it held.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::yield();
  }
  return true;
}

/// Repeats `timed_call` (a call that must throw TimeoutError) until a body it
/// started has set `started`; returns whether one did within `attempts`. The
/// facade drops a task that had not started by its deadline, and on a loaded
/// machine a short deadline can pass before a pool thread picks the task up.
template <class Call>
bool time_out_a_started_body(Call&& timed_call, const std::atomic<int>& started,
                             int attempts = 100) {
  for (int attempt = 0; attempt < attempts; ++attempt) {
    try {
      timed_call();
      return false;
    } catch (const TimeoutError&) {
    }
    // A task that passed its stop check just before the deadline starts now.
    if (eventually([&] { return started.load() > 0; }, 100ms))
      return true;
  }
  return false;
}

/// The message of the TimeoutError that `timed_call` throws, retried (up to
/// `attempts` times) while `too_early(message)` says the deadline passed before
/// the body under test had started: on a loaded machine a pool thread can
/// pick a task up after a short deadline. Empty if a call did not time out.
template <class Call, class TooEarly>
std::string timeout_message_of_started_run(Call&& timed_call, TooEarly&& too_early,
                                           int attempts = 20) {
  std::string message;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    try {
      timed_call();
      return {};
    } catch (const TimeoutError& e) {
      message = e.what();
    }
    if (!too_early(message))
      break;
  }
  return message;
}

/// This process's OS threads, from /proc/self/status (-1 if unreadable).
inline int os_threads() {
  std::ifstream status{"/proc/self/status"};
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0)
      return std::stoi(line.substr(8));
  return -1;
}

/// A gate bodies block on until the test opens it (bounded, so a broken test
/// ends instead of hanging the suite).
class Gate {
public:
  void open() {
    opened_ = true;
    opened_.notify_all();
  }
  /// Blocks until open() or `limit`; returns whether it was opened.
  bool wait(std::chrono::milliseconds limit = 10000ms) const {
    return eventually([&] { return opened_.load(); }, limit);
  }

private:
  std::atomic<bool> opened_{false};
};

} // namespace ember::testing
