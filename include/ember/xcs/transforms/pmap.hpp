// pmap: shard a batch over workers, one call of the operator per shard.
#pragma once
#include "ember/config.hpp"

#include <optional>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::xcs {

/// An operator that splits the batched (list-valued) input fields into
/// k = min(num_workers, n) contiguous shards whose sizes differ by at most
/// one, calls `op` once per shard concurrently (non-batched fields go to every
/// shard) and concatenates the shards' list outputs in shard order; an output
/// field that is not a list becomes a list with one entry per shard.
/// `num_workers` unset: the number of cores. `pmap(vmap(op))` is the common
/// form. Failures and options behave as for vmap, per shard.
OperatorRef pmap(OperatorRef op, std::optional<int> num_workers = std::nullopt);

} // namespace ember::xcs
