#include "models/http_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <deque>
#include <map>
#include <optional>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace ember::models::detail {
namespace {

/// One keep-alive connection. Bytes read past a reply stay in `buffer`.
struct Connection {
  explicit Connection(asio::io_context& context) : stream(context) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  bool connected = false;
};

using Grant = std::function<void(std::unique_ptr<Connection>)>;

void close(Connection& connection) {
  beast::error_code ignored;
  connection.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  connection.stream.close();
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
  void acquire(asio::io_context& context, const std::string& key, std::size_t bound,
               const void* tag, Grant grant) {
    Host& host = hosts_[key];
    while (!host.idle.empty()) {
      auto connection = std::move(host.idle.back());
      host.idle.pop_back();
      if (connection->stream.socket().is_open()) {
        grant(std::move(connection));
        return;
      }
      --host.open;
    }
    if (host.open < bound) {
      ++host.open;
      grant(std::make_unique<Connection>(context));
      return;
    }
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
    if (!reusable || !connection->stream.socket().is_open()) {
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
      connection = std::make_unique<Connection>(context);
    }
    // Posted: the releasing exchange is still on the stack.
    asio::post(context, [grant = std::move(grant), connection = std::move(connection)]() mutable {
      grant(std::move(connection));
    });
  }

  void shutdown() override { hosts_.clear(); }

private:
  struct Host {
    std::size_t open = 0; // idle + lent out + being granted
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
         error == asio::error::connection_aborted;
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
        key_(request.host + ":" + request.port), request_(std::move(request)), limits_(limits),
        on_done_(std::move(on_done)), resolver_(context) {}

  void begin() {
    queued_ = true;
    pool_.acquire(context_, key_, limits_.max_connections_per_host, this,
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
    connection_->stream.expires_after(limits_.connect_timeout);
    connection_->stream.async_connect(
        endpoints, [self = shared_from_this()](const beast::error_code& error, const auto&) {
          if (self->finished_)
            return self->drop_connection(false);
          if (error)
            return self->fail(error, "connecting to " + self->key_);
          self->connection_->connected = true;
          self->send();
        });
  }

  void send() {
    message_ = {http::verb::post, request_.target, 11};
    message_.set(http::field::host,
                 request_.port == "80" ? request_.host : request_.host + ":" + request_.port);
    message_.set(http::field::user_agent, "ember-xcs");
    message_.set(http::field::content_type, "application/json");
    message_.set(http::field::accept, "application/json");
    for (const auto& [name, value] : request_.headers)
      message_.set(name, value);
    message_.body() = request_.body;
    message_.keep_alive(true);
    message_.prepare_payload();
    connection_->stream.expires_after(limits_.read_timeout);
    http::async_write(connection_->stream, message_,
                      [self = shared_from_this()](const beast::error_code& error, std::size_t) {
                        if (self->finished_)
                          return self->drop_connection(false);
                        if (error)
                          return self->fail(error, "sending the request to " + self->key_);
                        self->read();
                      });
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(64 * 1024 * 1024);
    http::async_read(connection_->stream, connection_->buffer, *parser_,
                     [self = shared_from_this()](const beast::error_code& error, std::size_t) {
                       if (self->finished_)
                         return self->drop_connection(false);
                       if (error)
                         return self->fail(error, "reading the reply from " + self->key_);
                       auto& response = self->parser_->get();
                       HttpResult result;
                       result.outcome = HttpResult::Outcome::reply;
                       result.status = static_cast<int>(response.result_int());
                       result.body = std::move(response.body());
                       result.retry_after = std::string{response[http::field::retry_after]};
                       bool keep_alive = response.keep_alive();
                       self->connection_->stream.expires_never();
                       self->drop_connection(keep_alive);
                       self->finish(std::move(result));
                     });
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

void cancel(const std::shared_ptr<HttpExchange>& exchange) {
  if (exchange)
    exchange->cancel();
}

} // namespace ember::models::detail
