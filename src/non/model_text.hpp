// How a NON operator talks to its model: the contract of ember's model
// operators (inputs "prompt", outputs "text"). Private to src/non.
#pragma once

#include <string>
#include <string_view>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::non::detail {

/// Throws std::invalid_argument "<who>: the model is empty" for an empty handle.
void require_model(const OperatorRef& model, std::string_view who);

/// The request for `prompt`.
Record model_request(std::string prompt);

/// The `text` of a model's answer. Throws ValidationError naming the model,
/// the field and what it held when there is no string `text`.
std::string model_text(const OperatorRef& model, const Record& answer);

} // namespace ember::non::detail
