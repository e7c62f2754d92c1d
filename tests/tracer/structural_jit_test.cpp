#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "../runtime/support.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/tracer/structural_jit.hpp"
#include "ember/xcs/transforms/vmap.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::eventually;

namespace {

OperatorRef extractor() {
  return function_operator("Extractor", [](const Record& in) {
    return Record{{"extracted", "Extracted entities from: " + in.get<std::string>("text")}};
  });
}

OperatorRef classifier(std::string model) {
  return function_operator("Classifier", [model](const Record& in) {
    return Record{{"classification",
                   "Classified with " + model + ": " + in.get<std::string>("extracted")}};
  });
}

// The guide's NLPPipeline: a chain of two sub-operators held as members.
OperatorRef nlp_pipeline() {
  auto extract = extractor();
  auto classify = classifier("advanced-classifier");
  return function_operator("NLPPipeline", [extract, classify](const Record& in) {
    auto extracted = extract(in);
    return classify(extracted);
  });
}

} // namespace

TEST_CASE("a jitted chain returns exactly what the plain forward returns", "[jit][exact]") {
  auto plain = nlp_pipeline();
  auto jitted = structural_jit(plain);
  Record inputs{{"text", "Sample document text for analysis"}};
  CHECK(jitted(inputs) == plain(inputs));
  CHECK(jitted(inputs).get<std::string>("classification") ==
        "Classified with advanced-classifier: Extracted entities from: Sample document text "
        "for analysis");
}

TEST_CASE("glue code between sub-operator calls runs exactly as written", "[jit][exact]") {
  auto a = function_operator("A", [](const Record& in) {
    return Record{{"n", in.get<std::int64_t>("x") + 1}};
  });
  auto b = function_operator("B", [](const Record& in) {
    return Record{{"n", in.get<std::int64_t>("n") * 10}};
  });
  auto composite = function_operator("Glue", [a, b](const Record& in) {
    auto first = a(in);
    auto n = first.get<std::int64_t>("n"); // reading waits for a
    auto second = n % 2 == 0 ? b(first) : b(Record{{"n", n + 100}});
    return Record{{"sum", second.get<std::int64_t>("n") + n}, {"parts", List{first, second}}};
  });
  for (std::int64_t x : {1, 2}) {
    Record inputs{{"x", x}};
    CHECK(structural_jit(composite)(inputs) == composite(inputs));
  }
}

TEST_CASE("an ensemble written as a loop runs its members concurrently", "[jit][parallel]") {
  constexpr int members = 8;
  std::atomic<int> arrived{0};
  std::atomic<bool> all_overlapped{true};
  std::vector<OperatorRef> ensemble;
  for (int i = 0; i < members; ++i)
    ensemble.push_back(function_operator(
        "Member" + std::to_string(i),
        [&, i](const Record&) {
          ++arrived;
          // Every member waits until all have started: only concurrent runs pass.
          if (!eventually([&] { return arrived.load() == members; }, 5000ms))
            all_overlapped = false;
          return Record{{"answer", i % 3}};
        },
        {}, OperatorKind::io));
  auto combiner = function_operator("MostCommon", [](const Record& in) {
    std::map<std::int64_t, int> votes;
    for (const auto& answer : in.get<List>("answers"))
      ++votes[answer.as_record().get<std::int64_t>("answer")];
    auto best = std::max_element(votes.begin(), votes.end(),
                                 [](auto& l, auto& r) { return l.second < r.second; });
    return Record{{"final_answer", best->first}};
  });
  auto composite = function_operator("Ensemble", [ensemble, combiner](const Record& in) {
    List answers;
    for (const auto& member : ensemble)
      answers.emplace_back(member(in)); // a plain sequential loop
    return combiner(Record{{"answers", answers}});
  }, {}, OperatorKind::io);
  // The first call discovers the plan, the second follows the cached one.
  auto jitted = structural_jit(composite);
  for (int call = 1; call <= 2; ++call) {
    INFO("call " << call);
    arrived = 0;
    auto out = jitted(Record{{"question", "?"}});
    CHECK(all_overlapped);
    CHECK(out == Record{{"final_answer", 0}});
  }
  CHECK(jit_stats(jitted).cache_hits == 1);
}

