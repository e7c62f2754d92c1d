#include "models/http_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>

#include <deque>
#include <map>
#include <optional>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace ember::models::detail {
namespace {

/// One keep-alive connection, plain or TLS. Bytes read past a reply stay in
/// `buffer`.
struct Connection {
  Connection(asio::io_context& context, ssl::context* tls) {
    if (tls != nullptr)
      secure.emplace(context, *tls);
    else
      plain.emplace(context);
  }
  beast::tcp_stream& tcp() { return secure ? secure->next_layer() : *plain; }

  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool connected = false;
};

using Grant = std::function<void(std::unique_ptr<Connection>)>;

void close(Connection& connection) {
  beast::error_code ignored;
  // No TLS close_notify: the connection is being dropped, not ended politely.
  connection.tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  connection.tcp().close();
}

/// Idle connections and the queue for one, per host:port. An Asio service:
/// it is created by the first exchange on a context and destroyed with that
/// context (shutdown() closes every idle connection), so no socket survives
/// into another runtime's context. Only the context's one thread touches it.
class ConnectionPool final : public asio::execution_context::service {
public:
  inline static asio::execution_context::id id;

  explicit ConnectionPool(asio::execution_context& context) : service(context) {}

  /// Hands `grant` a connection: an idle one, a new one while the host has
  /// fewer than `bound` open, or the next one released. `tag` names the
  /// waiter for forget().
  void acquire(asio::io_context& context, const std::string& key, ssl::context* tls,
               std::size_t bound, const void* tag, Grant grant) {
    Host& host = hosts_[key];
    while (!host.idle.empty()) {
      auto connection = std::move(host.idle.back());
      host.idle.pop_back();
      if (connection->tcp().socket().is_open()) {
        grant(std::move(connection));
        return;
      }
      --host.open;
    }
    if (host.open < bound) {
      ++host.open;
      grant(std::make_unique<Connection>(context, tls));
      return;
    }
    host.tls = tls;
    host.waiting.emplace_back(tag, std::move(grant));
  }

  /// Takes `tag` out of the queue (a cancelled exchange).
  void forget(const std::string& key, const void* tag) {
    auto& waiting = hosts_[key].waiting;
    std::erase_if(waiting, [tag](const auto& waiter) { return waiter.first == tag; });
  }

  /// Gives a connection back: kept (or passed to the next waiter) when
  /// `reusable`, else closed, and its place goes to the next waiter.
  void release(asio::io_context& context, const std::string& key,
               std::unique_ptr<Connection> connection, bool reusable) {
    Host& host = hosts_[key];
    if (!reusable || !connection->tcp().socket().is_open()) {
      close(*connection);
      connection.reset();
      --host.open;
    }
    if (host.waiting.empty()) {
      if (connection)
        host.idle.push_back(std::move(connection));
      return;
    }
    Grant grant = std::move(host.waiting.front().second);
    host.waiting.pop_front();
    if (!connection) {
      ++host.open;
      connection = std::make_unique<Connection>(context, host.tls);
    }
    // Posted: the releasing exchange is still on the stack.
    asio::post(context, [grant = std::move(grant), connection = std::move(connection)]() mutable {
      grant(std::move(connection));
    });
  }

  void shutdown() override { hosts_.clear(); }

private:
  struct Host {
    std::size_t open = 0;        // idle + lent out + being granted
    ssl::context* tls = nullptr; // the key names it, so it is the same for every waiter
    std::vector<std::unique_ptr<Connection>> idle;
    std::deque<std::pair<const void*, Grant>> waiting;
  };
  std::map<std::string, Host> hosts_;
};

/// A reused keep-alive connection the server had already closed fails like
/// this before any byte of the reply; the request is sent again on a new one.
bool stale_connection_error(const beast::error_code& error) {
  return error == http::error::end_of_stream || error == asio::error::eof ||
         error == asio::error::connection_reset || error == asio::error::broken_pipe ||
         error == asio::error::connection_aborted || error == ssl::error::stream_truncated;
}

/// Connections are shared only between requests with the same TLS context
/// (the same trust) or both plain.
std::string pool_key(const HttpRequest& request) {
  std::string key = request.host + ":" + request.port;
  if (request.tls)
    key += " tls@" + std::to_string(reinterpret_cast<std::uintptr_t>(request.tls.get()));
  return key;
}

HttpResult failure(HttpResult::Outcome outcome, std::string error) {
  HttpResult result;
  result.outcome = outcome;
  result.error = std::move(error);
  return result;
}

} // namespace

