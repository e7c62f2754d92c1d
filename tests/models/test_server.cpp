#include "test_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <unistd.h>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto no_throw = asio::as_tuple(asio::use_awaitable);

namespace ember::testing {
namespace {

std::string pem_of(const std::function<int(BIO*)>& write) {
  BIO* bio = BIO_new(BIO_s_mem());
  write(bio);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem{data, static_cast<std::size_t>(size)};
  BIO_free(bio);
  return pem;
}

/// A self-signed certificate (a CA for itself) for IP 127.0.0.1 and its key.
struct Certificate {
  std::string certificate_pem;
  std::string key_pem;
};

Certificate make_certificate() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* certificate = X509_new();
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 24 * 3600);
  X509_set_pubkey(certificate, key);
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ember test server"), -1, -1,
                             0);
  X509_set_issuer_name(certificate, name);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
  }
  X509_sign(certificate, key, EVP_sha256());
  Certificate made{
      pem_of([&](BIO* bio) { return PEM_write_bio_X509(bio, certificate); }), pem_of([&](BIO* bio) {
        return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
      })};
  X509_free(certificate);
  EVP_PKEY_free(key);
  return made;
}

} // namespace

struct TestServer::State {
  State(Script script, Transport transport) : script(std::move(script)) {
    if (transport == Transport::tls) {
      Certificate certificate = make_certificate();
      tls.emplace(asio::ssl::context::tls_server);
      tls->use_certificate_chain(asio::buffer(certificate.certificate_pem));
      tls->use_private_key(asio::buffer(certificate.key_pem), asio::ssl::context::pem);
      static std::atomic<int> files{0};
      certificate_file = (std::filesystem::temp_directory_path() /
                          ("ember-test-server-" + std::to_string(::getpid()) + "-" +
                           std::to_string(++files) + ".pem"))
                             .string();
      std::ofstream{certificate_file} << certificate.certificate_pem;
    }
  }
  ~State() {
    if (!certificate_file.empty())
      std::filesystem::remove(certificate_file);
  }

  Script script;
  std::optional<asio::ssl::context> tls;
  std::string certificate_file;
  int handshakes_failed = 0;
  asio::io_context context{1};
  tcp::acceptor acceptor{context, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}};
  // Read once here: the server thread uses the acceptor from now on.
  unsigned short port = acceptor.local_endpoint().port();
  std::thread thread;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::vector<ReceivedRequest> received;
  int accepted = 0;
  int open = 0;
  int peak_open = 0;
  bool unanswered_closed = false;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [error, socket] = co_await acceptor.async_accept(no_throw);
      if (error)
        co_return;
      int number = 0;
      {
        std::lock_guard lock{mutex};
        number = ++accepted;
        peak_open = std::max(peak_open, ++open);
      }
      if (tls)
        asio::co_spawn(context, tls_session(std::move(socket), number), asio::detached);
      else
        asio::co_spawn(context, session(std::move(socket), number), asio::detached);
    }
  }

  asio::awaitable<void> tls_session(tcp::socket socket, int connection) {
    boost::beast::ssl_stream<tcp::socket> stream{std::move(socket), *tls};
    auto [error] = co_await stream.async_handshake(asio::ssl::stream_base::server, no_throw);
    if (error) {
      std::lock_guard lock{mutex};
      ++handshakes_failed;
      --open;
      co_return;
    }
    co_await serve(stream, connection);
  }

  asio::awaitable<void> session(tcp::socket socket, int connection) {
    co_await serve(socket, connection);
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, int connection) {
    auto& socket = boost::beast::get_lowest_layer(stream);
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, request, no_throw);
      if (read_error)
        break;
      ReceivedRequest seen{std::string{request.target()},
                           request.body(),
                           {},
                           std::chrono::steady_clock::now(),
                           connection};
      for (const auto& field : request) {
        std::string name{field.name_string()};
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        seen.headers[name] = std::string{field.value()};
      }
      int index = 0;
      {
        std::lock_guard lock{mutex};
        index = static_cast<int>(received.size());
        received.push_back(seen);
      }
      ScriptedReply reply = script(seen, index);
      if (reply.delay.count() > 0) {
        asio::steady_timer timer{context, reply.delay};
        co_await timer.async_wait(no_throw);
      }
      for (int waited_ms = 0; waited_ms < 5000; ++waited_ms) {
        {
          std::lock_guard lock{mutex};
          if (static_cast<int>(received.size()) >= reply.after_requests)
            break;
        }
        asio::steady_timer timer{context, std::chrono::milliseconds{1}};
        co_await timer.async_wait(no_throw);
      }
      if (reply.kind == ScriptedReply::Kind::never_answer) {
        char byte = 0;
        for (;;) {
          auto [error, n] = co_await stream.async_read_some(asio::buffer(&byte, 1), no_throw);
          if (error)
            break;
        }
        std::lock_guard lock{mutex};
        unanswered_closed = true;
        changed.notify_all();
        break;
      }
      if (reply.kind == ScriptedReply::Kind::reset_mid_reply) {
        std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(reply.body.size() + 100) + "\r\n\r\n" +
                           reply.body.substr(0, reply.body.size() / 2);
        co_await asio::async_write(stream, asio::buffer(head), no_throw);
        boost::system::error_code ignored;
        socket.set_option(asio::socket_base::linger{true, 0}, ignored);
        socket.close(ignored); // linger 0: the client sees a reset
        break;
      }
      http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
      response.set(http::field::content_type, "application/json");
      for (const auto& [name, value] : reply.headers)
        response.set(name, value);
      response.body() = reply.body;
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      auto [write_error, written] = co_await http::async_write(stream, response, no_throw);
      if (write_error || !request.keep_alive() || reply.close_after)
        break;
    }
    std::lock_guard lock{mutex};
    --open;
  }
};

