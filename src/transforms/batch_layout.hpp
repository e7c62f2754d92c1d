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

/// The inputs of the shard [begin, end): batched fields hold that slice.
Record shard_inputs(const Record& inputs, const BatchLayout& layout, std::size_t begin,
                    std::size_t end);

} // namespace ember::xcs::detail
