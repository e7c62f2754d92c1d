// The typed CAF interface of an operator, for message-driven applications.
// The one public header that includes CAF.
#pragma once
#include "ember/config.hpp"

#include <caf/all.hpp>

#include "ember/core/registry/operator/base/operator_ref.hpp"
#include "ember/core/types/record_inspect.hpp"
#include "ember/xcs/runtime/envelope.hpp"

namespace ember::xcs {

/// Errors delivered by operator actors, in the caf::error category "ember".
/// The error's context holds the same sentence the synchronous facade throws.
enum class ErrorCode : std::uint8_t {
  validation = 1, ///< inputs or outputs broke the Specification
  timeout,        ///< the deadline passed first
  execution,      ///< the body threw
  unavailable,    ///< the runtime was shut down before the body ran
};

caf::atom_value error_category() noexcept;
std::string to_string(ErrorCode code);
caf::error make_error(ErrorCode code, std::string message);

/// Throws the exception of the facade's error family that `error` stands for
/// (TimeoutError, ValidationError as ExecutionError text, ...); an error of
/// another category is an ExecutionError with CAF's text, and an empty
/// caf::error (no error at all) std::invalid_argument.
[[noreturn]] void throw_error(const caf::error& error);

} // namespace ember::xcs

CAF_BEGIN_TYPE_ID_BLOCK(ember_xcs, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(ember_xcs, (ember::Record))
  CAF_ADD_TYPE_ID(ember_xcs, (ember::xcs::Envelope))
  CAF_ADD_ATOM(ember_xcs, ember::xcs, invoke_atom, "invoke")
CAF_END_TYPE_ID_BLOCK(ember_xcs)

namespace ember::xcs {

/// Request (invoke, record) or (invoke, record, envelope); the reply is the
/// output record or an ember error. Without an envelope the global options
/// in force when the request arrives apply.
using OperatorActor = caf::typed_actor<
  caf::replies_to<invoke_atom, ember::Record>::with<ember::Record>,
  caf::replies_to<invoke_atom, ember::Record, Envelope>::with<ember::Record>>;

/// Spawns `op` as an actor on ember-xcs's actor system. The actor never runs
/// the body on a scheduler thread: bodies go to the blocking pool and the
/// reply comes back when the body ends or the deadline passes.
OperatorActor spawn_operator(const OperatorRef& op);

/// Same, on `system` (which must have gone through prepare_actor_system_config).
OperatorActor spawn_operator(caf::actor_system& system, const OperatorRef& op);

namespace detail {

/// An Envelope as plain fields CAF can serialize (-1 or "" stand for none).
struct EnvelopeFields {
  bool use_parallel = true;
  std::int32_t max_workers = -1;
  std::string device_strategy;
  bool enable_caching = false;
  bool trace_execution = false;
  double timeout_seconds = -1;
  std::string scheduler;
  std::int64_t remaining_ns = -1; ///< time left until the deadline, never negative
  bool fail_fast = true;
};

EnvelopeFields to_fields(const Envelope& envelope);
Envelope from_fields(const EnvelopeFields& fields);

} // namespace detail

/// Envelope serialization for CAF: the options travel as their fields, the
/// deadline as the nanoseconds remaining when the envelope is written; the
/// reader adds them to its own clock, so no two hosts need to agree on one.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Envelope& x) {
  auto fields = detail::to_fields(x);
  auto rebuild = caf::meta::load_callback([&]() -> caf::error {
    x = detail::from_fields(fields);
    return caf::none;
  });
  return f(caf::meta::type_name("ember::xcs::Envelope"), fields.use_parallel, fields.max_workers,
           fields.device_strategy, fields.enable_caching, fields.trace_execution,
           fields.timeout_seconds, fields.scheduler, fields.remaining_ns, fields.fail_fast,
           rebuild);
}

} // namespace ember::xcs
