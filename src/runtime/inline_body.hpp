// Bodies an operator actor runs on its own scheduler thread: short leaves,
// learned from the runs before. Anything inside such a body that would wait
// (a synchronous operator call, a graph run, waiting for an asynchronous
// body) is refused, and the actor sends the request to the pool instead.
// Private to the runtime.
#pragma once

#include <cstdint>

namespace ember::xcs::detail {

/// Thrown at a wait inside an inline body. Not a std::exception, so the
/// body's own handlers for those let it through; a body that swallows it
/// anyway is still restarted (InlineBodyScope::refused).
struct InlineBodyRefused {};

/// Marks this thread as running an inline body for the scope's lifetime.
class InlineBodyScope {
public:
  InlineBodyScope() noexcept;
  ~InlineBodyScope();
  InlineBodyScope(const InlineBodyScope&) = delete;
  InlineBodyScope& operator=(const InlineBodyScope&) = delete;

  /// Whether the body reached a wait (and its result must be discarded).
  bool refused() const noexcept;
};

/// Called where a body would call an operator or wait: counts the call
/// (operator_calls) and, inside an inline body, throws InlineBodyRefused.
void before_nested_call();

/// How many operator calls this thread has made (to learn which bodies are leaves).
std::uint64_t operator_calls() noexcept;

} // namespace ember::xcs::detail
