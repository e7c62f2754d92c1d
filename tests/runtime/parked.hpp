// An asynchronous operator whose bodies stay in flight until the test
// completes them: y = 2 * x. It counts the bodies in flight and the most that
// were ever in flight at once.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <mutex>
#include <utility>
#include <vector>

#include "ember/core/registry/operator/base/async_operator.hpp"
#include "support.hpp"

namespace ember::testing {

class Parked final : public AsyncOperator {
public:
  Parked() : AsyncOperator("Parked", {}, OperatorKind::io) {}

  void start(const Record& inputs, Completion done) const override {
    ++started;
    std::lock_guard lock{mutex_};
    parked_.emplace_back(inputs, std::move(done));
    peak_ = std::max(peak_, parked_.size());
  }

  std::size_t parked() const {
    std::lock_guard lock{mutex_};
    return parked_.size();
  }

  /// The most bodies in flight at once so far.
  std::size_t peak() const {
    std::lock_guard lock{mutex_};
    return peak_;
  }

  void complete_all() const {
    std::vector<std::pair<Record, Completion>> parked;
    {
      std::lock_guard lock{mutex_};
      parked.swap(parked_);
    }
    for (auto& [inputs, done] : parked)
      done.succeed(Record{{"y", inputs.get<std::int64_t>("x") * 2}});
  }

  /// Bodies started so far.
  mutable std::atomic<int> started{0};

private:
  mutable std::mutex mutex_;
  mutable std::vector<std::pair<Record, Completion>> parked_;
  mutable std::size_t peak_ = 0;
};

/// Completes what `op` has parked until `result` is ready; false if it is not
/// within `limit`.
template <class Result>
bool complete_until_ready(const Parked& op, std::future<Result>& result,
                          std::chrono::milliseconds limit = std::chrono::seconds{10}) {
  return eventually([&] {
    op.complete_all();
    return result.wait_for(std::chrono::seconds{0}) == std::future_status::ready;
  }, limit);
}

/// Completes `op`'s bodies until `result` is ready when the scope ends, so a
/// test that fails early ends instead of hanging in the destructor of a
/// std::async future that waits for parked bodies.
template <class Result>
class CompleteOnExit {
public:
  CompleteOnExit(const Parked& op, std::future<Result>& result) : op_(op), result_(result) {}
  ~CompleteOnExit() {
    if (result_.valid())
      complete_until_ready(op_, result_);
  }
  CompleteOnExit(const CompleteOnExit&) = delete;
  CompleteOnExit& operator=(const CompleteOnExit&) = delete;

private:
  const Parked& op_;
  std::future<Result>& result_;
};

} // namespace ember::testing
