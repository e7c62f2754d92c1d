// Model ids ("openai:gpt-4o-mini", "anthropic:claude-...", "<name>:<model>")
// to model operators, from the environment and a JSON configuration file.
#pragma once
#include "ember/config.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ember/models/chat_model.hpp"
#include "ember/models/errors.hpp"
#include "ember/models/usage.hpp"

namespace ember::models {

/// Reads an environment variable; the default reads the process environment.
using Environment = std::function<std::optional<std::string>(const std::string& name)>;

/// A named provider: protocol, base URL, the variable holding its key
/// (empty: the endpoint takes no key) and, for https, an extra CA file.
struct ProviderConfig {
  Protocol protocol = Protocol::openai;
  std::string base_url;
  std::string api_key_env;
  std::string ca_file;
};

/// Copies share the usage sums; the models a registry made keep adding to
/// them after it is gone.
class ModelRegistry {
public:
  /// Providers "openai" (OPENAI_API_KEY, OPENAI_BASE_URL, default
  /// https://api.openai.com/v1) and "anthropic" (ANTHROPIC_API_KEY,
  /// ANTHROPIC_BASE_URL, default https://api.anthropic.com), then the file
  /// named by EMBER_CONFIG when set. Throws ModelConfigError naming the file
  /// and line of a malformed configuration.
  static ModelRegistry from_environment(Environment environment = {});

  /// As from_environment, with `config_file` instead of EMBER_CONFIG.
  static ModelRegistry from_file(const std::filesystem::path& config_file,
                                 Environment environment = {});

  /// The built-in providers only, keys read through `environment`.
  explicit ModelRegistry(Environment environment = {});

  /// Adds or replaces the provider `name` (the part of an id before ':').
  void add_provider(const std::string& name, ProviderConfig provider);
  void set_price(const std::string& model_id, Price price);
  /// Limits the calls of `model_id`: the models of that id this registry
  /// makes after share one RateLimiter. Throws ModelConfigError for a
  /// negative or non-finite limit. In the file: "rate_limits".
  void set_rate_limit(const std::string& model_id, RateLimit limit);
  void set_client_options(ClientOptions options);
  const ClientOptions& client_options() const noexcept { return client_; }

  /// The operator for `id`. Throws ModelConfigError naming the id for an
  /// unknown provider or a malformed id, and the variable for a missing key,
  /// before any request is made.
  OperatorRef model(std::string_view id, ModelParameters parameters = {}) const;

  /// Tokens and cost per model id since the start or the last reset_usage().
  UsageSnapshot usage() const;
  void reset_usage();

private:
  Environment environment_;
  std::map<std::string, ProviderConfig, std::less<>> providers_;
  std::map<std::string, Price, std::less<>> prices_;
  std::map<std::string, std::shared_ptr<RateLimiter>, std::less<>> rate_limiters_;
  ClientOptions client_;
  std::shared_ptr<UsageLedger> usage_;
};

} // namespace ember::models
