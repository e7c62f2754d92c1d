#include "runtime/invoke.hpp"

#include "ember/core/exceptions.hpp"
#include "ember/xcs/engine/result_cache.hpp"
#include "ember/xcs/tracer/execution_trace.hpp"
#include "runtime/call_context.hpp"

namespace ember::xcs::detail {
namespace {

Record traced(const Operator& op, const Record& inputs, const ExecutionSnapshot& options,
              const BodyLabel& label) {
  if (!options->trace_execution)
    return op.call_validated(inputs);
  const CallContext* parent = current_call_context();
  ScopedSpan span{true, parent != nullptr ? parent->span : 0, op.name(), label.transform,
                  label.item, label.shard};
  // Calls made by this body record this span as their parent.
  CallContext child = parent != nullptr ? *parent : CallContext{options, std::nullopt, {}, {}, 0};
  child.options = options; // a scope the caller opened stays in force
  child.span = span.id();
  CallScope scope{child};
  return op.call_validated(inputs);
}

} // namespace

Record invoke_body(const Operator& op, const Record& inputs, const ExecutionSnapshot& options,
                   const BodyLabel& label) {
  if (options->enable_caching && op.memoizable()) {
    const CallContext* caller = current_call_context();
    auto stop = caller != nullptr ? caller->stop : std::stop_token{};
    // Bounded: a body that throws CancelledError by itself must not loop.
    for (int attempt = 1;; ++attempt) {
      try {
        return result_cache().get_or_compute(op, inputs, [&] {
          auto result = traced(op, inputs, options, label);
          // A body stopped by its deadline may return early with a partial
          // result: never memoize that.
          if (const CallContext* context = current_call_context();
              context != nullptr && context->stop.stop_requested())
            throw CancelledError("operator '" + op.name() +
                                 "' was cancelled; its result is not cached");
          return result;
        });
      } catch (const CancelledError&) {
        // Joined another call's computation that was cancelled: that is not
        // this call's outcome; compute afresh unless this call is stopped too.
        if (stop.stop_requested() || attempt == 3)
          throw;
      }
    }
  }
  return traced(op, inputs, options, label);
}

} // namespace ember::xcs::detail
