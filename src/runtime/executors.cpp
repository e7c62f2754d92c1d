#include "runtime/executors.hpp"

#include <algorithm>
#include <thread>

#include "ember/core/exceptions.hpp"
#include "ember/xcs/runtime/runtime.hpp"

namespace ember::xcs::detail {

Device device_for(const ExecutionOptions& options, OperatorKind kind) {
  const auto& strategy = options.device_strategy;
  if (strategy == "cpu")
    return Device::cpu;
  if (strategy == "io")
    return Device::io;
  if (strategy == "auto")
    return kind == OperatorKind::io ? Device::io : Device::cpu;
  throw RuntimeUnavailableError("device_strategy '" + strategy +
                                "' is not available: no executor is registered for it "
                                "(registered: cpu, io; auto picks by operator kind)");
}

std::size_t core_count() noexcept {
  static const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return cores;
}

std::size_t default_workers(Device device) {
  if (device == Device::io)
    return runtime_config().blocking_threads;
  return core_count();
}

std::size_t thread_limit(const ExecutionOptions& options) {
  if (!options.max_workers)
    return 0;
  return std::min(static_cast<std::size_t>(*options.max_workers), max_blocking_threads);
}

} // namespace ember::xcs::detail
