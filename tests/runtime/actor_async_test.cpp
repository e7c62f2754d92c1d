// An operator actor of an AsyncOperator starts the body from the actor and
// replies when the body completes: no thread waits for it.
#include <catch2/catch.hpp>

#include <future>
#include <mutex>
#include <vector>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/runtime/operator_actor.hpp"
#include "ember/xcs/runtime/runtime.hpp"
#include "actor_request.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::eventually;
using ember::testing::request_from_actor;

namespace {

// Keeps every Completion until the test completes it: a body in flight that
// only the test can end.
class Parked final : public AsyncOperator {
public:
  Parked() : AsyncOperator("Parked", {}, OperatorKind::io) {}

  void start(const Record& inputs, Completion done) const override {
    std::lock_guard lock{mutex_};
    parked_.emplace_back(inputs, std::move(done));
  }

  std::size_t parked() const {
    std::lock_guard lock{mutex_};
    return parked_.size();
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

private:
  mutable std::mutex mutex_;
  mutable std::vector<std::pair<Record, Completion>> parked_;
};

} // namespace

TEST_CASE("requests to the actor of an asynchronous operator hold no thread while they wait",
          "[actor][async][threads][regression]") {
  constexpr int requests = 64;
  auto op = std::make_shared<Parked>();
  auto actor = spawn_operator(OperatorRef{op});
  auto threads_before = blocking_thread_count();
  std::vector<std::future<Record>> replies;
  for (int i = 0; i < requests; ++i)
    replies.push_back(request_from_actor(actor, Record{{"x", i}}));
  REQUIRE(eventually([&] { return op->parked() == requests; }));
  // Every body is in flight, and none of them took a pool thread to wait.
  CHECK(blocking_thread_count() <= threads_before);
  op->complete_all();
  for (int i = 0; i < requests; ++i) {
    REQUIRE(replies[i].wait_for(5s) == std::future_status::ready);
    CHECK(replies[i].get() == Record{{"y", 2 * i}});
  }
}

TEST_CASE("the actor of an asynchronous operator answers at the deadline of a body that never completes",
          "[actor][async][deadline]") {
  auto op = std::make_shared<Parked>();
  auto actor = spawn_operator(OperatorRef{op});
  std::future<Record> reply;
  {
    auto scope = execution_options({.timeout_seconds = 0.05});
    reply = request_from_actor(actor, Record{{"x", 1}}, make_envelope());
  }
  REQUIRE(reply.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_AS(reply.get(), TimeoutError);
  CHECK(op->parked() == 1); // the body is still in flight: the deadline answered
  op->complete_all();
}

TEST_CASE("an asynchronous operator's invalid inputs are a validation error from its actor",
          "[actor][async][validation]") {
  class Strict final : public AsyncOperator {
  public:
    Strict()
        : AsyncOperator("Strict", Specification{{Field::required_field("x", FieldType::integer)}, {}},
                        OperatorKind::io) {}
    void start(const Record& inputs, Completion done) const override { done.succeed(inputs); }
  };
  auto reply = request_from_actor(spawn_operator(make_operator<Strict>()), Record{{"x", "text"}});
  REQUIRE(reply.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_WITH(reply.get(), Catch::Contains("Strict") && Catch::Contains("x"));
}
