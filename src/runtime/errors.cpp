#include <stdexcept>

#include "ember/core/exceptions.hpp"
#include "ember/xcs/runtime/operator_actor.hpp"

namespace ember::xcs {

caf::atom_value error_category() noexcept { return caf::atom("ember"); }

std::string to_string(ErrorCode code) {
  switch (code) {
  case ErrorCode::validation: return "validation";
  case ErrorCode::timeout: return "timeout";
  case ErrorCode::execution: return "execution";
  case ErrorCode::unavailable: return "unavailable";
  }
  return "unknown";
}

caf::error make_error(ErrorCode code, std::string message) {
  return caf::error{static_cast<std::uint8_t>(code), error_category(),
                    caf::make_message(std::move(message))};
}

void throw_error(const caf::error& error) {
  // An empty caf::error has no category to read (CAF 0.17 dereferences null).
  if (!error)
    throw std::invalid_argument("throw_error: the caf::error is empty, so there is no error to "
                                "throw; call it only for a failed request");
  std::string message = caf::to_string(error);
  if (error.category() == error_category() && error.context().match_elements<std::string>())
    message = error.context().get_as<std::string>(0);
  if (error.category() != error_category())
    throw ExecutionError(message);
  switch (static_cast<ErrorCode>(error.code())) {
  case ErrorCode::timeout: throw TimeoutError(message);
  case ErrorCode::unavailable: throw RuntimeUnavailableError(message);
  case ErrorCode::validation:
  case ErrorCode::execution: break;
  }
  throw ExecutionError(message);
}

} // namespace ember::xcs
