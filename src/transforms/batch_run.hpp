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

#include "ember/core/registry/operator/base/operator_base.hpp"

namespace ember::xcs::detail {

struct BatchSpec {
  std::string transform;      ///< "vmap(Op)", for messages
  const Operator* op;         ///< the operator each item calls (its kind picks the executor)
  std::size_t size;           ///< number of items
  /// Runs item `index`; called on any worker, under the call's context.
  std::function<Record(std::size_t index)> run_item;
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
