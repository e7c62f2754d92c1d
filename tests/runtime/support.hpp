// Helpers for runtime tests: waits that fail a test at a deadline instead of
// hanging it.
#pragma once

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <functional>
#include <thread>

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
