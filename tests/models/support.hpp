// Helpers for the model client's tests: a model at the local test server with
// fast retries, and the text of an error with its nested causes.
#pragma once

#include <exception>
#include <memory>
#include <string>

#include "ember/models/chat_model.hpp"
#include "ember/models/errors.hpp"
#include "test_server.hpp"

namespace ember::testing {

/// "local:test-model" at `server`, with retries that wait 0 ms unless the
/// server sends Retry-After (the jitter is fixed at 0).
inline models::ChatModelConfig local_model(const TestServer& server,
                                           models::Protocol protocol = models::Protocol::openai) {
  models::ChatModelConfig config;
  config.id = "local:test-model";
  config.model = "test-model";
  // Anthropic's base URL has no /v1: the protocol adds /v1/messages.
  config.endpoint = {protocol,
                     server.base_url(protocol == models::Protocol::anthropic ? "" : "/v1"),
                     "test-key", ""};
  config.client.retry.backoff_base = std::chrono::milliseconds{1};
  config.client.retry.backoff_cap = std::chrono::milliseconds{4};
  config.client.retry.jitter = [] { return 0.0; };
  config.usage = std::make_shared<models::UsageLedger>();
  return config;
}

/// what() of `error` and of every exception nested in it, joined by " | ".
inline std::string error_text(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    std::string text = e.what();
    try {
      std::rethrow_if_nested(e);
    } catch (...) {
      text += " | " + error_text(std::current_exception());
    }
    return text;
  } catch (...) {
    return "(not a std::exception)";
  }
}

/// The error text of `call()`, or "no error" when it returns.
template <class Call>
std::string error_of(Call&& call) {
  try {
    call();
  } catch (...) {
    return error_text(std::current_exception());
  }
  return "no error";
}

/// The ModelRequestError in the chain of `error`, or nullptr.
inline std::shared_ptr<models::ModelRequestError>
find_request_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const models::ModelRequestError& e) {
    return std::make_shared<models::ModelRequestError>(e);
  } catch (const std::exception& e) {
    try {
      std::rethrow_if_nested(e);
    } catch (...) {
      return find_request_error(std::current_exception());
    }
  } catch (...) {
  }
  return nullptr;
}

template <class Call>
std::shared_ptr<models::ModelRequestError> request_error_of(Call&& call) {
  try {
    call();
  } catch (...) {
    return find_request_error(std::current_exception());
  }
  return nullptr;
}

} // namespace ember::testing
