#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <atomic>
#include <thread>

#include "ember/core/exceptions.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/runtime/runtime.hpp"
#include "ember/xcs/transforms/vmap.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::testing;
using namespace std::chrono_literals;

namespace {

ScriptedReply answer(std::string body, std::chrono::milliseconds delay = 0ms) {
  ScriptedReply reply;
  reply.body = std::move(body);
  reply.delay = delay;
  return reply;
}

TestServer echo_server(std::chrono::milliseconds delay = 0ms) {
  return TestServer{[delay](const ReceivedRequest& request, int) {
    return answer(openai_reply("echo: " + prompt_of(request), 3, 2), delay);
  }};
}

} // namespace

TEST_CASE("an OpenAI-compatible model sends a chat completion and reads the answer",
          "[models][openai]") {
  TestServer server{
      [](const ReceivedRequest&, int) { return answer(openai_reply("Paris", 12, 3)); }};
  auto config = local_model(server);
  config.parameters.temperature = 0.5;
  auto model = models::chat_model(config);
  Record out = model(Record{{"prompt", "Capital of France?"}});
  CHECK(out.get<std::string>("text") == "Paris");
  CHECK(out.get<std::int64_t>("prompt_tokens") == 12);
  CHECK(out.get<std::int64_t>("completion_tokens") == 3);
  auto requests = server.received();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target == "/v1/chat/completions");
  CHECK(requests[0].headers["authorization"] == "Bearer test-key");
  auto body = boost::json::parse(requests[0].body).as_object();
  CHECK(body.at("model").as_string() == "test-model");
  CHECK(body.at("temperature").as_double() == 0.5);
  CHECK(prompt_of(requests[0]) == "Capital of France?");
  auto message = body.at("messages").as_array().at(0).as_object();
  CHECK(message.at("role").as_string() == "user");
}

TEST_CASE("an Anthropic model sends its key, version and max_tokens and reads content[0].text",
          "[models][anthropic]") {
  TestServer server{
      [](const ReceivedRequest&, int) { return answer(anthropic_reply("Bonjour", 7, 4)); }};
  auto model = models::chat_model(local_model(server, models::Protocol::anthropic));
  Record out = model(Record{{"prompt", "Say hello in French"}});
  CHECK(out.get<std::string>("text") == "Bonjour");
  CHECK(out.get<std::int64_t>("prompt_tokens") == 7);
  CHECK(out.get<std::int64_t>("completion_tokens") == 4);
  auto requests = server.received();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target == "/v1/messages");
  CHECK(requests[0].headers["x-api-key"] == "test-key");
  CHECK(requests[0].headers["anthropic-version"] == "2023-06-01");
  CHECK(requests[0].headers.count("authorization") == 0);
  auto body = boost::json::parse(requests[0].body).as_object();
  CHECK(body.at("max_tokens").as_int64() == 1024);
}

TEST_CASE("a model accepts the sample index NON ensembles send", "[models][non]") {
  auto server = echo_server();
  auto model = models::chat_model(local_model(server));
  Record out = model(Record{{"prompt", "hi"}, {"sample", 2}});
  CHECK(out.get<std::string>("text") == "echo: hi");
}

TEST_CASE("sequential calls reuse one keep-alive connection", "[models][pool]") {
  auto server = echo_server();
  auto model = models::chat_model(local_model(server));
  for (int i = 0; i < 5; ++i)
    CHECK(model(Record{{"prompt", std::to_string(i)}}).get<std::string>("text") ==
          "echo: " + std::to_string(i));
  CHECK(server.received().size() == 5);
  CHECK(server.connections_accepted() == 1);
}

