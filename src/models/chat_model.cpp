#include "ember/models/chat_model.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <charconv>
#include <cmath>
#include <optional>
#include <random>
#include <stop_token>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "ember/models/errors.hpp"
#include "ember/xcs/runtime/io_context.hpp"
#include "models/http_client.hpp"
#include "models/providers.hpp"

namespace asio = boost::asio;

namespace ember::models {
namespace {

using detail::HttpResult;

/// What every call of one model operator shares.
struct ModelState {
  ChatModelConfig config;
  detail::BaseUrl base;
  detail::TransportLimits limits;
  std::shared_ptr<boost::asio::ssl::context> tls; ///< null for http://
};

double random_unit() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>{0.0, 1.0}(generator);
}

/// Retry-After in seconds (integer or decimal); an HTTP date is not read.
std::optional<std::chrono::milliseconds> retry_after(const std::string& header) {
  double seconds = 0;
  const char* end = header.data() + header.size();
  auto [stop, error] = std::from_chars(header.data(), end, seconds);
  if (header.empty() || error != std::errc{} || stop != end || !(seconds >= 0) || seconds > 86400)
    return std::nullopt;
  return std::chrono::milliseconds{std::llround(seconds * 1000)};
}

/// One call of a model: attempts, waits between them, and the cut at the
/// deadline. Runs on the io_context's one thread except start() and the
/// stop callback, which only post to it; `stopped_` and everything the
/// attempts touch are therefore read and written by that thread alone.
class ModelCall final : public std::enable_shared_from_this<ModelCall> {
public:
  ModelCall(std::shared_ptr<const ModelState> model, asio::io_context& context,
            detail::HttpRequest request, Completion done)
      : model_(std::move(model)), context_(context), request_(std::move(request)),
        done_(std::move(done)), timer_(context) {}

  void start() {
    asio::post(context_, [self = shared_from_this()] { self->attempt(); });
    // The callback may run at once (stop already requested) or on the thread
    // that requests the stop; it holds only a weak reference, answers through
    // the Completion (safe from a stop callback) and posts the closing of the
    // connection to the I/O thread, which owns it.
    stop_callback_.emplace(done_.stop_token(), Cut{weak_from_this()});
  }

private:
  struct Cut {
    std::weak_ptr<ModelCall> call;
    void operator()() const {
      auto self = call.lock();
      if (!self)
        return;
      // Answer now, on the stopping thread (Completion allows it): a posted
      // cut that never runs (the runtime shutting down) would otherwise
      // release an undelivered Completion after the actor system is gone.
      self->done_.fail(std::make_exception_ptr(self->stopped_error()));
      asio::post(self->context_, [self] { self->cut(); });
    }
  };

  const ChatModelConfig& config() const { return model_->config; }

