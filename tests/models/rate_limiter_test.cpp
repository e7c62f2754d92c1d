// Rate limits as token buckets of reservations, driven by a clock the test
// sets: bursts up to the limit go at once, the rest wait in arrival order for
// exactly the refill time, and unused or corrected reservations give back.
#include <catch2/catch.hpp>

#include <chrono>
#include <limits>

#include "ember/models/errors.hpp"
#include "ember/models/rate_limiter.hpp"

using ember::models::ModelConfigError;
using ember::models::RateLimit;
using ember::models::RateLimiter;
using namespace std::chrono_literals;

namespace {

const RateLimiter::Clock::time_point t0{};

double seconds(RateLimiter::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

} // namespace

TEST_CASE("a burst up to the request limit goes at once and the rest wait in order",
          "[models][rate_limit]") {
  RateLimiter limiter{"m", RateLimit{.requests_per_minute = 60}, t0};
  for (int i = 0; i < 60; ++i)
    REQUIRE(limiter.reserve(0, t0).wait == 0s);
  CHECK(seconds(limiter.reserve(0, t0).wait) == Approx(1.0));
  CHECK(seconds(limiter.reserve(0, t0).wait) == Approx(2.0));
  // Thirty seconds later the two waiting calls have gone and 28 slots refilled.
  for (int i = 0; i < 28; ++i)
    REQUIRE(limiter.reserve(0, t0 + 30s).wait == 0s);
  CHECK(seconds(limiter.reserve(0, t0 + 30s).wait) == Approx(1.0));
}

TEST_CASE("token limits make a later small call wait behind a large one", "[models][rate_limit]") {
  RateLimiter limiter{"m", RateLimit{.tokens_per_minute = 1000}, t0};
  CHECK(limiter.reserve(600, t0).wait == 0s);
  // 200 tokens owed at 1000/60 per second: 12 s.
  CHECK(seconds(limiter.reserve(600, t0).wait) == Approx(12.0));
  // No overtaking: 10 more tokens owed, 12.6 s.
  CHECK(seconds(limiter.reserve(10, t0).wait) == Approx(12.6));
}

TEST_CASE("a call larger than the token bucket still goes once the bucket is full",
          "[models][rate_limit]") {
  RateLimiter limiter{"m", RateLimit{.tokens_per_minute = 1000}, t0};
  auto big = limiter.reserve(50'000, t0);
  CHECK(big.wait == 0s);
  CHECK(big.tokens == 1000);
  CHECK(seconds(limiter.reserve(1, t0).wait) == Approx(0.06));
}

TEST_CASE("a cancelled reservation gives its request and tokens back", "[models][rate_limit]") {
  RateLimiter limiter{"m", RateLimit{.requests_per_minute = 60, .tokens_per_minute = 6000}, t0};
  for (int i = 0; i < 60; ++i)
    limiter.reserve(10, t0);
  auto waiting = limiter.reserve(10, t0);
  CHECK(seconds(waiting.wait) == Approx(1.0));
  limiter.cancel(waiting, t0);
  CHECK(seconds(limiter.reserve(10, t0).wait) == Approx(1.0)); // not 2
}

TEST_CASE("the reply's usage corrects the token estimate both ways", "[models][rate_limit]") {
  RateLimiter limiter{"m", RateLimit{.tokens_per_minute = 600}, t0};
  auto first = limiter.reserve(100, t0);
  limiter.settle(first, 700, t0); // 600 more than reserved: the level is 500 - 600
  CHECK(seconds(limiter.reserve(0, t0).wait) == Approx(10.0)); // 100 owed at 10 per second

  RateLimiter generous{"m", RateLimit{.tokens_per_minute = 600}, t0};
  auto over = generous.reserve(600, t0);
  generous.settle(over, 0, t0); // used nothing: all back
  CHECK(generous.reserve(600, t0).wait == 0s);
}

TEST_CASE("no limit never waits", "[models][rate_limit]") {
  RateLimiter limiter{"m", RateLimit{}, t0};
  for (int i = 0; i < 10'000; ++i)
    REQUIRE(limiter.reserve(1'000'000, t0).wait == 0s);
}

TEST_CASE("negative and non-finite rate limits are refused naming the model and the limit",
          "[models][rate_limit][bad_input]") {
  CHECK_THROWS_AS((RateLimiter{"openai:x", RateLimit{.requests_per_minute = -1}}), ModelConfigError);
  CHECK_THROWS_WITH((RateLimiter{"openai:x", RateLimit{.requests_per_minute = -1}}),
                    Catch::Contains("openai:x") && Catch::Contains("requests_per_minute"));
  CHECK_THROWS_WITH(
      (RateLimiter{"openai:x", RateLimit{.tokens_per_minute = std::numeric_limits<double>::quiet_NaN()}}),
      Catch::Contains("tokens_per_minute") && Catch::Contains("allowed"));
}
