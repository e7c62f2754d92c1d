// A scripted HTTP/1.1 server for the model client's tests: real TCP on
// 127.0.0.1, its own thread and io_context, one script deciding each reply.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ember::testing {

struct ScriptedReply {
  enum class Kind {
    answer,          ///< status, headers and body, connection kept open
    reset_mid_reply, ///< headers and half the body, then a TCP reset
    never_answer     ///< reads on until the client closes the connection
  };
  Kind kind = Kind::answer;
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0}; ///< before answering
  /// Answers only once this many requests have arrived (a latch; gives up
  /// after 5 s).
  int after_requests = 0;
  /// Closes the connection right after the reply although it said keep-alive
  /// (as a server whose idle timeout passed).
  bool close_after = false;
};

struct ReceivedRequest {
  std::string target;
  std::string body;
  std::map<std::string, std::string> headers; ///< names in lower case
  std::chrono::steady_clock::time_point at;
  int connection = 0; ///< 1 for the first connection accepted, 2 for the next...
};

class TestServer {
public:
  /// `index` counts requests from 0 in arrival order.
  using Script = std::function<ScriptedReply(const ReceivedRequest& request, int index)>;

  enum class Transport { plain, tls };

  /// With Transport::tls the server presents a self-signed certificate for
  /// IP 127.0.0.1 made at start (certificate_file() holds it as PEM).
  explicit TestServer(Script script, Transport transport = Transport::plain);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  /// http[s]://127.0.0.1:<port><path>
  std::string base_url(const std::string& path = "/v1") const;
  /// The PEM file of a TLS server's certificate (empty for a plain server);
  /// removed with the server.
  std::string certificate_file() const;
  /// TLS handshakes that failed (a client that refused the certificate).
  int failed_handshakes() const;

  int connections_accepted() const;
  /// Most connections open at the same time.
  int peak_open_connections() const;
  std::vector<ReceivedRequest> received() const;

  /// Waits up to `limit` for a client to close a connection whose request
  /// got Kind::never_answer; true when it did.
  bool wait_unanswered_connection_closed(std::chrono::milliseconds limit) const;

private:
  struct State;
  std::shared_ptr<State> state_;
};

/// An OpenAI chat completion carrying `text` and the usage counts.
std::string openai_reply(const std::string& text, int prompt_tokens = 0, int completion_tokens = 0);
/// An Anthropic message carrying `text` and the usage counts.
std::string anthropic_reply(const std::string& text, int input_tokens = 0, int output_tokens = 0);
/// The prompt of an OpenAI or Anthropic request body (messages[0].content).
std::string prompt_of(const ReceivedRequest& request);

} // namespace ember::testing
