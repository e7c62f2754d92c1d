// The state behind the execution options: the global settings and each
// thread's stack of scopes. Kept in one translation unit (execution_context.cpp)
// so the snapshot cache and its invalidation live beside each other.
#pragma once

#include <ember/xcs/engine/execution_options.hpp>

#include <cstddef>

namespace ember::xcs::detail {

/// Validates `update` and merges it into the global settings, or throws and
/// changes nothing.
void update_global_options(const ExecutionOptionsUpdate& update);

/// Validates `update` (throwing before anything changes), pushes it onto this
/// thread's innermost scope stack and returns the depth to hand to pop_scope.
std::size_t push_scope(const ExecutionOptionsUpdate& update);
void pop_scope(std::size_t depth) noexcept;

} // namespace ember::xcs::detail
