#include "transforms/batch_output.hpp"

#include <string_view>

#include <range/v3/range/conversion.hpp>
#include <range/v3/view/join.hpp>
#include <range/v3/view/map.hpp>

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
  return "[" + (record | ranges::views::keys | ranges::views::join(std::string_view{", "}) |
                 ranges::to<std::string>) +
         "]";
}

} // namespace ember::xcs::detail
