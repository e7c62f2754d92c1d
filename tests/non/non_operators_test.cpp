// Ember's NON operators over scripted models: what each sends its model,
// what it reads back, and the errors it gives.
#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>

#include "ember/core/exceptions.hpp"
#include "ember/core/non.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/engine/result_cache.hpp"
#include "model_stub.hpp"

using namespace ember;
using namespace ember::non;
using namespace ember::xcs;
using Catch::Matchers::Contains;
using ember::testing::constant_model;
using ember::testing::scripted_model;

TEST_CASE("UniformEnsemble asks its model n times with the rendered prompt and keeps member order") {
  std::atomic<int> calls{0};
  auto model = scripted_model("m", [&](const Record& request) {
    ++calls;
    return "answer " + std::to_string(request.at("sample").as_integer());
  });
  auto ensemble = make_operator<UniformEnsemble>(model.ref, 3, "Q: {query}");
  auto out = ensemble(Record{{"query", "2+2?"}});
  CHECK(out.at("responses") == Value{List{"answer 0", "answer 1", "answer 2"}});
  CHECK(calls == 3);
  for (const auto& request : model.stub->requests())
    CHECK(request.at("prompt").as_string() == "Q: 2+2?");
}

TEST_CASE("UniformEnsemble under enable_caching keeps n distinct answers, and a rerun makes no call") {
  std::atomic<int> calls{0};
  auto model = scripted_model("m", [&](const Record&) { return "draw " + std::to_string(++calls); });
  auto ensemble = make_operator<UniformEnsemble>(model.ref, 4);
  auto scope = execution_options({.enable_caching = true});
  result_cache().clear();
  auto first = ensemble(Record{{"query", "pick"}});
  // Identical requests would share one cached answer: each member's request differs.
  CHECK(first.at("responses") == Value{List{"draw 1", "draw 2", "draw 3", "draw 4"}});
  auto again = ensemble(Record{{"query", "pick"}});
  CHECK(again == first);
  CHECK(calls == 4);
}

TEST_CASE("ensembles refuse an empty model, no models and a non-positive size") {
  auto model = constant_model("m", "x");
  CHECK_THROWS_WITH(UniformEnsemble(model.ref, 0), Contains("num_units is 0; allowed: 1 or more"));
  CHECK_THROWS_WITH(UniformEnsemble(OperatorRef{}, 2), Contains("the model is empty"));
  CHECK_THROWS_WITH(VariedEnsemble({}), Contains("no models"));
  CHECK_THROWS_WITH(VariedEnsemble({model.ref, OperatorRef{}}), Contains("model 1: the model is empty"));
  CHECK_THROWS_WITH(UniformEnsemble(model.ref, 2, "{question}"), Contains("{question}"));
}

TEST_CASE("VariedEnsemble asks each model once, in the order given") {
  auto a = constant_model("a", "from a");
  auto b = constant_model("b", "from b");
  auto ensemble = make_operator<VariedEnsemble>(std::vector<OperatorRef>{b.ref, a.ref});
  auto out = ensemble(Record{{"query", "hi"}});
  CHECK(out.at("responses") == Value{List{"from b", "from a"}});
  CHECK(a.stub->requests().at(0).at("prompt").as_string() == "hi");
}

TEST_CASE("MostCommon picks the majority and, among equals, the response given first") {
  auto vote = make_operator<MostCommon>();
  CHECK(vote(Record{{"responses", List{"4", "5", "4"}}}).at("final_answer").as_string() == "4");
  CHECK(vote(Record{{"responses", List{"a", "b", "b", "a"}}}).at("final_answer").as_string() == "a");
  CHECK(vote(Record{{"responses", List{"b", "a", "a", "b", "c"}}}).at("final_answer").as_string() ==
        "b");
  CHECK(vote(Record{{"responses", List{"only"}}}).at("final_answer").as_string() == "only");
}

TEST_CASE("MostCommon names an empty list and a response that is not a string") {
  auto vote = make_operator<MostCommon>();
  CHECK_THROWS_AS(vote(Record{{"responses", List{}}}), ValidationError);
  CHECK_THROWS_WITH(vote(Record{{"responses", List{}}}), Contains("empty list"));
  CHECK_THROWS_WITH(vote(Record{{"responses", List{"a", 7}}}),
                    Contains("response 1 is an integer, expected a string"));
}

