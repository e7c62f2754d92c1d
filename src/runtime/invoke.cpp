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

void run_async(const AsyncOperator& op, const Record& inputs, const CallContext& context,
               const BodyLabel& label, Completion::Deliver deliver) {
  CallContext body_context = context;
  // Outputs are checked before the span ends and before the cache stores
  // them. The operator stays alive while its body runs: a body may end after
  // the call that started it (an operator that no shared_ptr owns lives on
  // the stack of a caller that waits for it).
  deliver = [op = &op, keep = op.weak_from_this().lock(),
             inner = std::move(deliver)](Record* outputs, std::exception_ptr error) {
    if (outputs != nullptr) {
      try {
        op->specification().validate_outputs(op->name(), *outputs);
      } catch (...) {
        return inner(nullptr, std::current_exception());
      }
    }
    inner(outputs, std::move(error));
  };
  if (context.options->trace_execution) {
    auto span = execution_trace().begin_span(context.span, op.name(), label.transform, label.item,
                                             label.shard);
    body_context.span = span;
    deliver = [span, inner = std::move(deliver)](Record* outputs, std::exception_ptr error) {
      execution_trace().end_span(span, error != nullptr);
      inner(outputs, std::move(error));
    };
  }
  Completion done{std::move(deliver), context.stop};
  CallScope scope{body_context};
  try {
    op.start(inputs, done);
  } catch (...) {
    done.fail(std::current_exception());
  }
}

} // namespace

void start_async_body(const AsyncOperator& op, const Record& inputs, const CallContext& context,
                      const BodyLabel& label, Completion::Deliver deliver) {
  if (!context.options->enable_caching || !op.memoizable())
    return run_async(op, inputs, context, label, std::move(deliver));
  result_cache().get_or_start(
      op, inputs,
      [&](ResultCache::Done end) {
        run_async(op, inputs, context, label,
                  [end = std::move(end), stop = context.stop,
                   name = op.name()](Record* outputs, std::exception_ptr error) {
                    if (outputs != nullptr && stop.stop_requested())
                      return end(nullptr, std::make_exception_ptr(CancelledError(
                                              "operator '" + name +
                                              "' was cancelled; its result is not cached")));
                    end(outputs, std::move(error));
                  });
      },
      std::move(deliver));
}

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
