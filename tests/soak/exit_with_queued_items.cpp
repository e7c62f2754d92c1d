// Returns from main while operator bodies run and thousands more wait:
//   actor: 5,000 requests to an operator actor, queued in the blocking pool;
//   vmap:  a vmap of 10,000 items on another thread, items queued in its batch.
// The bodies ignore cancellation. The process must exit once the shutdown
// grace period has passed (tests/soak/exit_test.cpp measures it).
#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include <ember/xcs.hpp>
#include <ember/xcs/runtime/operator_actor.hpp>

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;

namespace {

std::atomic<int> running{0};

OperatorRef stubborn() {
  return function_operator(
      "Stubborn",
      [](const Record& in) {
        ++running;
        std::this_thread::sleep_for(60s); // never polls stop_requested
        return in;
      },
      {}, OperatorKind::io);
}

// Waits (bounded) until `count` bodies run at once.
bool bodies_running(int count) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (running < count)
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    else
      std::this_thread::sleep_for(1ms);
  return true;
}

} // namespace

int main(int argc, char** argv) {
  const int pool = static_cast<int>(runtime_config().blocking_threads);
  if (argc == 2 && std::strcmp(argv[1], "actor") == 0) {
    auto actor = spawn_operator(stubborn());
    for (int i = 0; i < 5000; ++i)
      caf::anon_send(actor, invoke_atom::value, Record{{"i", i}});
    return bodies_running(pool) ? 0 : 1;
  }
  if (argc == 2 && std::strcmp(argv[1], "vmap") == 0) {
    List xs(10'000, Value{std::int64_t{1}});
    std::thread{[xs] {
      auto scope = execution_options({.max_workers = 64});
      vmap(stubborn())(Record{{"x", xs}});
    }}.detach();
    return bodies_running(std::min(pool, 64)) ? 0 : 1;
  }
  std::cerr << "usage: exit_with_queued_items actor|vmap\n";
  return 2;
}
