// Per-model rate limits (requests and tokens per minute) as token buckets of
// reservations: a call reserves its request and tokens now and is told how
// long to wait before it may go. Buckets may run negative, so later calls
// wait longer and none overtakes an earlier one (the scheme of Go's
// golang.org/x/time/rate). The limiter holds no timer and no thread: the
// caller waits on its own timer and gives back a reservation it does not use.
#pragma once
#include "ember/config.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace ember::models {

/// A provider's limits for one model. 0 means no limit. Calls beyond a limit
/// wait (in arrival order) instead of failing; a call's deadline still cuts
/// its wait. Each bucket holds one minute's worth, so a burst of up to the
/// limit goes at once; set a lower limit to spread a burst.
struct RateLimit {
  double requests_per_minute = 0;
  /// Prompt and completion tokens. A call reserves an estimate before it is
  /// sent (its prompt's bytes / 4 plus max_tokens) and the reply's usage
  /// corrects it.
  double tokens_per_minute = 0;
};

/// The buckets of one RateLimit, shared by every call of one model id.
/// Thread safe. The time arguments exist for tests; callers use the default.
class RateLimiter {
public:
  using Clock = std::chrono::steady_clock;

  /// Throws ModelConfigError for a negative or non-finite limit, naming `model`.
  RateLimiter(const std::string& model, RateLimit limit, Clock::time_point now = Clock::now());

  /// What one call took from the buckets.
  struct Reservation {
    Clock::duration wait{};
    std::int64_t tokens = 0;
  };

  /// Takes one request and `tokens` tokens (clamped to the bucket's size, so
  /// every call can go eventually); the call may go after `wait`.
  Reservation reserve(std::int64_t tokens, Clock::time_point now = Clock::now());
  /// Gives back a reservation whose call was never sent (its deadline came first).
  void cancel(const Reservation& reservation, Clock::time_point now = Clock::now());
  /// Corrects the token bucket by what the call really used.
  void settle(const Reservation& reservation, std::int64_t used_tokens,
              Clock::time_point now = Clock::now());

private:
  struct Bucket {
    double size = 0; // 0: unlimited
    double per_second = 0;
    double level = 0; // may be negative: owed by reservations waiting
    Clock::time_point at{};

    void refill(Clock::time_point now);
    // How long until the level is back at zero.
    Clock::duration deficit() const;
  };

  std::mutex mutex_;
  Bucket requests_;
  Bucket tokens_;
};

} // namespace ember::models