TEST_CASE("at most max_connections_per_host connections are open while 32 calls run",
          "[models][pool][vmap]") {
  // The first four requests are answered only once all four have arrived, so
  // four connections are open at once; the bound keeps a fifth from opening.
  TestServer server{[](const ReceivedRequest& request, int index) {
    auto reply = answer(openai_reply("echo: " + prompt_of(request)), 5ms);
    reply.after_requests = index < 4 ? 4 : 0;
    return reply;
  }};
  auto config = local_model(server);
  config.client.max_connections_per_host = 4;
  auto model = models::chat_model(config);
  List prompts;
  for (int i = 0; i < 32; ++i)
    prompts.emplace_back("p" + std::to_string(i));
  auto scope = xcs::execution_options({.max_workers = 32});
  Record out = xcs::vmap(model)(Record{{"prompt", prompts}});
  REQUIRE(out.get<List>("text").size() == 32);
  CHECK(server.received().size() == 32);
  CHECK(server.peak_open_connections() == 4);
  CHECK(server.connections_accepted() == 4);
}

TEST_CASE("a vmap of 200 calls through the client returns every answer in order",
          "[models][vmap]") {
  auto server = echo_server(1ms);
  auto config = local_model(server);
  config.client.max_connections_per_host = 8;
  auto model = models::chat_model(config);
  List prompts;
  for (int i = 0; i < 200; ++i)
    prompts.emplace_back("question " + std::to_string(i));
  auto scope = xcs::execution_options({.max_workers = 64});
  Record out = xcs::vmap(model)(Record{{"prompt", prompts}});
  const auto& texts = out.get<List>("text");
  REQUIRE(texts.size() == 200);
  for (int i = 0; i < 200; ++i)
    CHECK(texts[static_cast<std::size_t>(i)].as_string() == "echo: question " + std::to_string(i));
  CHECK(server.received().size() == 200);
  CHECK(server.peak_open_connections() <= 8);
}

TEST_CASE("a call after shutdown_runtime and a restart uses a new connection",
          "[models][pool][lifetime]") {
  // The pool belongs to the runtime's io_context: the idle connection of the
  // first runtime is closed with it and never handed to the second.
  auto server = echo_server();
  auto model = models::chat_model(local_model(server));
  CHECK(model(Record{{"prompt", "first"}}).get<std::string>("text") == "echo: first");
  xcs::shutdown_runtime();
  CHECK(model(Record{{"prompt", "second"}}).get<std::string>("text") == "echo: second");
  auto requests = server.received();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].connection != requests[1].connection);
  CHECK(server.connections_accepted() == 2);
}

TEST_CASE("the deadline cuts a request the server never answers and closes its connection",
          "[models][deadline]") {
  TestServer server{[](const ReceivedRequest&, int) {
    ScriptedReply reply;
    reply.kind = ScriptedReply::Kind::never_answer;
    return reply;
  }};
  auto model = models::chat_model(local_model(server));
  auto scope = xcs::execution_options({.timeout_seconds = 0.3});
  auto begin = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(model(Record{{"prompt", "hello?"}}), TimeoutError);
  auto waited = std::chrono::steady_clock::now() - begin;
  // At the deadline, not after the server's wait: the lateness itself is a
  // figure for bench/, not a test (a loaded machine only adds to it).
  CHECK(waited >= 300ms);
  CHECK(waited < 5s);
  CHECK(server.wait_unanswered_connection_closed(2s));
  CHECK(server.received().size() == 1);
}

TEST_CASE("a call queued for a connection is cut by its deadline and gives its place back",
          "[models][pool][deadline]") {
  std::atomic<bool> first_answered{false};
  TestServer server{[](const ReceivedRequest&, int index) {
    return answer(openai_reply("answer " + std::to_string(index)), index == 0 ? 1000ms : 0ms);
  }};
  auto config = local_model(server);
  config.client.max_connections_per_host = 1;
  auto model = models::chat_model(config);
  // Catch2's assertions are not thread safe: the thread keeps what it saw.
  std::string first_text;
  std::thread holder{[&] {
    first_text = model(Record{{"prompt", "slow"}}).get<std::string>("text");
    first_answered = true;
  }};
  // The one connection is busy once the server has the slow request.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (server.received().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  REQUIRE(server.received().size() == 1);
  {
    auto scope = xcs::execution_options({.timeout_seconds = 0.2});
    CHECK_THROWS_AS(model(Record{{"prompt", "queued"}}), TimeoutError);
  }
  // Answered at its deadline, not when the connection came free.
  CHECK_FALSE(first_answered);
  holder.join();
  CHECK(first_text == "answer 0");
  // The cut call left the queue: the next call gets the one connection.
  CHECK(model(Record{{"prompt", "next"}}).get<std::string>("text") == "answer 1");
  CHECK(server.connections_accepted() == 1);
  CHECK(server.received().size() == 2);
}

