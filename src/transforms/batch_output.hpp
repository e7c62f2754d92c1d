// Assembling a transform's output record from per-item or per-shard outputs.
// Private to the transforms.
#pragma once

#include <string>
#include <vector>

#include "ember/core/types/record.hpp"
#include "runtime/batch.hpp"

namespace ember::xcs::detail {

/// The reserved output field that lists failed items when fail_fast = false.
inline constexpr const char* errors_field = "_errors";

/// {"index": i, "message": m} records, one per failure.
List error_records(const std::vector<ItemFailure>& failures);

/// The field names of `record`, for messages: [a, b].
std::string field_names(const Record& record);

} // namespace ember::xcs::detail