TEST_CASE("the first call compiles the plan and later calls reuse it", "[jit][plan]") {
  auto jitted = structural_jit(nlp_pipeline());
  jitted(Record{{"text", "one"}});
  jitted(Record{{"text", "two"}});
  auto stats = jit_stats(jitted);
  CHECK(stats.calls == 2);
  CHECK(stats.compilations == 1);
  CHECK(stats.cache_hits == 1);
  auto plan = jit_plan(jitted);
  REQUIRE(plan.size() == 2);
  CHECK(plan[0].operator_name == "Extractor");
  CHECK(plan[1].operator_name == "Classifier");
  CHECK(plan[1].inputs_from == std::vector<std::size_t>{0});
  auto dot = jit_plan_dot(jitted);
  CHECK_THAT(dot, Catch::Contains("call0 -> call1") && Catch::Contains("1: Classifier"));
}

TEST_CASE("a call that follows a cached chain runs it on the calling thread", "[jit][plan]") {
  std::mutex mutex;
  std::set<std::thread::id> threads;
  std::vector<OperatorRef> steps;
  for (int i = 0; i < 5; ++i)
    steps.push_back(function_operator("Step" + std::to_string(i), [&](const Record& in) {
      std::lock_guard lock{mutex};
      threads.insert(std::this_thread::get_id());
      return Record{{"x", in.get<std::int64_t>("x") + 1}};
    }));
  auto chain = function_operator("Chain", [steps](const Record& in) {
    Record r = in;
    for (const auto& step : steps)
      r = step(r);
    return r;
  });
  auto jitted = structural_jit(chain);
  CHECK(jitted(Record{{"x", 0}}) == Record{{"x", 5}});
  threads.clear();
  // One call at a time can run: the cached plan recruits no helper.
  CHECK(jitted(Record{{"x", 10}}) == Record{{"x", 15}});
  CHECK(threads == std::set<std::thread::id>{std::this_thread::get_id()});
  CHECK(jit_stats(jitted).cache_hits == 1);
}

TEST_CASE("a sub-call's body starts only after the calls whose results it takes have ended",
          "[jit][plan]") {
  // Producer holds its body until Marker, the last call, starts: by then the
  // two consumers queued before Marker have been claimed by other threads.
  // A consumer body must not begin before Producer's ends, however deeply
  // Producer's pending result sits in its inputs: a body that took a lock
  // and then read its input would otherwise deadlock with a producer that
  // needs the same lock.
  std::atomic<bool> marker_started{false};
  std::atomic<bool> produced{false};
  std::atomic<int> early_starts{0};
  auto producer = function_operator("Producer", [&](const Record& in) {
    CHECK(eventually([&] { return marker_started.load(); }, 5000ms));
    produced = true;
    return Record{{"x", in.get<std::int64_t>("x") + 1}};
  }, {}, OperatorKind::io);
  auto consumer = function_operator("Consumer", [&](const Record& in) {
    if (!produced)
      ++early_starts;
    return in;
  }, {}, OperatorKind::io);
  auto marker = function_operator("Marker", [&](const Record& in) {
    marker_started = true;
    return in;
  }, {}, OperatorKind::io);
  auto composite = function_operator("Nested", [=](const Record& in) {
    Record made = producer(in);
    Record deep = consumer(Record{{"wrap", Record{{"inner", made}}}});
    Record listed = consumer(Record{{"items", List{Value{made}}}});
    marker(in);
    return Record{{"deep", deep}, {"listed", listed}};
  }, {}, OperatorKind::io);
  auto scope = execution_options({.max_workers = 4});
  auto jitted = structural_jit(composite);
  Record made{{"x", 2}};
  CHECK(jitted(Record{{"x", 1}}) ==
        Record{{"deep", Record{{"wrap", Record{{"inner", made}}}}},
               {"listed", Record{{"items", List{Value{made}}}}}});
  CHECK(early_starts == 0);
  CHECK(jit_plan(jitted)[1].inputs_from == std::vector<std::size_t>{0});
  CHECK(jit_plan(jitted)[2].inputs_from == std::vector<std::size_t>{0});
}

