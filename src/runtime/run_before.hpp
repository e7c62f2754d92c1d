// The one way a synchronous caller waits for work bounded by a deadline: the
// work runs on an executor, the caller waits until it ends or the deadline
// passes, whichever is first. Private to the runtime.
#pragma once

#include <functional>

#include "ember/xcs/runtime/this_call.hpp"
#include "runtime/executors.hpp"

namespace ember::xcs::detail {

/// Runs `work` on the executor of `device` and waits for it until
/// `deadline`. Returns true when it ended in time; false when the deadline
/// passed first: the caller then cancels and answers, and the work ends on
/// its own (it must own, or share, everything it touches). A body that never
/// polls its stop token cannot delay the caller past the deadline this way.
bool run_before(this_call::Clock::time_point deadline, Device device,
                std::function<void()> work);

} // namespace ember::xcs::detail
