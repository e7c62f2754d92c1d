#include <ember/xcs/engine/execution_options.hpp>

#include <ember/xcs/engine/execution_context.hpp>
#include <ember/xcs/engine/option_parsing.hpp>

#include "engine/option_fields.hpp"
#include "engine/options_state.hpp"

namespace ember::xcs {

ExecutionOptions merge(const ExecutionOptions& base, const ExecutionOptionsUpdate& update) {
  detail::validate_update(update);
  ExecutionOptions merged = base;
  if (update.use_parallel) {
    merged.use_parallel = *update.use_parallel;
  } else if (update.scheduler && *update.scheduler == "sequential") {
    // The legacy spelling of sequential execution, kept for older callers;
    // an explicit use_parallel in the same update says what the caller means.
    merged.use_parallel = false;
  }
  if (update.max_workers) {
    merged.max_workers = *update.max_workers;
  }
  if (update.device_strategy) {
    merged.device_strategy = *update.device_strategy;
  }
  if (update.enable_caching) {
    merged.enable_caching = *update.enable_caching;
  }
  if (update.trace_execution) {
    merged.trace_execution = *update.trace_execution;
  }
  if (update.timeout_seconds) {
    merged.timeout_seconds = *update.timeout_seconds;
  }
  if (update.scheduler) {
    merged.scheduler = *update.scheduler;
  }
  if (update.fail_fast) {
    merged.fail_fast = *update.fail_fast;
  }
  return merged;
}

ExecutionOptionsScope::ExecutionOptionsScope(const ExecutionOptionsUpdate& update)
    : depth_(detail::push_scope(update)) {}

ExecutionOptionsScope::~ExecutionOptionsScope() { detail::pop_scope(depth_); }

ExecutionOptionsScope execution_options(const ExecutionOptionsUpdate& update) {
  return ExecutionOptionsScope(update);
}

template <std::same_as<StringOptions> Options>
ExecutionOptionsScope execution_options(const Options& options) {
  return ExecutionOptionsScope(parse_execution_options(options));
}
template ExecutionOptionsScope execution_options(const StringOptions&);

void set_execution_options(const ExecutionOptionsUpdate& update) {
  detail::update_global_options(update);
}

template <std::same_as<StringOptions> Options>
void set_execution_options(const Options& options) {
  detail::update_global_options(parse_execution_options(options));
}
template void set_execution_options(const StringOptions&);

ExecutionOptions get_execution_options() { return *current_execution_snapshot(); }

} // namespace ember::xcs
