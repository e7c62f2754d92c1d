// Returns from main while an abandoned operator body still runs (and ignores
// cancellation); the process must exit after the shutdown grace period.
#include <chrono>
#include <thread>

#include <ember/xcs.hpp>

int main() {
  auto stubborn = ember::function_operator("Stubborn", [](const ember::Record& in) {
    std::this_thread::sleep_for(std::chrono::seconds(60)); // never polls stop_requested
    return in;
  });
  auto scope = ember::xcs::execution_options({.timeout_seconds = 0.05});
  try {
    stubborn(ember::Record{});
  } catch (const ember::TimeoutError&) {
    return 0;
  }
  return 1;
}