  // Every attempt, retries included, first reserves its place under the
  // model's rate limit and waits on the call's timer when it must.
  void attempt() {
    if (stopped_)
      return;
    const auto& limiter = config().rate_limiter;
    sent_ = false;
    if (!limiter)
      return send();
    reservation_ = limiter->reserve(estimated_tokens());
    if (reservation_->wait <= RateLimiter::Clock::duration::zero())
      return send();
    timer_.expires_after(reservation_->wait);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
      if (!error)
        self->send();
    });
  }

  // The prompt's bytes / 4 (about a token each) plus the longest answer.
  std::int64_t estimated_tokens() const {
    return static_cast<std::int64_t>(request_.body.size() / 4) +
           config().parameters.max_tokens.value_or(256);
  }

  void send() {
    if (stopped_)
      return;
    sent_ = true;
    ++attempts_;
    exchange_ = detail::http_exchange(
        context_, request_, model_->limits,
        [self = shared_from_this()](HttpResult result) { self->on_result(std::move(result)); });
  }

  void cut() {
    if (stopped_)
      return;
    stopped_ = true;
    timer_.cancel();
    if (reservation_ && !sent_)
      config().rate_limiter->cancel(*reservation_); // it never went: give it back
    detail::cancel(exchange_.lock()); // closes the connection: the server sees it go
  }

  /// Reads only the model's constant state: Cut calls it on another thread.
  TimeoutError stopped_error() const {
    return TimeoutError("model '" + config().id +
                        "': the call was stopped (deadline or cancellation); its request was cut");
  }

  void on_result(HttpResult result) {
    if (stopped_)
      return;
    switch (result.outcome) {
    case HttpResult::Outcome::reply:
      if (result.status >= 200 && result.status < 300)
        return answer(result);
      if (result.status == 429 || result.status >= 500)
        return retry_or_fail(result.status,
                             "HTTP " + std::to_string(result.status) + ": " +
                                 detail::provider_error_message(result.body),
                             detail::provider_error_message(result.body),
                             retry_after(result.retry_after));
      return fail(
          ModelRequestError(config().id, result.status, detail::provider_error_message(result.body),
                            "model '" + config().id + "': HTTP " + std::to_string(result.status) +
                                " (not retried): " + detail::provider_error_message(result.body)));
    case HttpResult::Outcome::connection_failed:
    case HttpResult::Outcome::timed_out: return retry_or_fail(0, result.error, "", std::nullopt);
    case HttpResult::Outcome::tls_failed: // a certificate does not get better by retrying
      return fail(
          ModelRequestError(config().id, 0, "", "model '" + config().id + "': " + result.error));
    case HttpResult::Outcome::cancelled: return; // only cut() cancels, and it has answered
    }
  }

  void answer(const HttpResult& result) {
    detail::ChatAnswer answer;
    // The error leaves the catch block before it is delivered: the thread
    // that reads it then holds its last reference, not this one.
    std::exception_ptr error;
    try {
      answer = detail::read_chat_reply(config(), result.status, result.body);
    } catch (...) {
      error = std::current_exception();
    }
    if (error)
      return fail_with(std::move(error));
    if (config().usage)
      config().usage->record(config().id, answer.prompt_tokens, answer.completion_tokens,
                             config().price);
    if (reservation_)
      config().rate_limiter->settle(*reservation_, answer.prompt_tokens + answer.completion_tokens);
    stopped_ = true;
    done_.succeed(Record{{"text", std::move(answer.text)},
                         {"prompt_tokens", answer.prompt_tokens},
                         {"completion_tokens", answer.completion_tokens}});
  }

  void retry_or_fail(int status, const std::string& what, const std::string& provider_message,
                     std::optional<std::chrono::milliseconds> server_delay) {
    const RetryPolicy& policy = config().client.retry;
    if (attempts_ >= policy.max_attempts)
      return fail(ModelRequestError(config().id, status, provider_message,
                                    "model '" + config().id + "': failed after " +
                                        std::to_string(attempts_) +
                                        " attempt(s); the last: " + what));
    timer_.expires_after(server_delay ? *server_delay : backoff());
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
      if (!error)
        self->attempt();
    });
  }

  /// Full jitter: uniform in [0, min(cap, base * 2^(attempt - 1))).
  std::chrono::milliseconds backoff() const {
    const RetryPolicy& policy = config().client.retry;
    double ceiling = std::min(static_cast<double>(policy.backoff_cap.count()),
                              static_cast<double>(policy.backoff_base.count()) *
                                  std::ldexp(1.0, std::min(attempts_ - 1, 30)));
    double fraction = policy.jitter ? std::clamp(policy.jitter(), 0.0, 1.0) : random_unit();
    return std::chrono::milliseconds{std::llround(ceiling * fraction)};
  }

  void fail(const ModelRequestError& error) { fail_with(std::make_exception_ptr(error)); }

  void fail_with(std::exception_ptr error) {
    stopped_ = true;
    done_.fail(std::move(error));
  }

  std::shared_ptr<const ModelState> model_;
  asio::io_context& context_;
  detail::HttpRequest request_;
  Completion done_;
  asio::steady_timer timer_;
  // Weak: the exchange's pending handlers keep it alive, and it holds this
  // call through its completion handler; a strong reference would be a cycle
  // that outlives a destroyed io_context.
  std::weak_ptr<detail::HttpExchange> exchange_;
  int attempts_ = 0;
  bool stopped_ = false;
  // The current attempt's place under the rate limit, and whether it was sent.
  std::optional<RateLimiter::Reservation> reservation_;
  bool sent_ = false;
  std::optional<std::stop_callback<Cut>> stop_callback_;
};

Specification chat_specification() {
  return Specification{{Field::required_field("prompt", FieldType::string)},
                       {Field::required_field("text", FieldType::string),
                        Field::required_field("prompt_tokens", FieldType::integer),
                        Field::required_field("completion_tokens", FieldType::integer)}};
}

class ChatModel final : public AsyncOperator {
public:
  explicit ChatModel(std::shared_ptr<const ModelState> model)
      : AsyncOperator(model->config.id, chat_specification(), OperatorKind::io),
        model_(std::move(model)) {}

  /// Everything that changes the answer but the inputs, for the persistent cache.
  std::string persistent_identity() const override {
    const ChatModelConfig& c = model_->config;
    std::string identity = c.id + "|" +
                           (c.endpoint.protocol == Protocol::openai ? "openai" : "anthropic") +
                           "|" + c.endpoint.base_url + "|" + c.model;
    if (c.parameters.temperature)
      identity += "|temperature=" + std::to_string(*c.parameters.temperature);
    if (c.parameters.max_tokens)
      identity += "|max_tokens=" + std::to_string(*c.parameters.max_tokens);
    return identity;
  }

  void start(const Record& inputs, Completion done) const override {
    auto request =
        detail::chat_request(model_->config, model_->base, inputs.get<std::string>("prompt"));
    request.tls = model_->tls;
    std::make_shared<ModelCall>(model_, xcs::io_context(), std::move(request), std::move(done))
        ->start();
  }

private:
  std::shared_ptr<const ModelState> model_;
};

} // namespace

OperatorRef chat_model(ChatModelConfig config) {
  if (config.client.retry.max_attempts < 1)
    throw ModelConfigError("model '" + config.id + "': retry max_attempts must be at least 1");
  if (config.client.max_connections_per_host < 1)
    throw ModelConfigError("model '" + config.id +
                           "': max_connections_per_host must be at least 1");
  auto base = detail::parse_base_url(config.endpoint.base_url, config.id);
  detail::TransportLimits limits{config.client.max_connections_per_host,
                                 config.client.connect_timeout, config.client.read_timeout};
  std::shared_ptr<boost::asio::ssl::context> tls;
  if (base.tls) {
    try {
      tls = detail::make_tls_context(config.endpoint.ca_file);
    } catch (const std::exception& error) {
      throw ModelConfigError("model '" + config.id + "': " + error.what());
    }
  }
  return make_operator<ChatModel>(std::make_shared<const ModelState>(
      ModelState{std::move(config), std::move(base), limits, std::move(tls)}));
}

} // namespace ember::models
