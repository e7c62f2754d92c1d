// NON operators are ordinary operators: structural_jit runs an ensemble's
// members at once, vmap batches them with every item accounted for, and a
// deadline stops the model calls in flight.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "ember/core/exceptions.hpp"
#include "ember/core/non.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/graph/graph.hpp"
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/runtime/this_call.hpp"
#include "ember/xcs/tracer/structural_jit.hpp"
#include "ember/xcs/transforms/vmap.hpp"
#include "../runtime/support.hpp"
#include "model_stub.hpp"

using namespace ember;
using namespace ember::non;
using namespace ember::xcs;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using ember::testing::scripted_model;

namespace {

// Counts the calls inside the model at once; each call waits (up to
// `patience`) until `expected` calls are inside, so calls made one after
// another each wait it out and the peak stays 1.
struct Rendezvous {
  std::mutex mutex;
  std::condition_variable changed;
  int inside = 0;
  int peak = 0;

  void meet(int expected, std::chrono::milliseconds patience) {
    std::unique_lock lock{mutex};
    peak = std::max(peak, ++inside);
    changed.notify_all();
    changed.wait_for(lock, patience, [&] { return peak >= expected; });
    --inside;
  }
};

} // namespace

TEST_CASE("under structural_jit the members of a UniformEnsemble run at once") {
  Rendezvous rendezvous;
  auto model = scripted_model("slow", [&](const Record& request) {
    rendezvous.meet(4, 2s);
    return "answer " + std::to_string(request.at("sample").as_integer());
  });
  auto jitted = structural_jit(make_operator<UniformEnsemble>(model.ref, 4));
  auto out = jitted(Record{{"query", "q"}});
  CHECK(out.at("responses") == Value{List{"answer 0", "answer 1", "answer 2", "answer 3"}});
  CHECK(rendezvous.peak == 4);
}

TEST_CASE("an ensemble and a judge, jitted, over a batch of questions with vmap") {
  std::atomic<int> calls{0};
  auto model = scripted_model("m", [&](const Record& request) -> std::string {
    ++calls;
    const auto& prompt = request.at("prompt").as_string();
    if (prompt.find("advisors") != std::string::npos)
      return "Reasoning: majority\nFinal Answer: " + prompt.substr(prompt.find(':') + 2, 2);
    return prompt + "!";
  });
  auto ensemble = make_operator<UniformEnsemble>(model.ref, 5);
  auto judge = make_operator<JudgeSynthesis>(model.ref);
  auto pipeline = structural_jit(function_operator(
      "EnsembleJudge",
      [ensemble, judge](const Record& inputs) {
        auto responses = ensemble(inputs).at("responses");
        return judge(Record{{"query", inputs.at("query")}, {"responses", responses}});
      },
      {}, OperatorKind::io));
  auto out = vmap(pipeline)(Record{{"query", List{"q1", "q2", "q3"}}});
  CHECK(out.at("final_answer") == Value{List{"q1", "q2", "q3"}});
  CHECK(calls == 3 * (5 + 1));
}

TEST_CASE("vmap of an ensemble with fail_fast = false ends every question as answers or an error") {
  auto model = scripted_model("m", [](const Record& request) -> std::string {
    if (request.at("prompt").as_string() == "bad")
      throw std::runtime_error("the model refused");
    return "ok";
  });
  auto scope = execution_options({.fail_fast = false});
  auto out = vmap(make_operator<UniformEnsemble>(model.ref, 2))(
      Record{{"query", List{"a", "bad", "c"}}});
  const auto& responses = out.at("responses").as_list();
  REQUIRE(responses.size() == 3);
  CHECK(responses[0] == Value{List{"ok", "ok"}});
  CHECK(responses[1].is_null());
  CHECK(responses[2] == Value{List{"ok", "ok"}});
  const auto& errors = out.at("_errors").as_list();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].as_record().at("index").as_integer() == 1);
  CHECK_THAT(errors[0].as_record().at("message").as_string(), Contains("the model refused"));
}

TEST_CASE("a deadline stops an ensemble whose model never answers on its own") {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  auto model = scripted_model("hung", [&](const Record&) -> std::string {
    ++started;
    while (!this_call::stop_requested())
      std::this_thread::sleep_for(1ms);
    ++stopped;
    throw std::runtime_error("stopped");
  });
  auto jitted = structural_jit(make_operator<UniformEnsemble>(model.ref, 3));
  auto scope = execution_options({.timeout_seconds = 0.1});
  // Repeated while the deadline passed before any member had started (a
  // loaded machine); each call must end in TimeoutError.
  CHECK(ember::testing::time_out_a_started_body([&] { jitted(Record{{"query", "q"}}); }, started));
  // Every call that started saw its stop and returned.
  CHECK(ember::testing::eventually([&] { return stopped.load() == started.load(); }));
}

TEST_CASE("NON operators as Graph nodes and under pmap give what the plain chain gives") {
  auto model = scripted_model("m", [](const Record& request) {
    return request.at("sample").as_integer() == 2 ? "5" : "4";
  });
  auto ensemble = make_operator<UniformEnsemble>(model.ref, 3);
  auto vote = make_operator<MostCommon>();
  Graph graph;
  graph.add_node("ensemble", ensemble).add_node("vote", vote).add_edge("ensemble", "vote");
  auto result = graph.run(Record{{"query", "2+2?"}});
  CHECK(result.outputs.at("vote").at("final_answer").as_string() == "4");
  auto chain = make_operator<Sequential>(std::vector<OperatorRef>{ensemble, vote});
  auto sharded = pmap(vmap(chain), 2)(Record{{"query", List{"a", "b", "c"}}});
  CHECK(sharded.at("final_answer") == Value{List{"4", "4", "4"}});
}
