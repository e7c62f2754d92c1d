#include "runtime/call_context.hpp"

#include <algorithm>

#include "ember/xcs/engine/execution_options.hpp"

namespace ember::xcs::detail {
namespace {

thread_local const CallContext* current_context = nullptr;
thread_local CallInterceptor* current_intercept = nullptr;

} // namespace

const CallContext* current_call_context() noexcept { return current_context; }

CallScope::CallScope(const CallContext& context)
    : previous_(current_context), options_guard_(context.options) {
  current_context = &context;
}

CallScope::~CallScope() { current_context = previous_; }

CallInterceptor* current_interceptor() noexcept { return current_intercept; }

InterceptScope::InterceptScope(CallInterceptor* interceptor) noexcept
    : previous_(current_intercept) {
  current_intercept = interceptor;
}

InterceptScope::~InterceptScope() { current_intercept = previous_; }

this_call::Clock::time_point deadline_after(double seconds) {
  // Compared as doubles: converting a duration beyond the clock's range to
  // its integer nanoseconds would be undefined.
  const std::chrono::duration<double> longest = longest_timeout;
  const auto timeout = std::min(std::chrono::duration<double>(seconds), longest);
  return this_call::Clock::now() + std::chrono::duration_cast<this_call::Clock::duration>(timeout);
}

std::optional<this_call::Clock::time_point> deadline_for(const ExecutionSnapshot& options) {
  const CallContext* parent = current_context;
  std::optional<this_call::Clock::time_point> own;
  // The body's own snapshot object is what a nested call sees unless the body
  // opened a scope; only a scope can bring a new timeout.
  bool scope_inside_body = parent != nullptr && parent->options != options;
  if (options->timeout_seconds && (parent == nullptr || scope_inside_body)) {
    own = deadline_after(*options->timeout_seconds);
  }
  if (parent == nullptr || !parent->deadline)
    return own;
  return own ? std::min(*own, *parent->deadline) : parent->deadline;
}

} // namespace ember::xcs::detail

namespace ember::xcs::this_call {

bool stop_requested() noexcept {
  const auto* context = detail::current_call_context();
  return context != nullptr && context->stop.stop_requested();
}

std::stop_token stop_token() noexcept {
  const auto* context = detail::current_call_context();
  return context != nullptr ? context->stop : std::stop_token{};
}

std::optional<Clock::time_point> deadline() noexcept {
  const auto* context = detail::current_call_context();
  return context != nullptr ? context->deadline : std::nullopt;
}

} // namespace ember::xcs::this_call
