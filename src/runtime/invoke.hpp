// One operator body, run the way the options in force say: memoized when
// enable_caching is on, recorded when trace_execution is on. Every path that
// runs a body (the facade, batch items, shards) goes through here.
#pragma once

#include <cstdint>
#include <string_view>

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

} // namespace ember::xcs::detail
