// The record data model: the JSON-like values that operators exchange.
//
// Values and records are immutable and share their storage between copies, so
// copying a record or broadcasting one field to N batch items copies pointers,
// never strings or lists. A Record is changed only through its own handle
// (`set`, `erase`), which copies the storage first when another handle shares
// it (copy-on-write). Sharing is thread-safe: a Value or Record may be read by
// any number of threads while other copies of it are changed.
#pragma once
#include "ember/config.hpp"

#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "ember/core/exceptions.hpp"

namespace ember {

enum class ValueKind { null, boolean, integer, number, string, list, record };

/// The kind as an English noun phrase for error messages: "a string", "an integer".
std::string_view describe(ValueKind kind) noexcept;

/// Deepest nesting of lists and records that the serialized forms accept:
/// to_json, the JSON parsers and CAF serialization fail with an error past it,
/// so that untrusted input cannot exhaust the stack. `[[1]]` has depth 2.
inline constexpr std::size_t max_serialized_depth = 1000;

class Value;
class Record;
using List = std::vector<Value>;

namespace detail {
class PendingRecord;
Record make_pending_record(std::shared_ptr<PendingRecord> pending);
PendingRecord* pending_of(const Record& record) noexcept;
} // namespace detail

/// Keys to values, kept in ascending key order (the canonical order, so equal
/// records iterate, print and hash alike). An empty Record allocates nothing.
class Record {
public:
  using Entry = std::pair<std::string, Value>;
  using value_type = Entry;
  using const_iterator = const Entry*;

  Record() noexcept = default;
  /// Record{{"text", "hi"}, {"n", 3}}; a key given twice keeps its last value.
  Record(std::initializer_list<std::pair<const std::string, Value>> entries);
  /// Takes entries in any order; a key given twice keeps its last value.
  explicit Record(std::vector<Entry> entries);

  Record(const Record&) noexcept = default;
  Record(Record&&) noexcept = default;
  Record& operator=(const Record&) noexcept = default;
  Record& operator=(Record&&) noexcept = default;
  // Tears down deeply nested values without recursion (see Value::~Value).
  ~Record() {
    if (impl_)
      tear_down();
  }

  // Reading a record that structural_jit left pending waits for its value and
  // rethrows its failure; hence no noexcept on the readers.
  bool empty() const { return view() == nullptr; }
  std::size_t size() const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  /// The value under `key`, or nullptr when absent.
  const Value* find(std::string_view key) const;
  /// The value under `key`; a missing key throws FieldError "field 'key' is missing".
  const Value& at(std::string_view key) const;

  /// The field converted to T, one of bool, std::int64_t, int, double,
  /// std::string, List, Record or Value. A field of another kind throws
  /// FieldError "field 'key' is a number, expected a string". double accepts
  /// integers too; int rejects integers outside its range.
  template <class T>
  T get(std::string_view key) const;

  /// Sets `key` to `value`. Copies the storage first if another Record shares
  /// it, so copies never see the change. References into this record are
  /// invalidated.
  Record& set(std::string key, Value value);
  /// A copy with `key` set to `value`; this record is unchanged.
  Record with(std::string key, Value value) const;
  /// Removes `key` if present (copy-on-write like set).
  Record& erase(std::string_view key);

  const_iterator begin() const;
  const_iterator end() const;

  friend bool operator==(const Record& lhs, const Record& rhs);

  /// How many Records share this storage; 0 for an empty record, which has none.
  std::size_t use_count() const noexcept { return static_cast<std::size_t>(impl_.use_count()); }

private:
  friend class Value;
  friend Record detail::make_pending_record(std::shared_ptr<detail::PendingRecord>);
  friend detail::PendingRecord* detail::pending_of(const Record&) noexcept;
  struct Impl;

  // The storage to read: this record's, or the finished one it waits for.
  const Impl* view() const;
  const Value& typed_field(std::string_view key, ValueKind expected) const;
  [[noreturn]] static void throw_out_of_int_range(std::string_view key, std::int64_t value);
  // The storage to change in place: this record's own, or a private copy of it.
  Impl& mutable_impl();
  void unlink_nested(std::vector<Value>& pending) noexcept;
  void tear_down() noexcept;