TEST_CASE("a call that leaves a cached chain runs its independent calls concurrently",
          "[jit][plan]") {
  constexpr int members = 3;
  std::atomic<int> arrived{0};
  std::atomic<bool> all_overlapped{true};
  auto member = function_operator("Member", [&](const Record& in) {
    if (in.get<std::int64_t>("fan") == 1) {
      ++arrived;
      if (!eventually([&] { return arrived.load() == members; }, 5000ms))
        all_overlapped = false;
    }
    return in;
  }, {}, OperatorKind::io);
  // fan 0: a chain of members (plan width 1); fan 1: independent members.
  auto composite = function_operator("Fan", [member](const Record& in) {
    List outs;
    Record previous = in;
    for (int i = 0; i < members; ++i) {
      previous = member(in.get<std::int64_t>("fan") == 1 ? in : previous);
      outs.emplace_back(previous);
    }
    return Record{{"outs", outs}};
  }, {}, OperatorKind::io);
  auto jitted = structural_jit(composite);
  jitted(Record{{"fan", 0}});
  auto out = jitted(Record{{"fan", 1}});
  CHECK(all_overlapped);
  CHECK(out == Record{{"outs", List(members, Value{Record{{"fan", 1}}})}});
  CHECK(jit_stats(jitted).compilations == 2);
}

TEST_CASE("a forward whose calls depend on the data re-plans and stays exact", "[jit][plan]") {
  auto small = function_operator("Small", [](const Record& in) { return in.with("path", "small"); });
  auto large = function_operator("Large", [](const Record& in) { return in.with("path", "large"); });
  auto composite = function_operator("Router", [small, large](const Record& in) {
    return in.get<std::int64_t>("x") < 10 ? small(in) : large(in);
  });
  auto jitted = structural_jit(composite);
  CHECK(jitted(Record{{"x", 1}}).get<std::string>("path") == "small");
  CHECK(jitted(Record{{"x", 50}}).get<std::string>("path") == "large");
  CHECK(jit_stats(jitted).compilations == 2);
}

TEST_CASE("a failing sub-operator fails the jitted call with its own exception", "[jit][errors]") {
  auto ok = function_operator("Fine", [](const Record& in) { return in; });
  auto bad = function_operator("Broken", [](const Record&) -> Record {
    throw std::runtime_error("model unavailable");
  });
  auto composite = function_operator("Mixed", [ok, bad](const Record& in) {
    auto first = ok(in);
    bad(in); // result never read: the failure must still surface
    return first;
  });
  CHECK_THROWS_WITH(structural_jit(composite)(Record{{"x", 1}}), "model unavailable");
}

TEST_CASE("nested jit and vmap never deadlock with one worker", "[jit][nesting]") {
  auto inner = structural_jit(nlp_pipeline());
  auto batched = vmap(inner);
  auto outer = structural_jit(function_operator("Outer", [batched](const Record& in) {
    return batched(in);
  }));
  Record inputs{{"text", List{"a", "b", "c", "d"}}};
  auto expected = vmap(nlp_pipeline())(inputs);
  auto scope = execution_options({.max_workers = 1});
  CHECK(outer(inputs) == expected);
}

TEST_CASE("execution_strategy is checked and sequential runs the plain forward", "[jit][strategy]") {
  CHECK_THROWS_WITH(structural_jit(nlp_pipeline(), "fastest"),
                    "structural_jit(NLPPipeline): execution_strategy 'fastest' is not one of "
                    "auto, parallel, sequential");
  auto sequential = structural_jit(nlp_pipeline(), "sequential");
  Record inputs{{"text", "x"}};
  CHECK(sequential(inputs) == nlp_pipeline()(inputs));
  CHECK(jit_stats(sequential).calls == 0);
  CHECK_THROWS_AS(jit_stats(nlp_pipeline()), std::invalid_argument);
}

TEST_CASE("sub-operators run under the options of the call site", "[jit][options]") {
  std::atomic<int> seen_workers{0};
  auto probe = function_operator("Probe", [&](const Record& in) {
    seen_workers = get_execution_options().max_workers.value_or(-1);
    return in;
  });
  auto composite = function_operator("Holder", [probe](const Record& in) { return probe(in); });
  auto scope = execution_options({.max_workers = 3});
  structural_jit(composite)(Record{{"x", 1}});
  CHECK(seen_workers == 3);
}
