#include "ember/core/non/uniform_ensemble.hpp"
#include "ember/core/non/varied_ensemble.hpp"

#include <stdexcept>

#include "non/model_text.hpp"

namespace ember::non {
namespace {

Specification ensemble_specification(const std::optional<std::string>& prompt_template) {
  return Specification{{Field::required_field("query", FieldType::string)},
                       {Field::required_field("responses", FieldType::list)}}
      .with_prompt(PromptTemplate{prompt_template.value_or("{query}")});
}

// Every call is made before any answer is read: under structural_jit the
// calls are recorded first and run at once.
template <class Request>
Record ask_all(const std::vector<OperatorRef>& models, const Request& request) {
  std::vector<Record> answers;
  answers.reserve(models.size());
  for (std::size_t i = 0; i < models.size(); ++i)
    answers.push_back(models[i](request(i)));
  List responses;
  responses.reserve(answers.size());
  for (std::size_t i = 0; i < answers.size(); ++i)
    responses.emplace_back(detail::model_text(models[i], answers[i]));
  return Record{{"responses", Value{std::move(responses)}}};
}

} // namespace

UniformEnsemble::UniformEnsemble(OperatorRef model, int num_units,
                                 std::optional<std::string> prompt_template)
    : Operator("UniformEnsemble", ensemble_specification(prompt_template), OperatorKind::io),
      model_(std::move(model)), num_units_(num_units) {
  detail::require_model(model_, "UniformEnsemble");
  if (num_units_ < 1)
    throw std::invalid_argument("UniformEnsemble: num_units is " + std::to_string(num_units_) +
                                "; allowed: 1 or more");
}

Record UniformEnsemble::forward(const Record& inputs) const {
  auto prompt = specification().prompt()->render(name(), inputs);
  std::vector<OperatorRef> members(static_cast<std::size_t>(num_units_), model_);
  return ask_all(members, [&](std::size_t i) {
    auto request = detail::model_request(prompt);
    request.set("sample", static_cast<std::int64_t>(i));
    return request;
  });
}

VariedEnsemble::VariedEnsemble(std::vector<OperatorRef> models,
                               std::optional<std::string> prompt_template)
    : Operator("VariedEnsemble", ensemble_specification(prompt_template), OperatorKind::io),
      models_(std::move(models)) {
  if (models_.empty())
    throw std::invalid_argument("VariedEnsemble: no models; allowed: one or more");
  for (std::size_t i = 0; i < models_.size(); ++i)
    detail::require_model(models_[i], "VariedEnsemble: model " + std::to_string(i));
}

Record VariedEnsemble::forward(const Record& inputs) const {
  auto prompt = specification().prompt()->render(name(), inputs);
  return ask_all(models_, [&](std::size_t) { return detail::model_request(prompt); });
}

} // namespace ember::non
