// What a message-driven application does: an event-based actor requests an
// operator actor and handles the reply later; nothing blocks. Shared by the
// runtime and bad-input tests.
#pragma once

#include <future>
#include <memory>
#include <optional>

#include "ember/xcs/runtime/operator_actor.hpp"
#include "ember/xcs/runtime/runtime.hpp"

namespace ember::testing {

/// The future holds the reply, or the exception throw_error gives for the
/// error reply.
inline std::future<Record> request_from_actor(xcs::OperatorActor target, Record inputs,
                                              std::optional<xcs::Envelope> envelope = std::nullopt) {
  auto promise = std::make_shared<std::promise<Record>>();
  auto future = promise->get_future();
  xcs::actor_system().spawn([=](caf::event_based_actor* self) {
    auto on_reply = [=](Record& out) { promise->set_value(std::move(out)); };
    auto on_error = [=](caf::error& err) {
      try {
        xcs::throw_error(err);
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    };
    if (envelope)
      self->request(target, caf::infinite, xcs::invoke_atom::value, inputs, *envelope)
          .then(on_reply, on_error);
    else
      self->request(target, caf::infinite, xcs::invoke_atom::value, inputs)
          .then(on_reply, on_error);
  });
  return future;
}

} // namespace ember::testing
