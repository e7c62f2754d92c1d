// A runtime whose one CAF scheduler thread is kept busy, so no actor (a
// supervisor's deadline timer, say) runs until the holder lets go. Tests use
// it to make a race deterministic; the default runtime comes back afterwards.
#pragma once

#include <latch>
#include <memory>

#include "ember/xcs/runtime/operator_actor.hpp"
#include "ember/xcs/runtime/runtime.hpp"
#include "support.hpp"

namespace ember::testing {

class HeldScheduler {
public:
  HeldScheduler() {
    xcs::shutdown_runtime();
    xcs::configure_runtime(xcs::RuntimeConfig{.scheduler_threads = 1});
    std::latch holding{1};
    xcs::actor_system().spawn([gate = gate_, &holding](caf::event_based_actor*) {
      holding.count_down();
      gate->wait();
    });
    holding.wait();
  }

  ~HeldScheduler() {
    gate_->open();
    xcs::shutdown_runtime();
    xcs::configure_runtime(xcs::RuntimeConfig{});
  }

  HeldScheduler(const HeldScheduler&) = delete;
  HeldScheduler& operator=(const HeldScheduler&) = delete;

private:
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
};

} // namespace ember::testing