class HttpExchange : public std::enable_shared_from_this<HttpExchange> {
public:
  HttpExchange(asio::io_context& context, HttpRequest request, TransportLimits limits,
               std::function<void(HttpResult)> on_done)
      : context_(context), pool_(asio::use_service<ConnectionPool>(context)),
        key_(pool_key(request)), request_(std::move(request)), limits_(limits),
        on_done_(std::move(on_done)), resolver_(context) {}

  void begin() {
    queued_ = true;
    pool_.acquire(context_, key_, request_.tls.get(), limits_.max_connections_per_host, this,
                  [self = shared_from_this()](std::unique_ptr<Connection> connection) {
                    self->on_connection(std::move(connection));
                  });
  }

  void cancel() {
    if (finished_)
      return;
    if (queued_)
      pool_.forget(key_, this);
    resolver_.cancel();
    // The pending operation completes with operation_aborted and its handler
    // drops the connection (it owns the buffers that operation still uses).
    if (connection_)
      close(*connection_);
    finish(failure(HttpResult::Outcome::cancelled, "the request was cancelled"));
  }

private:
  void on_connection(std::unique_ptr<Connection> connection) {
    queued_ = false;
    connection_ = std::move(connection);
    if (finished_) {
      drop_connection(connection_->connected);
      return;
    }
    reused_ = connection_->connected;
    if (reused_)
      send();
    else
      resolve();
  }

  void resolve() {
    beast::error_code error;
    auto address = asio::ip::make_address(request_.host, error);
    if (!error) {
      auto port = static_cast<unsigned short>(std::stoi(request_.port));
      connect(std::vector<tcp::endpoint>{tcp::endpoint{address, port}});
      return;
    }
    resolver_.async_resolve(
        request_.host, request_.port,
        [self = shared_from_this()](const beast::error_code& error,
                                    const tcp::resolver::results_type& results) {
          if (self->finished_)
            return self->drop_connection(false);
          if (error)
            return self->fail(error, "resolving " + self->request_.host);
          self->connect(std::vector<tcp::endpoint>(results.begin(), results.end()));
        });
  }

  void connect(std::vector<tcp::endpoint> endpoints) {
    connection_->tcp().expires_after(limits_.connect_timeout);
    connection_->tcp().async_connect(
        endpoints, [self = shared_from_this()](const beast::error_code& error, const auto&) {
          if (self->finished_)
            return self->drop_connection(false);
          if (error)
            return self->fail(error, "connecting to " + self->address());
          if (self->connection_->secure)
            return self->handshake();
          self->connection_->connected = true;
          self->send();
        });
  }

  void handshake() {
    auto& stream = *connection_->secure;
    // SNI for names (not for IP addresses, which SNI does not carry), and the
    // certificate must name the host: a name or an IP subjectAltName.
    beast::error_code not_an_address;
    asio::ip::make_address(request_.host, not_an_address);
    if (not_an_address)
      SSL_set_tlsext_host_name(stream.native_handle(), request_.host.c_str());
    stream.set_verify_mode(ssl::verify_peer);
    stream.set_verify_callback(ssl::host_name_verification(request_.host));
    stream.async_handshake(ssl::stream_base::client,
                           [self = shared_from_this()](const beast::error_code& error) {
                             if (self->finished_)
                               return self->drop_connection(false);
                             if (error == beast::error::timeout) // slow, not refused: retried
                               return self->fail(error, "TLS handshake with " + self->address());
                             if (error) {
                               self->drop_connection(false);
                               return self->finish(failure(HttpResult::Outcome::tls_failed,
                                                           "TLS handshake with " + self->address() +
                                                               " failed: " + error.message()));
                             }
                             self->connection_->connected = true;
                             self->send();
                           });
  }

  std::string address() const { return request_.host + ":" + request_.port; }

