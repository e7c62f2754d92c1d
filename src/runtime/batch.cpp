#include "runtime/batch.hpp"

#include "ember/core/exceptions.hpp"
#include "runtime/executors.hpp"
#include "runtime/failure.hpp"

namespace ember::xcs::detail {

CallContext batch_context(const BatchSpec& spec, const ExecutionSnapshot& options) {
  const CallContext* parent = current_call_context();
  auto device = device_for(*options, spec.op->kind());
  CallContext context{options, deadline_for(options), {},
                      budget_for(parent != nullptr ? parent->budget : nullptr,
                                 options->max_workers, default_workers(device)),
                      parent != nullptr ? parent->span : 0};
  if (context.deadline && this_call::Clock::now() >= *context.deadline)
    throw TimeoutError(spec.name + " timed out: the deadline of " + deadline_source(*options) +
                       " passed before it started");
  return context;
}

std::string batch_timeout_message(const BatchSpec& spec, const ExecutionOptions& options,
                                  std::size_t unfinished) {
  std::string noun = spec.items_are_shards ? "shard" : "item";
  std::string plural = spec.size == 1 ? "" : "s";
  std::string message =
      spec.name + " timed out: the deadline of " + deadline_source(options) + " passed ";
  if (unfinished == 0)
    return message + "and stopped its " + noun + plural;
  return message + "with " + std::to_string(unfinished) + " of " + std::to_string(spec.size) +
         " " + noun + plural + " unfinished";
}

std::exception_ptr item_failure(const BatchSpec& spec, std::size_t index,
                                const std::exception_ptr& cause) {
  try {
    rethrow_as_execution_error(cause, spec.name + ": item " + std::to_string(index) + " of " +
                                          std::to_string(spec.size) + " failed in operator '" +
                                          spec.op->name() + "'");
  } catch (...) {
    return std::current_exception();
  }
}

} // namespace ember::xcs::detail
