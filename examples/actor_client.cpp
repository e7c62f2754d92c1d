// A message-driven CAF application: an actor requests an operator actor and
// handles the reply asynchronously; no thread blocks on the body.
#include <iostream>

#include <ember/xcs.hpp>
#include <ember/xcs/runtime/operator_actor.hpp>

using namespace ember;
using namespace ember::xcs;

int main() {
  auto scorer = function_operator(
      "Scorer", [](const Record& in) {
        return Record{{"score", static_cast<std::int64_t>(in.get<std::string>("answer").size())}};
      },
      {}, OperatorKind::io);

  caf::actor_system_config config;
  prepare_actor_system_config(config); // message types, thread marking, scheduler threads
  caf::actor_system system{config};
  attach_actor_system(system);

  auto scorer_actor = spawn_operator(system, scorer);
  auto envelope = [] {
    auto scope = execution_options({.timeout_seconds = 5.0});
    return make_envelope(); // the options travel with the request
  }();
  system.spawn([=](caf::event_based_actor* self) {
    self->request(scorer_actor, caf::infinite, invoke_atom::value,
                  Record{{"answer", "forty-two"}}, envelope)
        .then(
            [=](const Record& out) {
              std::cout << "score: " << to_json(out) << "\n";
              self->send_exit(scorer_actor, caf::exit_reason::user_shutdown);
            },
            [=](const caf::error& err) {
              std::cout << "error: " << caf::to_string(err) << "\n";
              self->send_exit(scorer_actor, caf::exit_reason::user_shutdown);
            });
  });
  system.await_all_actors_done();
  shutdown_runtime(); // before `system` goes out of scope
}
