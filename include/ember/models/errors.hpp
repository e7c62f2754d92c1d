// The errors of the model client: a configuration that cannot give a model
// (found before any request) and a request the provider refused.
#pragma once
#include "ember/config.hpp"

#include <stdexcept>
#include <string>

namespace ember::models {

/// An unknown model id, a missing API key variable, a malformed configuration
/// file or an endpoint this build cannot reach. what() names the id, the
/// variable or the file and line.
class ModelConfigError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/// A request that failed for good: a status that is not retried (a 4xx other
/// than 429), retries used up, or a reply that is not the expected JSON.
/// status() is 0 when no HTTP status came (connection failures, timeouts).
class ModelRequestError : public std::runtime_error {
public:
  ModelRequestError(std::string model, int status, std::string provider_message,
                    const std::string& message)
      : std::runtime_error(message), model_(std::move(model)), status_(status),
        provider_message_(std::move(provider_message)) {}

  const std::string& model() const noexcept { return model_; }
  int status() const noexcept { return status_; }
  /// The provider's own error text (its JSON error.message), when it sent one.
  const std::string& provider_message() const noexcept { return provider_message_; }

private:
  std::string model_;
  int status_;
  std::string provider_message_;
};

} // namespace ember::models