TEST_CASE("fail_fast cuts the other requests of a batch and closes their connections",
          "[models][deadline][vmap]") {
  TestServer server{[](const ReceivedRequest& request, int) {
    ScriptedReply reply;
    if (prompt_of(request) == "bad") {
      reply.status = 400;
      reply.body = R"({"error": {"message": "bad prompt"}})";
      reply.after_requests = 4; // answers once the other three are waiting
    } else {
      reply.kind = ScriptedReply::Kind::never_answer;
    }
    return reply;
  }};
  auto config = local_model(server);
  auto model = models::chat_model(config);
  auto scope = xcs::execution_options({.max_workers = 4});
  auto begin = std::chrono::steady_clock::now();
  CHECK_THAT(error_of([&] {
               xcs::vmap(model)(Record{{"prompt", List{"a", "b", "c", "bad"}}});
             }),
             Catch::Contains("bad prompt"));
  CHECK(std::chrono::steady_clock::now() - begin < 2s);
  CHECK(server.wait_unanswered_connection_closed(2s));
}

TEST_CASE("an https endpoint answers when its certificate is trusted through ca_file",
          "[models][tls]") {
  TestServer server{[](const ReceivedRequest& request, int) {
                      return answer(openai_reply("secure: " + prompt_of(request)));
                    },
                    TestServer::Transport::tls};
  auto config = local_model(server);
  config.endpoint.ca_file = server.certificate_file();
  REQUIRE(config.endpoint.base_url.starts_with("https://127.0.0.1:"));
  auto model = models::chat_model(config);
  CHECK(model(Record{{"prompt", "a"}}).get<std::string>("text") == "secure: a");
  CHECK(model(Record{{"prompt", "b"}}).get<std::string>("text") == "secure: b");
  CHECK(server.connections_accepted() == 1); // TLS connections are kept alive too
}

TEST_CASE("an https endpoint with an untrusted certificate fails at once naming the verification",
          "[models][tls]") {
  TestServer server{[](const ReceivedRequest&, int) { return answer(openai_reply("never")); },
                    TestServer::Transport::tls};
  auto config = local_model(server); // no ca_file: the system store does not know this server
  auto model = models::chat_model(config);
  CHECK_THAT(error_of([&] {
               model(Record{{"prompt", "q"}});
             }),
             Catch::Contains("local:test-model") && Catch::Contains("TLS handshake") &&
                 Catch::Contains("certificate verify failed"));
  CHECK(server.received().empty());
  CHECK(server.connections_accepted() == 1); // not retried
}

TEST_CASE("a pooled connection the server closed is replaced without using an attempt",
          "[models][pool][retry]") {
  TestServer server{[](const ReceivedRequest& request, int) {
    auto reply = answer(openai_reply("echo: " + prompt_of(request)));
    reply.close_after = true;
    return reply;
  }};
  auto config = local_model(server);
  config.client.retry.max_attempts = 1; // no retries: only the resend can save the call
  auto model = models::chat_model(config);
  for (int i = 0; i < 3; ++i)
    CHECK(model(Record{{"prompt", std::to_string(i)}}).get<std::string>("text") ==
          "echo: " + std::to_string(i));
  CHECK(server.received().size() == 3);
  CHECK(server.connections_accepted() == 3);
}