TEST_CASE("JudgeSynthesis sends query and responses and parses reasoning and final answer") {
  auto model = constant_model("judge",
                              "  Reasoning: most advisors say 4\n"
                              "and arithmetic agrees\n"
                              "Final Answer: 4\n"
                              "ignored afterwards");
  auto judge = make_operator<JudgeSynthesis>(model.ref);
  auto out = judge(Record{{"query", "2+2?"}, {"responses", List{"4", "5"}}});
  CHECK(out.at("final_answer").as_string() == "4");
  CHECK(out.at("reasoning").as_string() == "most advisors say 4\nand arithmetic agrees");
  auto prompt = model.stub->requests().at(0).at("prompt").as_string();
  CHECK_THAT(prompt, Contains("proposed different answers:\n4\n5\nNow, we want to synthesize"));
  CHECK_THAT(prompt, Contains("2+2?"));
}

TEST_CASE("a judge whose model gives no final answer answers Unknown, as Ember does") {
  auto model = constant_model("judge", "I cannot decide");
  auto out = make_operator<JudgeSynthesis>(model.ref)(
      Record{{"query", "q"}, {"responses", List{"a"}}});
  CHECK(out.at("final_answer").as_string() == "Unknown");
  CHECK(out.at("reasoning").as_string().empty());
}

TEST_CASE("a replaced prompt template is what the model gets") {
  auto model = constant_model("judge", "Final Answer: b");
  auto judge = make_operator<SelectorJudge>(model.ref, "Pick one for {query}: {responses}");
  auto out = judge(Record{{"query", "q"}, {"responses", List{"a", "b"}}});
  CHECK(out.at("final_answer").as_string() == "b");
  CHECK(model.stub->requests().at(0).at("prompt").as_string() == "Pick one for q: a\nb");
  CHECK_THAT(SelectorJudge::default_prompt, Contains("select the best"));
  CHECK_THROWS_WITH(JudgeSynthesis(model.ref, "{query} {answers}"),
                    Contains("{answers}, which is not an input field"));
}

TEST_CASE("Verifier reads verdict, explanation and an optional revised answer") {
  auto model = constant_model("v",
                              "Verdict: 0\n"
                              "Explanation: off by one\n"
                              "it is 4\n"
                              "Revised Answer (optional): 4");
  auto verify = make_operator<Verifier>(model.ref);
  auto out = verify(Record{{"query", "2+2?"}, {"candidate_answer", "5"}});
  CHECK(out.at("verdict").as_integer() == 0);
  CHECK(out.at("explanation").as_string() == "off by one\nit is 4");
  CHECK(out.at("revised_answer").as_string() == "4");
  CHECK_THAT(model.stub->requests().at(0).at("prompt").as_string(),
             Contains("Question: 2+2?\nCandidate Answer: 5\n"));
}

TEST_CASE("Verifier reads text verdicts, and incorrect is not correct") {
  auto verdict_for = [](std::string text) {
    auto model = constant_model("v", std::move(text));
    return make_operator<Verifier>(model.ref)(Record{{"query", "q"}, {"candidate_answer", "a"}});
  };
  CHECK(verdict_for("Verdict: Correct").at("verdict").as_integer() == 1);
  CHECK(verdict_for("Verdict: Incorrect").at("verdict").as_integer() == 0);
  CHECK(verdict_for("Verdict: 1\nRevised Answer: a").at("revised_answer").as_string() == "a");
  auto none = verdict_for("no verdict at all");
  CHECK(none.at("verdict").as_integer() == 0);
  CHECK(none.at("revised_answer").is_null());
}

TEST_CASE("a model answer without text is an error naming the model and the field") {
  auto mute = function_operator("mute", [](const Record&) { return Record{{"reply", "x"}}; },
                                {}, OperatorKind::io);
  auto judge = make_operator<JudgeSynthesis>(mute);
  try {
    judge(Record{{"query", "q"}, {"responses", List{"a"}}});
    FAIL("no error");
  } catch (const ValidationError& error) {
    CHECK(error.field() == "text");
    CHECK_THAT(error.what(), Contains("model operator 'mute'") && Contains("is missing"));
  }
}

TEST_CASE("Sequential chains its stages and takes the io kind of any") {
  auto model = scripted_model("m", [](const Record& request) {
    return request.at("sample").as_integer() == 1 ? "5" : "4";
  });
  auto chain = make_operator<Sequential>(std::vector<OperatorRef>{
      make_operator<UniformEnsemble>(model.ref, 3), make_operator<MostCommon>()});
  CHECK(chain.name() == "Sequential(UniformEnsemble -> MostCommon)");
  CHECK(chain->kind() == OperatorKind::io);
  CHECK(chain(Record{{"query", "2+2?"}}).at("final_answer").as_string() == "4");
  CHECK_THROWS_WITH(Sequential({}), Contains("no stages"));
  CHECK_THROWS_WITH(Sequential({chain, OperatorRef{}}), Contains("stage 1 is empty"));
}
