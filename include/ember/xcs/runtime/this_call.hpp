// What an operator body can ask about the call it runs for.
#pragma once
#include "ember/config.hpp"

#include <chrono>
#include <optional>
#include <stop_token>

namespace ember::xcs::this_call {

using Clock = std::chrono::steady_clock;

/// True once the call this body runs for is cancelled: its deadline passed or
/// its caller gave up. A long body polls this and returns early; its result is
/// discarded either way.
bool stop_requested() noexcept;

/// The call's stop token, for std::stop_callback or std::condition_variable_any waits.
std::stop_token stop_token() noexcept;

/// The absolute deadline of the call (from timeout_seconds at the outermost
/// call site), if there is one.
std::optional<Clock::time_point> deadline() noexcept;

} // namespace ember::xcs::this_call
