#include "ember/core/non/judge_synthesis.hpp"
#include "ember/core/non/selector_judge.hpp"

#include "non/answer_parsing.hpp"
#include "non/model_text.hpp"

namespace ember::non {
namespace {

Specification judge_specification(const std::optional<std::string>& prompt_template,
                                  const char* default_prompt) {
  return Specification{{Field::required_field("query", FieldType::string),
                        Field::required_field("responses", FieldType::list)},
                       {Field::required_field("final_answer", FieldType::string),
                        Field::required_field("reasoning", FieldType::string)}}
      .with_prompt(PromptTemplate{prompt_template.value_or(default_prompt)});
}

Record judge(const Operator& self, const OperatorRef& model, const Record& inputs) {
  auto prompt = self.specification().prompt()->render(self.name(), inputs);
  auto judgement = detail::parse_judgement(
      detail::model_text(model, model(detail::model_request(std::move(prompt)))));
  return Record{{"final_answer", std::move(judgement.final_answer)},
                {"reasoning", std::move(judgement.reasoning)}};
}

} // namespace

const char* const JudgeSynthesis::default_prompt =
    "We have multiple advisors who proposed different answers:\n"
    "{responses}\n"
    "Now, we want to synthesize a single best, final answer to:\n"
    "{query}\n"
    "Explain your reasoning concisely, then provide the single best final answer.\n"
    "Format:\n"
    "Reasoning: <your reasoning for synthesizing this answer in this way>\n"
    "Final Answer: <the single best answer>\n";

JudgeSynthesis::JudgeSynthesis(OperatorRef model, std::optional<std::string> prompt_template)
    : Operator("JudgeSynthesis", judge_specification(prompt_template, default_prompt),
               OperatorKind::io),
      model_(std::move(model)) {
  detail::require_model(model_, "JudgeSynthesis");
}

Record JudgeSynthesis::forward(const Record& inputs) const { return judge(*this, model_, inputs); }

const char* const SelectorJudge::default_prompt =
    "We have multiple advisors who proposed different answers:\n"
    "{responses}\n"
    "Now, we want to select the best, final answer to:\n"
    "{query}\n"
    "Explain your reasoning concisely, then provide the single best final answer.\n"
    "Format:\n"
    "Reasoning: <your reasoning for selecting this answer>\n"
    "Final Answer: <the single best answer>\n";

SelectorJudge::SelectorJudge(OperatorRef model, std::optional<std::string> prompt_template)
    : Operator("SelectorJudge", judge_specification(prompt_template, default_prompt),
               OperatorKind::io),
      model_(std::move(model)) {
  detail::require_model(model_, "SelectorJudge");
}

Record SelectorJudge::forward(const Record& inputs) const { return judge(*this, model_, inputs); }

} // namespace ember::non
