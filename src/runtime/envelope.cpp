#include "ember/xcs/runtime/envelope.hpp"

#include <algorithm>

#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/runtime/operator_actor.hpp"
#include "runtime/call_context.hpp"

namespace ember::xcs {

Envelope make_envelope() {
  auto options = current_execution_snapshot();
  auto deadline = detail::deadline_for(options);
  return Envelope{std::move(options), deadline};
}

namespace detail {

EnvelopeFields to_fields(const Envelope& envelope) {
  EnvelopeFields fields;
  if (envelope.options) {
    const auto& o = *envelope.options;
    fields.use_parallel = o.use_parallel;
    fields.max_workers = o.max_workers.value_or(-1);
    fields.device_strategy = o.device_strategy;
    fields.enable_caching = o.enable_caching;
    fields.trace_execution = o.trace_execution;
    fields.timeout_seconds = o.timeout_seconds.value_or(-1);
    fields.scheduler = o.scheduler.value_or("");
    fields.fail_fast = o.fail_fast;
  }
  if (envelope.deadline) {
    auto left = *envelope.deadline - this_call::Clock::now();
    fields.remaining_ns = std::max<std::int64_t>(0, left.count());
  }
  return fields;
}

Envelope from_fields(const EnvelopeFields& fields) {
  ExecutionOptions options;
  options.use_parallel = fields.use_parallel;
  if (fields.max_workers > 0)
    options.max_workers = fields.max_workers;
  if (!fields.device_strategy.empty())
    options.device_strategy = fields.device_strategy;
  options.enable_caching = fields.enable_caching;
  options.trace_execution = fields.trace_execution;
  if (fields.timeout_seconds > 0)
    options.timeout_seconds = fields.timeout_seconds;
  if (!fields.scheduler.empty())
    options.scheduler = fields.scheduler;
  options.fail_fast = fields.fail_fast;
  Envelope envelope{std::make_shared<const ExecutionOptions>(std::move(options)), std::nullopt};
  if (fields.remaining_ns >= 0) {
    // Saturates: a remaining time past the clock's range is no deadline at all.
    auto now = this_call::Clock::now();
    auto room = this_call::Clock::time_point::max() - now;
    envelope.deadline = fields.remaining_ns >= room.count()
                            ? this_call::Clock::time_point::max()
                            : now + this_call::Clock::duration{fields.remaining_ns};
  }
  return envelope;
}

} // namespace detail
} // namespace ember::xcs
