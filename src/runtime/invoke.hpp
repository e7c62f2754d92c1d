// One operator body, run the way the options in force say: memoized when
// enable_caching is on, recorded when trace_execution is on. Every path that
// runs a body (the facade, batch items, shards, operator actors) goes
// through here, synchronous and asynchronous bodies alike.
#pragma once

#include <cstdint>
#include <string_view>

#include "ember/core/registry/operator/base/async_operator.hpp"
#include "ember/core/registry/operator/base/operator_base.hpp"
#include "ember/xcs/engine/execution_context.hpp"

namespace ember::xcs::detail {

/// Where a body sits in its call, for the trace.
struct BodyLabel {
  std::string_view transform;
  std::int64_t item = -1;
  std::int64_t shard = -1;
};

/// Runs `op` on `inputs` (validated) under `options`, on this thread.
Record invoke_body(const Operator& op, const Record& inputs, const ExecutionSnapshot& options,
                   const BodyLabel& label = {});

struct CallContext;

/// Starts the asynchronous body of `op` on `inputs` (validated) under
/// `context`, whose stop token reaches the body's Completion. With caching on
/// it goes through the cache (a stored result or an identical body in flight
/// answers without a body of its own; a result reported after the stop is
/// not stored); with tracing on it is a span under `context.span`. `deliver`
/// hears the end exactly once, from any thread, also when start throws.
void start_async_body(const AsyncOperator& op, const Record& inputs, const CallContext& context,
                      const BodyLabel& label, Completion::Deliver deliver);

} // namespace ember::xcs::detail
