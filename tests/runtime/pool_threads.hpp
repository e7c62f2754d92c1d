// How many of the runtime's pool threads are running a task: a body that
// waits on a thread shows here, an asynchronous body in flight does not.
#pragma once

#include <cstddef>

#include "runtime/runtime_core.hpp"

namespace ember::testing {

inline std::size_t busy_pool_threads() {
  std::size_t busy = 0;
  for (auto device : {xcs::detail::Device::cpu, xcs::detail::Device::io}) {
    auto& pool = xcs::detail::runtime_core()->executor(device);
    auto threads = pool.thread_count();
    auto idle = pool.idle_count();
    busy += threads > idle ? threads - idle : 0;
  }
  return busy;
}

} // namespace ember::testing
