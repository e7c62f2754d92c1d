// Returns from main while an abandoned operator body still runs (and ignores
// cancellation); the process must exit after the shutdown grace period.
// Exits 0 once a body is running, 1 if none could be started.
#include <atomic>
#include <chrono>
#include <thread>

#include <ember/xcs.hpp>

namespace {
std::atomic<int> started{0}; // static: a body may outlive main's locals
} // namespace

int main() {
  auto stubborn = ember::function_operator("Stubborn", [](const ember::Record& in) {
    ++started;
    std::this_thread::sleep_for(std::chrono::seconds(60)); // never polls stop_requested
    return in;
  });
  auto scope = ember::xcs::execution_options({.timeout_seconds = 0.05});
  // The facade drops a task no pool thread picked up by the deadline (a
  // loaded machine): call again until a body runs.
  for (int attempt = 0; attempt < 100 && started.load() == 0; ++attempt) {
    try {
      stubborn(ember::Record{});
      return 1;
    } catch (const ember::TimeoutError&) {
    }
    auto settle = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    while (started.load() == 0 && std::chrono::steady_clock::now() < settle)
      std::this_thread::yield();
  }
  return started.load() > 0 ? 0 : 1;
}