  void send() {
    message_ = {http::verb::post, request_.target, 11};
    bool default_port = request_.port == (request_.tls ? "443" : "80");
    message_.set(http::field::host,
                 default_port ? request_.host : request_.host + ":" + request_.port);
    message_.set(http::field::user_agent, "ember-xcs");
    message_.set(http::field::content_type, "application/json");
    message_.set(http::field::accept, "application/json");
    for (const auto& [name, value] : request_.headers)
      message_.set(name, value);
    message_.body() = request_.body;
    message_.keep_alive(true);
    message_.prepare_payload();
    connection_->tcp().expires_after(limits_.read_timeout);
    auto sent = [self = shared_from_this()](const beast::error_code& error, std::size_t) {
      if (self->finished_)
        return self->drop_connection(false);
      if (error)
        return self->fail(error, "sending the request to " + self->address());
      self->read();
    };
    if (connection_->secure)
      http::async_write(*connection_->secure, message_, std::move(sent));
    else
      http::async_write(*connection_->plain, message_, std::move(sent));
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(std::uint64_t{64} * 1024 * 1024);
    auto received = [self = shared_from_this()](const beast::error_code& error, std::size_t) {
      if (self->finished_)
        return self->drop_connection(false);
      if (error)
        return self->fail(error, "reading the reply from " + self->address());
      auto& response = self->parser_->get();
      HttpResult result;
      result.outcome = HttpResult::Outcome::reply;
      result.status = static_cast<int>(response.result_int());
      result.body = std::move(response.body());
      result.retry_after = std::string{response[http::field::retry_after]};
      bool keep_alive = response.keep_alive();
      self->connection_->tcp().expires_never();
      self->drop_connection(keep_alive);
      self->finish(std::move(result));
    };
    if (connection_->secure)
      http::async_read(*connection_->secure, connection_->buffer, *parser_, std::move(received));
    else
      http::async_read(*connection_->plain, connection_->buffer, *parser_, std::move(received));
  }

  void fail(const beast::error_code& error, const std::string& during) {
    bool reply_started = parser_ && parser_->got_some();
    drop_connection(false);
    if (reused_ && !reply_started && !resent_ && stale_connection_error(error)) {
      resent_ = true;
      parser_.reset();
      begin();
      return;
    }
    bool timed_out = error == beast::error::timeout;
    finish(
        failure(timed_out ? HttpResult::Outcome::timed_out : HttpResult::Outcome::connection_failed,
                during + ": " + (timed_out ? "timed out" : error.message())));
  }

  void drop_connection(bool reusable) {
    if (connection_)
      pool_.release(context_, key_, std::move(connection_), reusable);
  }

  void finish(HttpResult result) {
    finished_ = true;
    auto on_done = std::move(on_done_);
    on_done(std::move(result));
  }

  asio::io_context& context_;
  ConnectionPool& pool_;
  std::string key_;
  HttpRequest request_;
  TransportLimits limits_;
  std::function<void(HttpResult)> on_done_;
  tcp::resolver resolver_;
  std::unique_ptr<Connection> connection_;
  http::request<http::string_body> message_;
  std::optional<http::response_parser<http::string_body>> parser_;
  bool queued_ = false;
  bool reused_ = false;
  bool resent_ = false;
  bool finished_ = false;
};

std::shared_ptr<HttpExchange> http_exchange(asio::io_context& context, HttpRequest request,
                                            TransportLimits limits,
                                            std::function<void(HttpResult)> on_done) {
  auto exchange =
      std::make_shared<HttpExchange>(context, std::move(request), limits, std::move(on_done));
  asio::post(context, [exchange] { exchange->begin(); });
  return exchange;
}

std::shared_ptr<ssl::context> make_tls_context(const std::string& ca_file) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  context->set_default_verify_paths();
  if (!ca_file.empty()) {
    beast::error_code error;
    context->load_verify_file(ca_file, error);
    if (error)
      throw std::runtime_error("the CA file '" + ca_file +
                               "' cannot be loaded: " + error.message());
  }
  return context;
}

void cancel(const std::shared_ptr<HttpExchange>& exchange) {
  if (exchange)
    exchange->cancel();
}

} // namespace ember::models::detail
