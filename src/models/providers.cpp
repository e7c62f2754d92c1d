#include "models/providers.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>

#include "ember/models/errors.hpp"

namespace json = boost::json;

namespace ember::models::detail {

BaseUrl parse_base_url(std::string_view url, std::string_view id) {
  auto refuse = [&](const std::string& why) {
    return ModelConfigError("model '" + std::string{id} + "': base URL '" + std::string{url} +
                            "' " + why);
  };
  constexpr std::string_view http = "http://";
  constexpr std::string_view https = "https://";
  bool tls = url.starts_with(https);
  if (!tls && !url.starts_with(http))
    throw refuse("is not an http:// or https:// URL");
  std::string_view rest = url.substr(tls ? https.size() : http.size());
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (path.ends_with('/'))
    path.remove_suffix(1);
  BaseUrl base{.tls = tls,
               .host = std::string{authority},
               .port = tls ? "443" : "80",
               .path = std::string{path}};
  if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    base.host = std::string{authority.substr(0, colon)};
    base.port = std::string{authority.substr(colon + 1)};
    int port = 0;
    auto [end, error] =
        std::from_chars(base.port.data(), base.port.data() + base.port.size(), port);
    if (error != std::errc{} || end != base.port.data() + base.port.size() || port <= 0 ||
        port > 65535)
      throw refuse("has an invalid port");
  }
  if (base.host.empty())
    throw refuse("has no host");
  return base;
}

HttpRequest chat_request(const ChatModelConfig& config, const BaseUrl& base,
                         const std::string& prompt) {
  json::object body;
  body["model"] = config.model;
  body["messages"] = json::array{json::object{{"role", "user"}, {"content", prompt}}};
  if (config.parameters.temperature)
    body["temperature"] = *config.parameters.temperature;
  HttpRequest request;
  request.host = base.host;
  request.port = base.port;
  if (config.endpoint.protocol == Protocol::openai) {
    request.target = base.path + "/chat/completions";
    if (config.parameters.max_tokens)
      body["max_tokens"] = *config.parameters.max_tokens;
    if (!config.endpoint.api_key.empty())
      request.headers.emplace_back("Authorization", "Bearer " + config.endpoint.api_key);
  } else {
    request.target = base.path + "/v1/messages";
    body["max_tokens"] = config.parameters.max_tokens.value_or(1024);
    if (!config.endpoint.api_key.empty())
      request.headers.emplace_back("x-api-key", config.endpoint.api_key);
    request.headers.emplace_back("anthropic-version", "2023-06-01");
  }
  request.body = json::serialize(body);
  return request;
}

namespace {

std::string excerpt(const std::string& body) {
  constexpr std::size_t limit = 200;
  return body.size() <= limit ? body : body.substr(0, limit) + "...";
}

std::int64_t token_count(const json::object* usage, std::string_view field) {
  if (usage == nullptr)
    return 0;
  const json::value* count = usage->if_contains(field);
  return count != nullptr && count->is_int64() ? count->as_int64() : 0;
}

} // namespace

ChatAnswer read_chat_reply(const ChatModelConfig& config, int status, const std::string& body) {
  auto bad_reply = [&](const std::string& why) {
    return ModelRequestError(config.id, status, "",
                             "model '" + config.id + "': the reply " + why + ": " + excerpt(body));
  };
  boost::system::error_code error;
  json::value reply = json::parse(body, error);
  if (error)
    throw bad_reply("is not valid JSON (" + error.message() + ")");
  const json::object* root = reply.if_object();
  if (root == nullptr)
    throw bad_reply("is not a JSON object");
  ChatAnswer answer;
  const json::string* text = nullptr;
  const json::value* usage = root->if_contains("usage");
  const json::object* usage_object = usage != nullptr ? usage->if_object() : nullptr;
  if (config.endpoint.protocol == Protocol::openai) {
    // choices[0].message.content
    if (const json::value* choices = root->if_contains("choices");
        choices != nullptr && choices->is_array() && !choices->as_array().empty())
      if (const json::object* choice = choices->as_array()[0].if_object())
        if (const json::value* message = choice->if_contains("message");
            message != nullptr && message->is_object())
          if (const json::value* content = message->as_object().if_contains("content"))
            text = content->if_string();
    if (text == nullptr)
      throw bad_reply("has no string choices[0].message.content");
    answer.prompt_tokens = token_count(usage_object, "prompt_tokens");
    answer.completion_tokens = token_count(usage_object, "completion_tokens");
  } else {
    // content[0].text
    if (const json::value* content = root->if_contains("content");
        content != nullptr && content->is_array() && !content->as_array().empty())
      if (const json::object* block = content->as_array()[0].if_object())
        if (const json::value* block_text = block->if_contains("text"))
          text = block_text->if_string();
    if (text == nullptr)
      throw bad_reply("has no string content[0].text");
    answer.prompt_tokens = token_count(usage_object, "input_tokens");
    answer.completion_tokens = token_count(usage_object, "output_tokens");
  }
  answer.text = std::string{text->data(), text->size()};
  return answer;
}

std::string provider_error_message(const std::string& body) {
  boost::system::error_code error;
  json::value reply = json::parse(body, error);
  if (!error && reply.is_object())
    if (const json::value* detail = reply.as_object().if_contains("error")) {
      if (detail->is_string())
        return std::string{detail->as_string()};
      if (detail->is_object())
        if (const json::value* message = detail->as_object().if_contains("message");
            message != nullptr && message->is_string())
          return std::string{message->as_string()};
    }
  return excerpt(body);
}

} // namespace ember::models::detail
