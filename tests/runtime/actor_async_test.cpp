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
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/transforms/vmap.hpp"
#include "actor_request.hpp"
#include "parked.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::eventually;
using ember::testing::os_threads;
using ember::testing::Parked;
using ember::testing::request_from_actor;

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

TEST_CASE("64 requests to the actor of vmap of an asynchronous operator run 4096 bodies on few threads",
          "[actor][async][vmap][threads]") {
  // Every body stays parked until all 4096 have started, so all are in
  // flight at once; the requests come from CAF actors, which never block.
  constexpr int requests = 64;
  constexpr int items = 64;
  auto op = std::make_shared<Parked>();
  auto actor = spawn_operator(vmap(OperatorRef{op}));
  List xs;
  for (int i = 0; i < items; ++i)
    xs.emplace_back(i);
  std::vector<std::future<Record>> replies;
  {
    auto scope = execution_options({.max_workers = 256 * requests});
    for (int r = 0; r < requests; ++r)
      replies.push_back(request_from_actor(actor, Record{{"x", xs}}, make_envelope()));
  }
  REQUIRE(eventually([&] { return op->parked() == requests * items; }, 20s));
  CHECK(os_threads() < 12);
  op->complete_all();
  List ys;
  for (int i = 0; i < items; ++i)
    ys.emplace_back(2 * i);
  for (auto& reply : replies) {
    REQUIRE(reply.wait_for(10s) == std::future_status::ready);
    CHECK(reply.get() == Record{{"y", ys}});
  }
}

TEST_CASE("pmap of vmap of an asynchronous operator is asynchronous end to end",
          "[async][pmap][threads]") {
  auto op = std::make_shared<Parked>();
  auto sharded = pmap(vmap(OperatorRef{op}), 4);
  CHECK(sharded->is_async());
  List xs;
  for (int i = 0; i < 100; ++i)
    xs.emplace_back(i);
  auto threads_before = blocking_thread_count();
  std::future<Record> reply;
  {
    // Room for every body at once: all 100 park before any completes.
    auto scope = execution_options({.max_workers = 256});
    reply = request_from_actor(spawn_operator(sharded), Record{{"x", xs}}, make_envelope());
  }
  REQUIRE(eventually([&] { return op->parked() == 100; }));
  CHECK(blocking_thread_count() <= threads_before);
  op->complete_all();
  REQUIRE(reply.wait_for(5s) == std::future_status::ready);
  CHECK(reply.get().get<List>("y").size() == 100);
}
