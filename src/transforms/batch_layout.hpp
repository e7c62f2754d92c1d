// Which fields of a transform's input are batched, and the records of one
// item or one shard. Private to the transforms.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ember/core/types/record.hpp"

namespace ember::xcs::detail {

struct BatchLayout {
  std::vector<std::string> batched; ///< sorted, as the record's keys are
  std::size_t size = 0;
};

/// Batched fields are the list-valued ones, or exactly `in_axes` when given
/// (each must exist and hold a list). Throws std::invalid_argument naming the
/// transform, the operator and the offending fields and lengths: no batched
/// field without `axis_size`, lengths that differ, a named field that is not
/// a list, an axis_size that disagrees with the lists.
BatchLayout batch_layout(std::string_view transform, std::string_view operator_name,
                         const Record& inputs, const std::optional<std::vector<std::string>>& in_axes,
                         std::optional<std::size_t> axis_size);

/// The inputs of item `index`: batched fields hold their element, the others
/// are shared with `inputs` (pointer copies).
Record item_inputs(const Record& inputs, const BatchLayout& layout, std::size_t index);

/// Broadcast strings up to this size are copied once per worker of a batch.
inline constexpr std::size_t worker_copy_limit = 256;

/// `inputs` for one worker of a batch: its broadcast strings of up to
/// worker_copy_limit bytes are the worker's own copies. Items share their
/// broadcast values with the record they are sliced from, and a string's
/// shared count, touched by every item of every worker, costs cheap bodies
/// more than their work (two workers were slower than one). Longer strings,
/// lists and records stay shared: copying them could cost more than it saves.
Record worker_inputs(const Record& inputs, const BatchLayout& layout);

/// The inputs of the shard [begin, end): batched fields hold that slice.
Record shard_inputs(const Record& inputs, const BatchLayout& layout, std::size_t begin,
                    std::size_t end);

} // namespace ember::xcs::detail
