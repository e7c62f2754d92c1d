// Helpers for the bad-input tests: a body that never returns by itself, and a
// clock-checked expectation that a call times out.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include <catch2/catch.hpp>

#include "../runtime/support.hpp"
#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/runtime/this_call.hpp"

namespace ember::testing {

/// Matches an exception whose what() the string matcher `Matcher` accepts,
/// for CHECK_THROWS_MATCHES with StartsWith, Contains and their combinations.
template <class Matcher>
class MessageThat final : public Catch::MatcherBase<std::exception> {
public:
  explicit MessageThat(Matcher matcher) : matcher_(std::move(matcher)) {}
  bool match(const std::exception& error) const override { return matcher_.match(error.what()); }
  std::string describe() const override { return "has a message that " + matcher_.toString(); }

private:
  Matcher matcher_;
};

template <class Matcher>
MessageThat<Matcher> message_that(Matcher matcher) {
  return MessageThat<Matcher>(std::move(matcher));
}

/// Counts the bodies of an endless operator: how many started, how many saw
/// their call's stop token and how many have returned.
struct EndlessCounts {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::atomic<int> ended{0};

  /// Every body that started has returned (bounded wait): none is left running
  /// past the test, so LeakSanitizer sees nothing of it.
  bool all_ended() const {
    return eventually([this] { return ended.load() == started.load(); }, 10000ms);
  }
};

/// Waits until the calling body's stop token fires. The wait is on the token
/// itself, not a sleep; the 30 s bound only turns a runtime that never stops
/// the body into a failed test instead of a hung one.
inline void wait_for_stop(EndlessCounts& counts) {
  ++counts.started;
  std::mutex mutex;
  std::condition_variable_any never_notified;
  std::unique_lock lock{mutex};
  never_notified.wait_for(lock, xcs::this_call::stop_token(), 30s, [] { return false; });
  if (xcs::this_call::stop_requested())
    ++counts.stopped;
  ++counts.ended;
}

/// An operator whose body never returns until its call is cancelled.
inline OperatorRef endless(std::string name, std::shared_ptr<EndlessCounts> counts,
                           OperatorKind kind = OperatorKind::cpu) {
  return function_operator(
      std::move(name),
      [counts](const Record& inputs) {
        wait_for_stop(*counts);
        return inputs;
      },
      {}, kind);
}

/// Runs `call`, which must throw TimeoutError well before `limit` (measured
/// with the clock), and returns the error's message.
template <class Call>
std::string expect_timeout(Call&& call, std::chrono::milliseconds limit = 5000ms) {
  const auto begin = std::chrono::steady_clock::now();
  std::string message = "no TimeoutError";
  try {
    call();
  } catch (const TimeoutError& error) {
    message = error.what();
  }
  CHECK(std::chrono::steady_clock::now() - begin < limit);
  return message;
}

} // namespace ember::testing
