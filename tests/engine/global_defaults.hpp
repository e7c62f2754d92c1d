// Puts the global execution options back to the guide's defaults when a test
// case ends: each case runs as its own process under meson, but a test
// program may also run all its cases in one.
#pragma once

#include "ember/xcs/engine/execution_options.hpp"

namespace ember::testing {

struct GlobalDefaultsOnExit {
  GlobalDefaultsOnExit() = default;
  GlobalDefaultsOnExit(const GlobalDefaultsOnExit&) = delete;
  GlobalDefaultsOnExit& operator=(const GlobalDefaultsOnExit&) = delete;
  ~GlobalDefaultsOnExit() {
    xcs::set_execution_options({.use_parallel = true,
                                .max_workers = std::optional<int>{},
                                .device_strategy = "auto",
                                .enable_caching = false,
                                .trace_execution = false,
                                .timeout_seconds = std::optional<double>{},
                                .scheduler = std::optional<std::string>{},
                                .fail_fast = true});
  }
};

} // namespace ember::testing
