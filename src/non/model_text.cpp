#include "non/model_text.hpp"

#include <stdexcept>

#include "ember/core/exceptions.hpp"

namespace ember::non::detail {

void require_model(const OperatorRef& model, std::string_view who) {
  if (!model)
    throw std::invalid_argument(std::string{who} + ": the model is empty");
}

Record model_request(std::string prompt) { return Record{{"prompt", std::move(prompt)}}; }

std::string model_text(const OperatorRef& model, const Record& answer) {
  const Value* text = answer.find("text");
  if (text != nullptr && text->kind() == ValueKind::string)
    return text->as_string();
  std::string actual = text == nullptr ? "missing" : std::string{describe(text->kind())};
  throw ValidationError(model.name(), "text", "a string", actual,
                        "model operator '" + model.name() + "': output field 'text' is " + actual +
                            ", expected a string (the answer NON operators read)");
}

} // namespace ember::non::detail
