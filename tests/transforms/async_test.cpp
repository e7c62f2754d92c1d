#include <catch2/catch.hpp>

#include <boost/asio/steady_timer.hpp>

#include <fstream>
#include <mutex>

#include "../runtime/support.hpp"
#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/runtime/io_context.hpp"
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/transforms/vmap.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::os_threads;

namespace {

// Waits on an Asio timer, then echoes its input: no thread is held while it waits.
class TimerEcho final : public AsyncOperator {
public:
  TimerEcho(std::chrono::milliseconds delay, std::atomic<int>& in_flight, std::atomic<int>& peak)
      : AsyncOperator("TimerEcho", {}, OperatorKind::io), delay_(delay), in_flight_(in_flight),
        peak_(peak) {}

  void start(const Record& inputs, Completion done) const override {
    int now = ++in_flight_;
    int seen = peak_.load();
    while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
    }
    auto timer = std::make_shared<boost::asio::steady_timer>(io_context(), delay_);
    timer->async_wait([this, timer, inputs, done](const boost::system::error_code&) {
      --in_flight_;
      auto x = inputs.get<std::int64_t>("x");
      if (x < 0)
        done.fail(std::make_exception_ptr(std::runtime_error("negative")));
      else
        done.succeed(Record{{"y", x}});
    });
  }

private:
  std::chrono::milliseconds delay_;
  std::atomic<int>& in_flight_;
  std::atomic<int>& peak_;
};

List range(std::int64_t n) {
  List xs;
  for (std::int64_t i = 0; i < n; ++i)
    xs.emplace_back(i);
  return xs;
}

} // namespace

TEST_CASE("asynchronous bodies wait together without holding threads", "[async][vmap]") {
  std::atomic<int> in_flight{0}, peak{0};
  auto op = make_operator<TimerEcho>(200ms, in_flight, peak);
  auto scope = execution_options({.max_workers = 256});
  int threads_before = os_threads();
  auto out = vmap(op)(Record{{"x", range(256)}});
  CHECK(out.get<List>("y") == range(256));
  CHECK(peak == 256); // all 256 were waiting at once
  CHECK(os_threads() <= std::max(threads_before, 8));
}

TEST_CASE("max_workers bounds asynchronous bodies in flight", "[async][max_workers]") {
  std::atomic<int> in_flight{0}, peak{0};
  auto op = make_operator<TimerEcho>(100ms, in_flight, peak);
  auto scope = execution_options({.max_workers = 4});
  vmap(op)(Record{{"x", range(12)}});
  CHECK(peak == 4);
}

TEST_CASE("an asynchronous failure fails fast with the item named", "[async][failures]") {
  std::atomic<int> in_flight{0}, peak{0};
  auto op = make_operator<TimerEcho>(1ms, in_flight, peak);
  CHECK_THROWS_WITH(vmap(op)(Record{{"x", List{1, -1, 2}}}),
                    Catch::Contains("item 1 of 3 failed in operator 'TimerEcho': negative"));
}

TEST_CASE("an asynchronous operator called directly waits for its completion", "[async]") {
  std::atomic<int> in_flight{0}, peak{0};
  auto op = make_operator<TimerEcho>(1ms, in_flight, peak);
  CHECK(op(Record{{"x", 5}}).get<std::int64_t>("y") == 5);
}

TEST_CASE("a dropped completion reports an error instead of hanging", "[async][failures]") {
  class Forgetful final : public AsyncOperator {
  public:
    Forgetful() : AsyncOperator("Forgetful") {}
    void start(const Record&, Completion) const override {}
  };
  auto op = make_operator<Forgetful>();
  CHECK_THROWS_WITH(vmap(op)(Record{{"x", range(3)}}),
                    Catch::Contains("ended without completing"));
}

TEST_CASE("an asynchronous batch past its deadline throws on time", "[async][timeout]") {
  std::atomic<int> in_flight{0}, peak{0};
  auto op = make_operator<TimerEcho>(2000ms, in_flight, peak);
  auto scope = execution_options({.max_workers = 8, .timeout_seconds = 0.1});
  auto begin = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(vmap(op)(Record{{"x", range(16)}}), TimeoutError);
  CHECK(std::chrono::steady_clock::now() - begin < 1s); // timers run 2 s: early, not precise
  CHECK(peak <= 8);
}

TEST_CASE("an asynchronous start that throws completes its item once", "[async][failures]") {
  // Regression: the item completed twice (the unused Completion reported too)
  // and a fail_fast = false batch waited forever.
  class Refuses final : public AsyncOperator {
  public:
    Refuses() : AsyncOperator("Refuses") {}
    void start(const Record&, Completion) const override {
      throw std::runtime_error("no connection");
    }
  };
  auto scope = execution_options({.fail_fast = false});
  auto out = vmap(make_operator<Refuses>())(Record{{"x", range(3)}});
  const auto& errors = out.get<List>("_errors");
  REQUIRE(errors.size() == 3);
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(errors[i].as_record().get<std::string>("message") == "no connection");
}

TEST_CASE("a body completing from its stop callback does not deadlock the batch", "[async][failures]") {
  // Regression: fail() requested the stop while holding the batch's lock.
  class Cancellable final : public AsyncOperator {
  public:
    Cancellable() : AsyncOperator("Cancellable") {}
    void start(const Record& inputs, Completion done) const override {
      if (inputs.get<std::int64_t>("x") == 0) {
        done.fail(std::make_exception_ptr(std::runtime_error("first fails")));
        return;
      }
      auto token = done.stop_token();
      auto callback = std::make_shared<std::optional<std::stop_callback<std::function<void()>>>>();
      callback->emplace(token, std::function<void()>{[done] {
                          done.fail(std::make_exception_ptr(std::runtime_error("stopped")));
                        }});
      keep_.push_back(callback);
    }
    mutable std::vector<std::shared_ptr<std::optional<std::stop_callback<std::function<void()>>>>>
        keep_;
  };
  // Three in flight: items 1 and 2 only end when the failure of item 0 stops them.
  auto scope = execution_options({.max_workers = 3});
  auto op = make_operator<Cancellable>();
  CHECK_THROWS_WITH(vmap(op)(Record{{"x", List{1, 2, 0}}}), Catch::Contains("first fails"));
}
