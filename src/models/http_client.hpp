// HTTP/1.1 exchanges over pooled keep-alive connections on an Asio
// io_context. Private; the only interface to Beast, which stays in
// http_client.cpp.
//
// Threading: every exchange and the pool run on the io_context's one thread
// (ember's IoService runs it with a single thread), so pool state needs no
// lock. http_exchange and cancel may be called from any thread: they post.
//
// Lifetime: the pool is an Asio service of the io_context, created on first
// use and destroyed with the context, so a pooled socket never outlives its
// context or reaches the context of a later runtime.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
namespace ssl {
class context;
} // namespace ssl
} // namespace boost::asio

namespace ember::models::detail {

struct HttpRequest {
  std::string host;
  std::string port;
  std::string target; ///< path and query, e.g. "/v1/chat/completions"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Set: HTTPS with this context (see make_tls_context); null: plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

/// A TLS client context that verifies servers against the system's
/// certificate store (OpenSSL's default paths, which honour SSL_CERT_FILE)
/// and, when `ca_file` is not empty, the certificates in that PEM file.
/// Throws std::runtime_error naming `ca_file` when it cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& ca_file);

struct HttpResult {
  enum class Outcome {
    reply,             ///< a whole response arrived (any status)
    connection_failed, ///< resolve, connect, write or read failed (reset, refused, cut)
    timed_out,         ///< connect or read timeout
    tls_failed,        ///< the TLS handshake failed (e.g. certificate verification)
    cancelled          ///< cancel() closed the connection
  };
  Outcome outcome = Outcome::connection_failed;
  int status = 0;
  std::string body;
  std::string retry_after; ///< the Retry-After header, if any
  std::string error;       ///< what went wrong when outcome is not reply
};

struct TransportLimits {
  std::size_t max_connections_per_host = 32;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds read_timeout{120'000};
};

class HttpExchange;

/// Starts one request; `on_done` runs exactly once on the io_context's thread
/// (not at all if the context is destroyed first).
std::shared_ptr<HttpExchange> http_exchange(boost::asio::io_context& context, HttpRequest request,
                                            TransportLimits limits,
                                            std::function<void(HttpResult)> on_done);

/// Closes the exchange's connection (or leaves the queue for one); on_done
/// then runs with Outcome::cancelled unless it already ran. Must be called on
/// the io_context's thread.
void cancel(const std::shared_ptr<HttpExchange>& exchange);

} // namespace ember::models::detail
