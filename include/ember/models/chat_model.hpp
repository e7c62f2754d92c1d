// One model at one endpoint as an asynchronous operator: inputs "prompt"
// (string; other fields such as NON's "sample" are accepted and ignored),
// outputs "text" (string), "prompt_tokens" and "completion_tokens" (integers).
#pragma once
#include "ember/config.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ember/core/registry/operator/base/operator_ref.hpp"
#include "ember/models/rate_limiter.hpp"
#include "ember/models/usage.hpp"

namespace ember::models {

/// The wire protocol of a provider.
enum class Protocol {
  openai,   ///< POST {base_url}/chat/completions (OpenAI, vLLM, llama.cpp, Ollama, ...)
  anthropic ///< POST {base_url}/v1/messages
};

/// Where a provider is and how to authenticate. An empty api_key sends none.
/// An https base_url verifies the server against the system's certificate
/// store (and SSL_CERT_FILE), plus the PEM certificates in ca_file if set.
struct Endpoint {
  Protocol protocol = Protocol::openai;
  std::string base_url;
  std::string api_key;
  std::string ca_file;
};

/// Retries of 429, 5xx, connection failures and read timeouts: exponential
/// backoff with full jitter, delay = jitter() * min(backoff_cap, backoff_base *
/// 2^retry), or the reply's Retry-After seconds when it sends one. A call's
/// deadline (timeout_seconds) cuts any wait.
struct RetryPolicy {
  int max_attempts = 4; ///< the first attempt included
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{20'000};
  /// A number in [0, 1); empty: uniformly random. Tests fix it.
  std::function<double()> jitter;
};

/// Transport and retry settings shared by the models of a registry.
struct ClientOptions {
  /// Open connections per host:port; calls beyond it queue for one.
  std::size_t max_connections_per_host = 32;
  std::chrono::milliseconds connect_timeout{10'000};
  /// Longest wait for the reply once the request is sent (then retried).
  std::chrono::milliseconds read_timeout{120'000};
  RetryPolicy retry;
};

/// Request parameters. Anthropic requires max_tokens: 1024 when not given.
struct ModelParameters {
  std::optional<double> temperature;
  std::optional<int> max_tokens;
};

/// Everything one model operator needs.
struct ChatModelConfig {
  std::string id;    ///< "provider:model", the operator's name and usage key
  std::string model; ///< the provider's model name, sent in the request
  Endpoint endpoint;
  ModelParameters parameters;
  ClientOptions client;
  std::shared_ptr<UsageLedger> usage; ///< may be null: usage is not recorded
  std::optional<Price> price;
  /// May be null: no limit. Shared by the models of one id (see
  /// ModelRegistry::set_rate_limit).
  std::shared_ptr<RateLimiter> rate_limiter;
};

/// The operator for `config`. Throws ModelConfigError for a base_url it cannot
/// use (not http[s]://host[:port][/path]) or a ca_file it cannot load.
OperatorRef chat_model(ChatModelConfig config);

} // namespace ember::models
