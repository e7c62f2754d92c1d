#include "transforms/batch_layout.hpp"

#include <algorithm>

#include <stdexcept>

#include <range/v3/action/sort.hpp>
#include <range/v3/action/unique.hpp>
#include <range/v3/algorithm/all_of.hpp>
#include <range/v3/range/conversion.hpp>
#include <range/v3/view/filter.hpp>
#include <range/v3/view/join.hpp>
#include <range/v3/view/map.hpp>
#include <range/v3/view/transform.hpp>

namespace ember::xcs::detail {
namespace {

std::string prefix(std::string_view transform, std::string_view operator_name) {
  return std::string{transform} + "(" + std::string{operator_name} + "): ";
}

std::vector<std::string> batched_fields(std::string_view where, const Record& inputs,
                                        const std::optional<std::vector<std::string>>& in_axes) {
  if (!in_axes)
    return inputs | ranges::views::filter([](const auto& entry) { return entry.second.is_list(); }) |
           ranges::views::keys | ranges::to<std::vector<std::string>>;
  for (const auto& name : *in_axes) {
    const Value* value = inputs.find(name);
    if (value == nullptr)
      throw std::invalid_argument(std::string{where} + "in_axes names field '" + name +
                                  "', which the inputs do not have");
    if (!value->is_list())
      throw std::invalid_argument(std::string{where} + "in_axes names field '" + name +
                                  "', which is " + std::string{describe(value->kind())} +
                                  ", not a list");
  }
  return *in_axes | ranges::to<std::vector<std::string>> | ranges::actions::sort |
         ranges::actions::unique;
}

} // namespace

BatchLayout batch_layout(std::string_view transform, std::string_view operator_name,
                         const Record& inputs, const std::optional<std::vector<std::string>>& in_axes,
                         std::optional<std::size_t> axis_size) {
  auto where = prefix(transform, operator_name);
  BatchLayout layout{batched_fields(where, inputs, in_axes), 0};
  if (layout.batched.empty()) {
    if (!axis_size)
      throw std::invalid_argument(where + "no batched field: the inputs hold no list" +
                                  (in_axes ? std::string{" named by in_axes"} : std::string{}) +
                                  "; pass axis_size to run a batch of broadcast inputs");
    // The output lists hold one entry per item: past their limit the batch
    // would only fail later with std::length_error naming nothing.
    if (*axis_size > List{}.max_size())
      throw std::invalid_argument(where + "axis_size is " + std::to_string(*axis_size) +
                                  ", more items than a list can hold (allowed: at most " +
                                  std::to_string(List{}.max_size()) + ")");
    layout.size = *axis_size;
    return layout;
  }
  auto length_of = [&](const std::string& name) { return inputs.at(name).as_list().size(); };
  std::size_t first = length_of(layout.batched.front());
  auto lengths = layout.batched | ranges::views::transform([&](const std::string& name) {
                   return name + "=" + std::to_string(length_of(name));
                 }) |
                 ranges::views::join(std::string_view{", "}) | ranges::to<std::string>;
  if (!ranges::all_of(layout.batched, [&](const auto& name) { return length_of(name) == first; }))
    throw std::invalid_argument(where + "batched fields have different lengths: " + lengths);
  if (axis_size && *axis_size != first)
    throw std::invalid_argument(where + "axis_size is " + std::to_string(*axis_size) +
                                " but the batched fields have length " + std::to_string(first) +
                                " (" + lengths + ")");
  layout.size = first;
  return layout;
}

Record item_inputs(const Record& inputs, const BatchLayout& layout, std::size_t index) {
  // A batched field's list is never copied (its shared count would be
  // touched by every worker for every item), only its element.
  std::vector<Record::Entry> entries;
  entries.reserve(inputs.size());
  auto batched = layout.batched.begin();
  for (const auto& [key, value] : inputs) {
    if (batched != layout.batched.end() && key == *batched) {
      entries.emplace_back(key, value.as_list()[index]);
      ++batched;
    } else {
      entries.emplace_back(key, value);
    }
  }
  return Record{std::move(entries)};
}

Record worker_inputs(const Record& inputs, const BatchLayout& layout) {
  std::vector<Record::Entry> entries;
  entries.reserve(inputs.size());
  for (const auto& [key, value] : inputs) {
    bool batched = std::binary_search(layout.batched.begin(), layout.batched.end(), key);
    bool copied = !batched && value.is_string() && value.as_string().size() <= worker_copy_limit;
    entries.emplace_back(key, copied ? Value{std::string{value.as_string()}} : value);
  }
  return Record{std::move(entries)};
}

Record shard_inputs(const Record& inputs, const BatchLayout& layout, std::size_t begin,
                    std::size_t end) {
  std::vector<Record::Entry> entries(inputs.begin(), inputs.end());
  auto batched = layout.batched.begin();
  for (auto& [key, value] : entries) {
    if (batched != layout.batched.end() && key == *batched) {
      const auto& list = value.as_list();
      value = Value{List(list.begin() + static_cast<std::ptrdiff_t>(begin),
                         list.begin() + static_cast<std::ptrdiff_t>(end))};
      ++batched;
    }
  }
  return Record{std::move(entries)};
}

} // namespace ember::xcs::detail