TestServer::TestServer(Script script, Transport transport)
    : state_(std::make_shared<State>(std::move(script), transport)) {
  asio::co_spawn(state_->context, state_->accept_loop(), asio::detached);
  state_->thread = std::thread{[state = state_.get()] { state->context.run(); }};
}

TestServer::~TestServer() {
  state_->context.stop();
  state_->thread.join();
}

std::string TestServer::base_url(const std::string& path) const {
  return (state_->tls ? "https" : "http") + std::string{"://127.0.0.1:"} +
         std::to_string(state_->port) + path;
}

std::string TestServer::certificate_file() const {
  return state_->certificate_file;
}

int TestServer::failed_handshakes() const {
  std::lock_guard lock{state_->mutex};
  return state_->handshakes_failed;
}

int TestServer::connections_accepted() const {
  std::lock_guard lock{state_->mutex};
  return state_->accepted;
}

int TestServer::peak_open_connections() const {
  std::lock_guard lock{state_->mutex};
  return state_->peak_open;
}

std::vector<ReceivedRequest> TestServer::received() const {
  std::lock_guard lock{state_->mutex};
  return state_->received;
}

bool TestServer::wait_unanswered_connection_closed(std::chrono::milliseconds limit) const {
  std::unique_lock lock{state_->mutex};
  return state_->changed.wait_for(lock, limit, [this] { return state_->unanswered_closed; });
}

std::string openai_reply(const std::string& text, int prompt_tokens, int completion_tokens) {
  boost::json::object reply{
      {"id", "chatcmpl-test"},
      {"object", "chat.completion"},
      {"choices", boost::json::array{boost::json::object{
                      {"index", 0},
                      {"message", boost::json::object{{"role", "assistant"}, {"content", text}}},
                      {"finish_reason", "stop"}}}},
      {"usage", boost::json::object{{"prompt_tokens", prompt_tokens},
                                    {"completion_tokens", completion_tokens},
                                    {"total_tokens", prompt_tokens + completion_tokens}}}};
  return boost::json::serialize(reply);
}

std::string anthropic_reply(const std::string& text, int input_tokens, int output_tokens) {
  boost::json::object reply{
      {"id", "msg_test"},
      {"type", "message"},
      {"role", "assistant"},
      {"content", boost::json::array{boost::json::object{{"type", "text"}, {"text", text}}}},
      {"usage",
       boost::json::object{{"input_tokens", input_tokens}, {"output_tokens", output_tokens}}}};
  return boost::json::serialize(reply);
}

std::string prompt_of(const ReceivedRequest& request) {
  auto body = boost::json::parse(request.body).as_object();
  return std::string{body.at("messages").as_array().at(0).as_object().at("content").as_string()};
}

} // namespace ember::testing
