#include "ember/models/model_registry.hpp"

#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace json = boost::json;

namespace ember::models {
namespace {

std::optional<std::string> process_environment(const std::string& name) {
  // The registry reads the environment when it is built and when a model is
  // made, not while calls run.
  if (const char* value = std::getenv(name.c_str()))
    return std::string{value};
  return std::nullopt;
}

/// "line L, column C" of `offset` in `text`.
std::string position(const std::string& text, std::size_t offset) {
  offset = std::min(offset, text.size());
  auto line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  auto line =
      std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n') + 1;
  auto column = line_start == std::string::npos ? offset + 1 : offset - line_start;
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

/// What a configuration file sets, read whole before any of it is applied.
struct ConfigFile {
  std::map<std::string, ProviderConfig, std::less<>> providers;
  std::map<std::string, Price, std::less<>> prices;
  std::map<std::string, RateLimit, std::less<>> rate_limits;
};

class ConfigReader {
public:
  explicit ConfigReader(std::filesystem::path file) : file_(std::move(file)) {}

  ConfigFile read() {
    std::ifstream in{file_, std::ios::binary};
    if (!in)
      throw error("cannot be read");
    std::stringstream text;
    text << in.rdbuf();
    const std::string content = text.str();
    json::stream_parser parser;
    boost::system::error_code parse_error;
    std::size_t consumed = parser.write_some(content.data(), content.size(), parse_error);
    if (!parse_error)
      parser.finish(parse_error);
    if (parse_error)
      throw error("is not valid JSON at " + position(content, consumed) + ": " +
                  parse_error.message());
    json::value root = parser.release();
    const json::object& top = object(root, "the top level");
    ConfigFile config;
    for (const auto& [key, value] : top) {
      if (key == "providers") {
        for (const auto& [name, entry] : object(value, "providers"))
          config.providers[std::string{name}] = provider("providers." + std::string{name}, entry);
      } else if (key == "prices") {
        for (const auto& [id, entry] : object(value, "prices"))
          config.prices[std::string{id}] = price("prices." + std::string{id}, entry);
      } else if (key == "rate_limits") {
        for (const auto& [id, entry] : object(value, "rate_limits"))
          config.rate_limits[std::string{id}] = rate_limit("rate_limits." + std::string{id}, entry);
      } else {
        throw error("has an unknown key '" + std::string{key} +
                    "' (expected providers, prices, rate_limits)");
      }
    }
    return config;
  }

private:
  ModelConfigError error(const std::string& what) const {
    return ModelConfigError("configuration file '" + file_.string() + "' " + what);
  }

  const json::object& object(const json::value& value, const std::string& where) const {
    if (!value.is_object())
      throw error(where + " is not a JSON object");
    return value.as_object();
  }

  std::string string(const json::object& entry, std::string_view key, const std::string& where,
                     bool required) const {
    const json::value* value = entry.if_contains(key);
    if (value == nullptr) {
      if (required)
        throw error(where + " has no \"" + std::string{key} + "\"");
      return {};
    }
    if (!value->is_string())
      throw error(where + "." + std::string{key} + " is not a string");
    return std::string{value->as_string()};
  }

  double number(const json::object& entry, std::string_view key, const std::string& where) const {
    const json::value* value = entry.if_contains(key);
    if (value == nullptr)
      return 0.0;
    if (!value->is_number() || value->to_number<double>() < 0)
      throw error(where + "." + std::string{key} + " is not a number >= 0");
    return value->to_number<double>();
  }

  ProviderConfig provider(const std::string& where, const json::value& value) const {
    const json::object& entry = object(value, where);
    for (const auto& [key, ignored] : entry)
      if (key != "protocol" && key != "base_url" && key != "api_key_env" && key != "ca_file")
        throw error(where + " has an unknown key '" + std::string{key} +
                    "' (expected protocol, base_url, api_key_env, ca_file)");
    ProviderConfig provider;
    std::string protocol = string(entry, "protocol", where, false);
    if (protocol.empty() || protocol == "openai")
      provider.protocol = Protocol::openai;
    else if (protocol == "anthropic")
      provider.protocol = Protocol::anthropic;
    else
      throw error(where + ".protocol is '" + protocol + "', expected openai or anthropic");
    provider.base_url = string(entry, "base_url", where, true);
    provider.api_key_env = string(entry, "api_key_env", where, false);
    provider.ca_file = string(entry, "ca_file", where, false);
    return provider;
  }

  RateLimit rate_limit(const std::string& where, const json::value& value) const {
    const json::object& entry = object(value, where);
    for (const auto& [key, ignored] : entry)
      if (key != "requests_per_minute" && key != "tokens_per_minute")
        throw error(where + " has an unknown key '" + std::string{key} +
                    "' (expected requests_per_minute, tokens_per_minute)");
    return RateLimit{number(entry, "requests_per_minute", where),
                     number(entry, "tokens_per_minute", where)};
  }

  Price price(const std::string& where, const json::value& value) const {
    const json::object& entry = object(value, where);
    return Price{number(entry, "input_per_million", where),
                 number(entry, "output_per_million", where)};
  }

  std::filesystem::path file_;
};

} // namespace

ModelRegistry::ModelRegistry(Environment environment)
    : environment_(environment ? std::move(environment) : Environment{process_environment}),
      usage_(std::make_shared<UsageLedger>()) {
  providers_["openai"] = ProviderConfig{
      Protocol::openai, environment_("OPENAI_BASE_URL").value_or("https://api.openai.com/v1"),
      "OPENAI_API_KEY", ""};
  providers_["anthropic"] = ProviderConfig{
      Protocol::anthropic, environment_("ANTHROPIC_BASE_URL").value_or("https://api.anthropic.com"),
      "ANTHROPIC_API_KEY", ""};
}

ModelRegistry ModelRegistry::from_environment(Environment environment) {
  ModelRegistry registry{std::move(environment)};
  if (auto file = registry.environment_("EMBER_CONFIG"); file && !file->empty())
    return from_file(*file, registry.environment_);
  return registry;
}

ModelRegistry ModelRegistry::from_file(const std::filesystem::path& config_file,
                                       Environment environment) {
  ModelRegistry registry{std::move(environment)};
  // Read and checked whole before any of it is applied.
  ConfigFile config = ConfigReader{config_file}.read();
  for (auto& [name, provider] : config.providers)
    registry.providers_[name] = std::move(provider);
  for (auto& [id, price] : config.prices)
    registry.prices_[id] = price;
  for (auto& [id, limit] : config.rate_limits)
    registry.set_rate_limit(id, limit);
  return registry;
}

void ModelRegistry::add_provider(const std::string& name, ProviderConfig provider) {
  providers_[name] = std::move(provider);
}

void ModelRegistry::set_price(const std::string& model_id, Price price) {
  prices_[model_id] = price;
}

void ModelRegistry::set_rate_limit(const std::string& model_id, RateLimit limit) {
  rate_limiters_[model_id] = std::make_shared<RateLimiter>(model_id, limit);
}

void ModelRegistry::set_client_options(ClientOptions options) {
  client_ = std::move(options);
}

OperatorRef ModelRegistry::model(std::string_view id, ModelParameters parameters) const {
  auto colon = id.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == id.size())
    throw ModelConfigError("Unknown model id '" + std::string{id} +
                           "': expected 'provider:model', e.g. 'openai:gpt-4o-mini'");
  std::string_view provider_name = id.substr(0, colon);
  auto provider = providers_.find(provider_name);
  if (provider == providers_.end()) {
    std::string known;
    for (const auto& [name, ignored] : providers_)
      known += (known.empty() ? "" : ", ") + name;
    throw ModelConfigError("Unknown model id '" + std::string{id} + "': no provider '" +
                           std::string{provider_name} + "' (known: " + known + ")");
  }
  ChatModelConfig config{.id = std::string{id},
                         .model = std::string{id.substr(colon + 1)},
                         .endpoint = {provider->second.protocol, provider->second.base_url, "",
                                      provider->second.ca_file},
                         .parameters = parameters,
                         .client = client_,
                         .usage = usage_,
                         .price = std::nullopt,
                         .rate_limiter = nullptr};
  if (const std::string& variable = provider->second.api_key_env; !variable.empty()) {
    auto key = environment_(variable);
    if (!key || key->empty())
      throw ModelConfigError("model '" + std::string{id} +
                             "' needs an API key in the environment "
                             "variable " +
                             variable + ", which is not set");
    config.endpoint.api_key = *key;
  }
  if (auto price = prices_.find(id); price != prices_.end())
    config.price = price->second;
  if (auto limiter = rate_limiters_.find(id); limiter != rate_limiters_.end())
    config.rate_limiter = limiter->second;
  return chat_model(std::move(config));
}

UsageSnapshot ModelRegistry::usage() const {
  return usage_->snapshot();
}

void ModelRegistry::reset_usage() {
  usage_->reset();
}

} // namespace ember::models
