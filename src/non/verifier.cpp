#include "ember/core/non/verifier.hpp"

#include "non/answer_parsing.hpp"
#include "non/model_text.hpp"

namespace ember::non {

const char* const Verifier::default_prompt =
    "You are a verifier of correctness.\n"
    "Question: {query}\n"
    "Candidate Answer: {candidate_answer}\n"
    "Please decide if this is correct. Provide:\n"
    "Verdict: <1 for correct, 0 for incorrect>\n"
    "Explanation: <Your reasoning>\n"
    "Revised Answer (optional): <If you can and want to provide a corrected version>\n";

Verifier::Verifier(OperatorRef model, std::optional<std::string> prompt_template)
    : Operator("Verifier",
               Specification{{Field::required_field("query", FieldType::string),
                              Field::required_field("candidate_answer", FieldType::string)},
                             {Field::required_field("verdict", FieldType::integer),
                              Field::required_field("explanation", FieldType::string),
                              Field::optional_field("revised_answer", FieldType::string)}}
                   .with_prompt(PromptTemplate{prompt_template.value_or(default_prompt)}),
               OperatorKind::io),
      model_(std::move(model)) {
  detail::require_model(model_, "Verifier");
}

Record Verifier::forward(const Record& inputs) const {
  auto prompt = specification().prompt()->render(name(), inputs);
  auto verdict = detail::parse_verdict(
      detail::model_text(model_, model_(detail::model_request(std::move(prompt)))));
  Value revised = nullptr;
  if (verdict.revised_answer)
    revised = std::move(*verdict.revised_answer);
  return Record{{"verdict", verdict.verdict},
                {"explanation", std::move(verdict.explanation)},
                {"revised_answer", std::move(revised)}};
}

} // namespace ember::non
