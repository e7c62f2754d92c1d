#include "ember/core/types/record_inspect.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>

#include <caf/sec.hpp>

namespace ember::detail {
namespace {

caf::error too_deep() {
  return caf::make_error(caf::sec::invalid_argument, "ember::Value nested deeper than " +
                                                         std::to_string(max_serialized_depth) +
                                                         " levels");
}

caf::error save_entries(caf::serializer& sink, const Record& record, std::size_t depth);
caf::error load_entries(caf::deserializer& source, Record& record, std::size_t depth);

caf::error save_value(caf::serializer& sink, const Value& value, std::size_t depth) {
  auto tag = static_cast<std::uint8_t>(value.kind());
  if (auto error = sink(tag))
    return error;
  switch (value.kind()) {
  case ValueKind::null:
    return caf::none;
  case ValueKind::boolean: {
    bool x = value.as_bool();
    return sink(x);
  }
  case ValueKind::integer: {
    std::int64_t x = value.as_integer();
    return sink(x);
  }
  case ValueKind::number: {
    auto bits = std::bit_cast<std::uint64_t>(value.as_number());
    return sink(bits);
  }
  case ValueKind::string:
    // CAF's serializer takes mutable references even when it only reads.
    return sink(const_cast<std::string&>(value.as_string()));
  case ValueKind::list: {
    if (depth + 1 > max_serialized_depth)
      return too_deep();
    const List& list = value.as_list();
    std::size_t size = list.size();
    if (auto error = sink.begin_sequence(size))
      return error;
    for (const Value& item : list)
      if (auto error = save_value(sink, item, depth + 1))
        return error;
    return sink.end_sequence();
  }
  case ValueKind::record:
    return save_entries(sink, value.as_record(), depth + 1);
  }
  return caf::none;
}

caf::error save_entries(caf::serializer& sink, const Record& record, std::size_t depth) {
  if (depth > max_serialized_depth)
    return too_deep();
  std::size_t size = record.size();
  if (auto error = sink.begin_sequence(size))
    return error;
  for (const auto& [key, value] : record) {
    if (auto error = sink(const_cast<std::string&>(key)))
      return error;
    if (auto error = save_value(sink, value, depth))
      return error;
  }
  return sink.end_sequence();
}

// A hostile size must not make us allocate: grow as items actually arrive.
constexpr std::size_t max_reserve = 1024;

caf::error load_value(caf::deserializer& source, Value& value, std::size_t depth) {
  std::uint8_t tag = 0;
  if (auto error = source(tag))
    return error;
  switch (static_cast<ValueKind>(tag)) {
  case ValueKind::null:
    value = Value();
    return caf::none;
  case ValueKind::boolean: {
    bool x = false;
    auto error = source(x);
    value = x;
    return error;
  }
  case ValueKind::integer: {
    std::int64_t x = 0;
    auto error = source(x);
    value = x;
    return error;
  }
  case ValueKind::number: {
    std::uint64_t bits = 0;
    auto error = source(bits);
    value = std::bit_cast<double>(bits);
    return error;
  }
  case ValueKind::string: {
    std::string x;
    auto error = source(x);
    value = std::move(x);
    return error;
  }
  case ValueKind::list: {
    if (depth + 1 > max_serialized_depth)
      return too_deep();
    std::size_t size = 0;
    if (auto error = source.begin_sequence(size))
      return error;
    List list;
    list.reserve(std::min(size, max_reserve));
    for (std::size_t i = 0; i < size; ++i)
      if (auto error = load_value(source, list.emplace_back(), depth + 1))
        return error;
    value = std::move(list);
    return source.end_sequence();
  }
  case ValueKind::record: {
    Record record;
    auto error = load_entries(source, record, depth + 1);
    value = std::move(record);
    return error;
  }
  }
  return caf::make_error(caf::sec::invalid_argument,
                         "unknown ember::Value tag " + std::to_string(tag));
}

caf::error load_entries(caf::deserializer& source, Record& record, std::size_t depth) {
  if (depth > max_serialized_depth)
    return too_deep();
  std::size_t size = 0;
  if (auto error = source.begin_sequence(size))
    return error;
  std::vector<Record::Entry> entries;
  entries.reserve(std::min(size, max_reserve));
  for (std::size_t i = 0; i < size; ++i) {
    auto& [key, value] = entries.emplace_back();
    if (auto error = source(key))
      return error;
    if (auto error = load_value(source, value, depth))
      return error;
  }
  record = Record(std::move(entries));
  return source.end_sequence();
}

} // namespace

caf::error save(caf::serializer& sink, const Value& value) { return save_value(sink, value, 0); }

caf::error save(caf::serializer& sink, const Record& record) {
  return save_entries(sink, record, 1);
}

caf::error load(caf::deserializer& source, Value& value) { return load_value(source, value, 0); }

caf::error load(caf::deserializer& source, Record& record) {
  return load_entries(source, record, 1);
}

} // namespace ember::detail
