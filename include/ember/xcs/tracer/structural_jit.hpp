// structural_jit: run the independent sub-operator calls of a composite
// operator concurrently, without rewriting it.
#pragma once
#include "ember/config.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::xcs {

/// What the first call discovered: one node per sub-operator call, in call
/// order, with the earlier calls whose results fed its inputs.
struct JitPlanNode {
  std::size_t call = 0;
  std::string operator_name;
  std::vector<std::size_t> inputs_from;
};

struct JitStats {
  std::uint64_t calls = 0;
  /// Calls that found a new plan: the first, and any whose sequence of
  /// sub-operator calls differed from the cached one (data-dependent forward).
  std::uint64_t compilations = 0;
  /// Calls whose sub-operator calls matched the cached plan.
  std::uint64_t cache_hits = 0;
  std::chrono::nanoseconds last_compile_time{0};
};

/// Wraps `composite`, an operator whose forward calls sub-operators it holds
/// (OperatorRef members). Inside the wrapped forward each sub-operator call
/// returns at once with a record that is still pending and starts on the
/// executor; reading a pending record waits for it (or runs it right there if
/// it has not started, so no nesting deadlocks, even with max_workers = 1);
/// passing it to another call does not wait. The result is exactly what the
/// plain forward returns, glue code included: only the order of independent
/// sub-operator calls changes. The execution options of the call site hold
/// inside (max_workers, deadline, caching per sub-operator call, trace spans
/// nested under the composite's).
///
/// `execution_strategy`: "auto" and "parallel" run as above (auto unless
/// use_parallel = false), "sequential" runs the plain forward. Anything else
/// is std::invalid_argument naming the value and the allowed ones.
OperatorRef structural_jit(OperatorRef composite, std::string_view execution_strategy = "auto");

/// Statistics of a structural_jit operator; std::invalid_argument for others.
JitStats jit_stats(const OperatorRef& jitted);

/// The cached plan (empty before the first call).
std::vector<JitPlanNode> jit_plan(const OperatorRef& jitted);

/// The cached plan as Graphviz DOT.
std::string jit_plan_dot(const OperatorRef& jitted);

} // namespace ember::xcs