  std::shared_ptr<const Impl> impl_;
};

/// A JSON-like value. Immutable; copying it copies at most one pointer.
class Value {
public:
  Value() noexcept = default;
  Value(std::nullptr_t) noexcept {}
  Value(bool x) noexcept : data_(x) {}
  /// Integers are stored as std::int64_t; an unsigned value above its maximum
  /// throws std::out_of_range.
  template <std::integral I>
    requires(!std::same_as<I, bool>)
  Value(I x) : data_(to_int64(x)) {}
  Value(double x) noexcept : data_(x) {}
  /// A null pointer throws std::invalid_argument: it is not a string.
  Value(const char* x);
  Value(std::string_view x);
  Value(std::string x);
  Value(List x);
  Value(Record x) noexcept : data_(std::move(x)) {}
  // Without this, a stray pointer would silently become a boolean.
  Value(const void*) = delete;

  Value(const Value&) noexcept = default;
  Value& operator=(const Value&) noexcept = default;
  // A moved-from Value is null, never a list without storage.
  Value(Value&& other) noexcept : data_(std::exchange(other.data_, std::monostate{})) {}
  Value& operator=(Value&& other) noexcept;
  // Destroying a list nested 100,000 levels deep must not overflow the stack:
  // the last owner unlinks nested storage into a work list instead of recursing.
  ~Value() {
    if (is_list() || is_record())
      tear_down();
  }

  ValueKind kind() const noexcept { return static_cast<ValueKind>(data_.index()); }
  bool is_null() const noexcept { return kind() == ValueKind::null; }
  bool is_bool() const noexcept { return kind() == ValueKind::boolean; }
  bool is_integer() const noexcept { return kind() == ValueKind::integer; }
  /// True for integers and doubles: both are numbers to a reader.
  bool is_number() const noexcept { return is_integer() || kind() == ValueKind::number; }
  bool is_string() const noexcept { return kind() == ValueKind::string; }
  bool is_list() const noexcept { return kind() == ValueKind::list; }
  bool is_record() const noexcept { return kind() == ValueKind::record; }

  // Each throws FieldError "value is a number, expected a string" for another kind.
  bool as_bool() const;
  std::int64_t as_integer() const;
  /// Integers convert to double.
  double as_number() const;
  const std::string& as_string() const;
  const List& as_list() const;
  const Record& as_record() const;

  /// Deep equality. Kinds must match: the integer 1 differs from the double
  /// 1.0 as their JSON texts "1" and "1.0" differ. Doubles compare by value
  /// except that NaN equals NaN, so equality stays reflexive and a value
  /// always equals its copy.
  friend bool operator==(const Value& lhs, const Value& rhs);

private:
  friend class Record;
  // Alternatives in ValueKind order, so kind() is the index.
  using Data = std::variant<std::monostate, bool, std::int64_t, double,
                            std::shared_ptr<const std::string>, std::shared_ptr<const List>,
                            Record>;

  template <class I>
  static std::int64_t to_int64(I x) {
    if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(std::int64_t)) {
      if (x > static_cast<I>(std::numeric_limits<std::int64_t>::max()))
        throw std::out_of_range("integer " + std::to_string(x) +
                                " does not fit in a Value (largest is 2^63 - 1)");
    }
    return static_cast<std::int64_t>(x);
  }

  [[noreturn]] void throw_wrong_kind(ValueKind expected) const;
  // Moves nested lists and records that only this value owns into `pending`.
  void unlink_nested(std::vector<Value>& pending) noexcept;
  void tear_down() noexcept;
  // Destroys `pending` one level at a time, unlinking as it goes.
  static void drain(std::vector<Value>& pending) noexcept;

  Data data_;
};

template <class T>
T Record::get(std::string_view key) const {
  if constexpr (std::same_as<T, Value>) {
    return at(key);
  } else if constexpr (std::same_as<T, bool>) {
    return typed_field(key, ValueKind::boolean).as_bool();
  } else if constexpr (std::same_as<T, std::int64_t>) {
    return typed_field(key, ValueKind::integer).as_integer();
  } else if constexpr (std::same_as<T, int>) {
    const std::int64_t x = typed_field(key, ValueKind::integer).as_integer();
    if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max())
      throw_out_of_int_range(key, x);
    return static_cast<int>(x);
  } else if constexpr (std::same_as<T, double>) {
    return typed_field(key, ValueKind::number).as_number();
  } else if constexpr (std::same_as<T, std::string>) {
    return typed_field(key, ValueKind::string).as_string();
  } else if constexpr (std::same_as<T, List>) {
    return typed_field(key, ValueKind::list).as_list();
  } else if constexpr (std::same_as<T, Record>) {
    return typed_field(key, ValueKind::record).as_record();
  } else {
    static_assert(sizeof(T) == 0, "Record::get supports bool, std::int64_t, int, double, "
                                  "std::string, List, Record and Value");
  }
}

} // namespace ember
