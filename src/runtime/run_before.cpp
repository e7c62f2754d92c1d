#include "runtime/run_before.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>

#include "runtime/runtime_core.hpp"

namespace ember::xcs::detail {

bool run_before(this_call::Clock::time_point deadline, Device device,
                std::function<void()> work) {
  // Shared with the task: a task that outlives the wait signals into memory
  // nobody reads any more and frees it on return.
  struct Signal {
    std::mutex mutex;
    std::condition_variable ended;
    bool done = false;
  };
  auto signal = std::make_shared<Signal>();
  runtime_core()->executor(device).post([signal, work = std::move(work)] {
    work();
    std::lock_guard lock{signal->mutex};
    signal->done = true;
    signal->ended.notify_one();
  });
  std::unique_lock lock{signal->mutex};
  return signal->ended.wait_until(lock, deadline, [&] { return signal->done; });
}

} // namespace ember::xcs::detail
