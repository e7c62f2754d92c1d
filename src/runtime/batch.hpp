// A batch of units handed to the runtime by a transform: what each unit
// runs, where its inputs come from, and what comes back. Private to the
// runtime and the transforms.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ember/core/registry/operator/base/operator_ref.hpp"
#include "runtime/call_context.hpp"

namespace ember::xcs::detail {

/// One batch. Everything it needs is owned here (copies of records are
/// pointer copies): workers may still finish an item after the caller left.
struct BatchSpec {
  std::string name;           ///< "vmap(Op)", for messages
  std::string transform;      ///< "vmap" or "pmap", for trace spans
  OperatorRef op;             ///< the operator each item calls (its kind picks the executor)
  std::size_t size = 0;       ///< number of items
  bool items_are_shards = false;
  /// The inputs of item `index`; called on any worker.
  std::function<Record(std::size_t index)> item_inputs;
  /// Optional: makes the item_inputs one worker calls for all the items it
  /// runs (vmap's give each worker its own copies of the broadcast values).
  std::function<std::function<Record(std::size_t index)>()> worker_item_inputs{};
  /// Optional: takes item `index`'s result on the worker that ran it (vmap
  /// stacks it into its output lists there, so the calling thread neither
  /// stacks nor frees it). Returns false to leave it in BatchOutcome::results.
  std::function<bool(std::size_t index, Record& result)> absorb{};
};

struct ItemFailure {
  std::size_t index;
  std::string message;
};

struct BatchOutcome {
  /// Empty where an item failed or was absorbed; with absorb, an empty
  /// vector when every result was absorbed.
  std::vector<std::optional<Record>> results;
  std::vector<ItemFailure> failures;          ///< by index; only with fail_fast = false
};

/// The context a batch made here runs under: the options in force, the
/// deadline they imply, the enclosing call's budget (narrowed by a smaller
/// max_workers) or a new one, the enclosing span. Throws TimeoutError when
/// the deadline has already passed.
CallContext batch_context(const BatchSpec& spec, const ExecutionSnapshot& options);

/// "vmap(Op) timed out: the deadline of timeout_seconds=0.1 passed with 3 of
/// 8 items unfinished"; none unfinished means the stop cut bodies short.
std::string batch_timeout_message(const BatchSpec& spec, const ExecutionOptions& options,
                                  std::size_t unfinished);

/// The error that fails a batch fast for item `index`: ExecutionError naming
/// the batch, the item and the operator with `cause` nested; a TimeoutError
/// or CancelledError cause passes through unchanged.
std::exception_ptr item_failure(const BatchSpec& spec, std::size_t index,
                                const std::exception_ptr& cause);

} // namespace ember::xcs::detail
