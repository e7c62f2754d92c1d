#include "ember/models/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>

#include "ember/models/errors.hpp"

namespace ember::models {
namespace {

double checked(const std::string& model, const char* name, double per_minute) {
  if (!std::isfinite(per_minute) || per_minute < 0)
    throw ModelConfigError("model '" + model + "': rate limit " + name + " is " +
                           std::to_string(per_minute) +
                           "; allowed: a finite number >= 0 (0 for no limit)");
  return per_minute;
}

} // namespace

void RateLimiter::Bucket::refill(Clock::time_point now) {
  if (size == 0)
    return;
  if (now > at) {
    level = std::min(size, level + std::chrono::duration<double>(now - at).count() * per_second);
    at = now;
  }
}

RateLimiter::Clock::duration RateLimiter::Bucket::deficit() const {
  if (size == 0 || level >= 0)
    return Clock::duration::zero();
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(-level / per_second));
}

RateLimiter::RateLimiter(const std::string& model, RateLimit limit, Clock::time_point now) {
  for (auto [bucket, per_minute, name] :
       {std::tuple{&requests_, limit.requests_per_minute, "requests_per_minute"},
        std::tuple{&tokens_, limit.tokens_per_minute, "tokens_per_minute"}}) {
    bucket->size = checked(model, name, per_minute);
    bucket->per_second = per_minute / 60.0;
    bucket->level = bucket->size;
    bucket->at = now;
  }
}

RateLimiter::Reservation RateLimiter::reserve(std::int64_t tokens, Clock::time_point now) {
  std::lock_guard lock{mutex_};
  requests_.refill(now);
  tokens_.refill(now);
  Reservation taken;
  taken.tokens = tokens_.size == 0 ? 0
                                   : std::clamp<std::int64_t>(tokens, 0,
                                                              static_cast<std::int64_t>(tokens_.size));
  if (requests_.size != 0)
    requests_.level -= 1;
  tokens_.level -= static_cast<double>(taken.tokens);
  taken.wait = std::max(requests_.deficit(), tokens_.deficit());
  return taken;
}

void RateLimiter::cancel(const Reservation& reservation, Clock::time_point now) {
  std::lock_guard lock{mutex_};
  requests_.refill(now);
  tokens_.refill(now);
  if (requests_.size != 0)
    requests_.level = std::min(requests_.size, requests_.level + 1);
  if (tokens_.size != 0)
    tokens_.level = std::min(tokens_.size, tokens_.level + static_cast<double>(reservation.tokens));
}

void RateLimiter::settle(const Reservation& reservation, std::int64_t used_tokens,
                         Clock::time_point now) {
  std::lock_guard lock{mutex_};
  if (tokens_.size == 0)
    return;
  tokens_.refill(now);
  tokens_.level = std::min(tokens_.size, tokens_.level - static_cast<double>(used_tokens - reservation.tokens));
}

} // namespace ember::models
