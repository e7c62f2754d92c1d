// Runs the items of one transform call: the calling thread works on them
// itself while a supervisor actor recruits helpers from the executor and
// holds the deadline. Private to the transforms.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::xcs::detail {

/// One batch. Everything it needs is owned here (copies of records are
/// pointer copies): helpers may still finish an item after the caller left.
struct BatchSpec {
  std::string name;           ///< "vmap(Op)", for messages
  std::string transform;      ///< "vmap" or "pmap", for trace spans
  OperatorRef op;             ///< the operator each item calls (its kind picks the executor)
  std::size_t size = 0;       ///< number of items
  bool items_are_shards = false;
  /// The inputs of item `index`; called on any worker.
  std::function<Record(std::size_t index)> item_inputs;
};

struct ItemFailure {
  std::size_t index;
  std::string message;
};

struct BatchOutcome {
  std::vector<std::optional<Record>> results; ///< empty where an item failed
  std::vector<ItemFailure> failures;          ///< by index; only with fail_fast = false
};

/// Runs every item under the options in force. use_parallel = false runs them
/// one at a time in input order on this thread. Otherwise up to max_workers
/// bodies run at once, counted against the budget of the top-level call.
/// fail_fast (default): the first failure cancels the rest and throws
/// ExecutionError naming the transform, the item and the operator, with the
/// cause nested. Throws TimeoutError when the deadline passes and
/// CancelledError when an enclosing call is cancelled.
BatchOutcome run_batch(const BatchSpec& spec);

} // namespace ember::xcs::detail
