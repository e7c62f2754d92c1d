// vmap: run an operator over a batch, one call per item.
#pragma once
#include "ember/config.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::xcs {

struct VmapSpec {
  /// The batched fields. Unset: every list-valued input field. A named field
  /// that is missing or not a list is an error.
  std::optional<std::vector<std::string>> in_axes{};
  /// The batch size when no field is batched (all inputs broadcast); when
  /// fields are batched it must agree with their length.
  std::optional<std::size_t> axis_size{};
};

/// An operator that calls `op` once per item of a batch. Batched fields give
/// item i their element i; every other field is shared by all items without
/// copying. The output holds, for every output field of `op`, a list with one
/// entry per item in input order (stacking: item outputs are never flattened).
///
/// Runs under the options in force at the call: use_parallel = false runs the
/// items one at a time in order; otherwise up to max_workers bodies run at
/// once, sharing one budget with every transform nested inside the call.
/// fail_fast (default true) throws ExecutionError for the first failing item,
/// naming it; fail_fast = false runs every item, leaves null at each failed
/// item's place in the output lists and adds "_errors": a list of
/// {"index", "message"} records, so every item ends as a result or an error.
OperatorRef vmap(OperatorRef op, VmapSpec spec = {});

} // namespace ember::xcs
