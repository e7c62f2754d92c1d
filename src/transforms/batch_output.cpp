#include "transforms/batch_output.hpp"

namespace ember::xcs::detail {

List error_records(const std::vector<ItemFailure>& failures) {
  List errors;
  errors.reserve(failures.size());
  for (const auto& failure : failures)
    errors.emplace_back(Record{{"index", static_cast<std::int64_t>(failure.index)},
                               {"message", failure.message}});
  return errors;
}

std::string field_names(const Record& record) {
  std::string names;
  for (const auto& [key, value] : record)
    names += (names.empty() ? "" : ", ") + key;
  return "[" + names + "]";
}

} // namespace ember::xcs::detail
