// The two wire protocols: what a request looks like and how to read the
// reply. Private to src/models.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ember/models/chat_model.hpp"
#include "models/http_client.hpp"

namespace ember::models::detail {

/// http[s]://host[:port][/path] split up. Throws ModelConfigError naming `id`
/// and the URL when it is not that.
struct BaseUrl {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path; ///< without a trailing '/', may be empty
};
BaseUrl parse_base_url(std::string_view url, std::string_view id);

/// The HTTP request asking `config`'s model to answer `prompt`.
HttpRequest chat_request(const ChatModelConfig& config, const BaseUrl& base,
                         const std::string& prompt);

/// What a 2xx reply said.
struct ChatAnswer {
  std::string text;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
};

/// Reads a 2xx reply. Throws ModelRequestError naming the model when the body
/// is not JSON or lacks the answer.
ChatAnswer read_chat_reply(const ChatModelConfig& config, int status, const std::string& body);

/// The provider's error message in an error reply ({"error": {"message": ...}}
/// for both protocols), else the start of the body.
std::string provider_error_message(const std::string& body);

} // namespace ember::models::detail
