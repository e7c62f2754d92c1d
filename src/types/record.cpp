#include "ember/core/types/record.hpp"
#include "ember/core/types/detail/pending_record.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iterator>

namespace ember {

// Storage is created non-const (make_shared<Impl>, make_shared<List>) and only
// ever handed out as pointer-to-const. A handle that is the sole owner
// (use_count() == 1) may therefore const_cast and change it in place: no other
// handle can observe it, and none can appear, since copying needs our handle.
// use_count() is a relaxed load, so sole_owner() adds an acquire fence: it
// orders our writes after the reads another thread made through a handle it
// released just before (its decrement is a release).
struct Record::Impl {
  std::vector<Entry> entries;
  /// Set for a pending record, which has no entries of its own.
  std::shared_ptr<detail::PendingRecord> pending{};
};

namespace {

// Pairs of values still to compare; equality walks nesting with this work list
// instead of recursion, like destruction.
using Comparisons = std::vector<std::pair<const Value*, const Value*>>;

bool shallow_equal(const Record& lhs, const Record& rhs, Comparisons& pending) {
  if (lhs.begin() == rhs.begin()) // Same storage, or both empty.
    return true;
  if (lhs.size() != rhs.size())
    return false;
  for (auto l = lhs.begin(), r = rhs.begin(); l != lhs.end(); ++l, ++r) {
    if (l->first != r->first)
      return false;
    pending.emplace_back(&l->second, &r->second);
  }
  return true;
}

bool shallow_equal(const Value& lhs, const Value& rhs, Comparisons& pending) {
  if (lhs.kind() != rhs.kind())
    return false;
  switch (lhs.kind()) {
  case ValueKind::null:
    return true;
  case ValueKind::boolean:
    return lhs.as_bool() == rhs.as_bool();
  case ValueKind::integer:
    return lhs.as_integer() == rhs.as_integer();
  case ValueKind::number: {
    const double l = lhs.as_number();
    const double r = rhs.as_number();
    return l == r || (std::isnan(l) && std::isnan(r));
  }
  case ValueKind::string:
    return lhs.as_string() == rhs.as_string();
  case ValueKind::list: {
    const List& l = lhs.as_list();
    const List& r = rhs.as_list();
    if (&l == &r)
      return true;
    if (l.size() != r.size())
      return false;
    for (std::size_t i = 0; i < l.size(); ++i)
      pending.emplace_back(&l[i], &r[i]);
    return true;
  }
  case ValueKind::record:
    return shallow_equal(lhs.as_record(), rhs.as_record(), pending);
  }
  return false;
}

bool drain_comparisons(Comparisons& pending) {
  while (!pending.empty()) {
    const auto [lhs, rhs] = pending.back();
    pending.pop_back();
    if (!shallow_equal(*lhs, *rhs, pending))
      return false;
  }
  return true;
}

template <class T>
bool sole_owner(const std::shared_ptr<const T>& storage) noexcept {
  if (storage.use_count() != 1)
    return false;
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer does not model fences. A copy's increment and decrement
  // of the same counter are acq_rel read-modify-writes in the release
  // sequence of the other thread's decrement: the same acquire, visible to it.
  [[maybe_unused]] std::shared_ptr<const T> touch = storage;
#else
  std::atomic_thread_fence(std::memory_order_acquire);
#endif
  return true;
}

bool is_nested(const Value& x) { return x.is_list() || x.is_record(); }

// Sorts by key and keeps the last of equal keys, as a sequence of set() would.
// Entries taken from a record are in order already (one pass to see it), and
// a body's few output fields are sorted in place: std::stable_sort would
// allocate a buffer for them, once per item of a batch.
void normalize(std::vector<Record::Entry>& entries) {
  auto less = [](const auto& lhs, const auto& rhs) { return lhs.first < rhs.first; };
  auto out_of_order = [&](const auto& lhs, const auto& rhs) { return !less(lhs, rhs); };
  if (std::adjacent_find(entries.begin(), entries.end(), out_of_order) == entries.end())
    return;
  constexpr std::size_t few = 16;
  if (entries.size() > few) {
    std::stable_sort(entries.begin(), entries.end(), less);
  } else {
    for (auto it = std::next(entries.begin()); it != entries.end(); ++it)
      std::rotate(std::upper_bound(entries.begin(), it, *it, less), it, std::next(it));
  }
  auto out = entries.begin();
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    const auto next = std::next(it);
    if (next != entries.end() && next->first == it->first)
      continue;
    if (out != it)
      *out = std::move(*it);
    ++out;
  }
  entries.erase(out, entries.end());
}

auto key_less = [](const Record::Entry& entry, std::string_view key) { return entry.first < key; };

} // namespace

std::string_view describe(ValueKind kind) noexcept {
  switch (kind) {
  case ValueKind::null:
    return "null";
  case ValueKind::boolean:
    return "a boolean";
  case ValueKind::integer:
    return "an integer";
  case ValueKind::number:
    return "a number";
  case ValueKind::string:
    return "a string";
  case ValueKind::list:
    return "a list";
  case ValueKind::record:
    return "a record";
  }
  return "an unknown kind";
}

// -- Value --------------------------------------------------------------------

// libstdc++ would refuse a null pointer with "basic_string: construction from
// null is not valid", which names neither Value nor what to do instead.
Value::Value(const char* x)
    : Value(x != nullptr ? std::string(x)
                         : throw std::invalid_argument(
                               "Value: a null const char* is not a string; write nullptr or "
                               "Value{} for a null value")) {}
Value::Value(std::string_view x) : Value(std::string(x)) {}
Value::Value(std::string x)
    : data_(std::shared_ptr<const std::string>(std::make_shared<std::string>(std::move(x)))) {}
Value::Value(List x) : data_(std::shared_ptr<const List>(std::make_shared<List>(std::move(x)))) {}

Value& Value::operator=(Value&& other) noexcept {
  // Releasing the old contents destroys one level at most: nested values
  // unlink their own children.
  data_ = std::exchange(other.data_, std::monostate{});
  return *this;
}

void Value::tear_down() noexcept {
  std::vector<Value> pending;
  unlink_nested(pending);
  drain(pending);
}

void Value::unlink_nested(std::vector<Value>& pending) noexcept {
  if (auto* list = std::get_if<std::shared_ptr<const List>>(&data_)) {
    if (!sole_owner(*list))
      return;
    for (Value& item : const_cast<List&>(**list))
      if (is_nested(item))
        pending.push_back(std::move(item));
  } else if (auto* record = std::get_if<Record>(&data_)) {
    record->unlink_nested(pending);
  }
}

void Value::drain(std::vector<Value>& pending) noexcept {
  while (!pending.empty()) {
    Value next = std::move(pending.back());
    pending.pop_back();
    next.unlink_nested(pending);
  }
}

void Value::throw_wrong_kind(ValueKind expected) const {
  throw FieldError("value is " + std::string(describe(kind())) + ", expected " +
                   std::string(describe(expected)));
}

bool Value::as_bool() const {
  if (!is_bool())
    throw_wrong_kind(ValueKind::boolean);
  return std::get<bool>(data_);
}

std::int64_t Value::as_integer() const {
  if (!is_integer())
    throw_wrong_kind(ValueKind::integer);
  return std::get<std::int64_t>(data_);
}

double Value::as_number() const {
  if (is_integer())
    return static_cast<double>(std::get<std::int64_t>(data_));
  if (kind() != ValueKind::number)
    throw_wrong_kind(ValueKind::number);
  return std::get<double>(data_);
}

const std::string& Value::as_string() const {
  if (!is_string())
    throw_wrong_kind(ValueKind::string);
  return *std::get<std::shared_ptr<const std::string>>(data_);
}

const List& Value::as_list() const {
  if (!is_list())
    throw_wrong_kind(ValueKind::list);
  return *std::get<std::shared_ptr<const List>>(data_);
}

const Record& Value::as_record() const {
  if (!is_record())
    throw_wrong_kind(ValueKind::record);
  return std::get<Record>(data_);
}

bool operator==(const Value& lhs, const Value& rhs) {
  Comparisons pending;
  return shallow_equal(lhs, rhs, pending) && drain_comparisons(pending);
}

// -- Record -------------------------------------------------------------------

Record::Record(std::initializer_list<std::pair<const std::string, Value>> entries)
    : Record(std::vector<Entry>(entries.begin(), entries.end())) {}

Record::Record(std::vector<Entry> entries) {
  normalize(entries);
  if (!entries.empty())
    impl_ = std::make_shared<Impl>(Impl{std::move(entries)});
}

void Record::tear_down() noexcept {
  std::vector<Value> pending;
  unlink_nested(pending);
  Value::drain(pending);
}

void Record::unlink_nested(std::vector<Value>& pending) noexcept {
  if (!sole_owner(impl_))
    return;
  for (Entry& entry : const_cast<Impl&>(*impl_).entries)
    if (is_nested(entry.second))
      pending.push_back(std::move(entry.second));
}

const Record::Impl* Record::view() const {
  if (impl_ && impl_->pending) [[unlikely]]
    return impl_->pending->resolve().view();
  return impl_.get();
}

std::size_t Record::size() const {
  const Impl* impl = view();
  return impl ? impl->entries.size() : 0;
}

Record::const_iterator Record::begin() const {
  const Impl* impl = view();
  return impl ? impl->entries.data() : nullptr;
}

Record::const_iterator Record::end() const {
  const Impl* impl = view();
  return impl ? impl->entries.data() + impl->entries.size() : nullptr;
}

const Value* Record::find(std::string_view key) const {
  const auto it = std::lower_bound(begin(), end(), key, key_less);
  return it != end() && it->first == key ? &it->second : nullptr;
}

const Value& Record::at(std::string_view key) const {
  if (const Value* value = find(key))
    return *value;
  throw FieldError("field '" + std::string(key) + "' is missing");
}

const Value& Record::typed_field(std::string_view key, ValueKind expected) const {
  const Value& value = at(key);
  if (value.kind() == expected || (expected == ValueKind::number && value.is_integer()))
    return value;
  throw FieldError("field '" + std::string(key) + "' is " + std::string(describe(value.kind())) +
                   ", expected " + std::string(describe(expected)));
}

void Record::throw_out_of_int_range(std::string_view key, std::int64_t value) {
  throw FieldError("field '" + std::string(key) + "' is the integer " + std::to_string(value) +
                   ", outside the range of int");
}

Record::Impl& Record::mutable_impl() {
  if (impl_ && impl_->pending)
    impl_ = impl_->pending->resolve().impl_; // then copy-on-write as for any shared storage
  if (!impl_)
    impl_ = std::make_shared<Impl>();
  else if (!sole_owner(impl_))
    impl_ = std::make_shared<Impl>(*impl_);
  return const_cast<Impl&>(*impl_);
}

Record& Record::set(std::string key, Value value) {
  auto& entries = mutable_impl().entries;
  const auto it = std::lower_bound(entries.begin(), entries.end(), key, key_less);
  if (it != entries.end() && it->first == key)
    it->second = std::move(value);
  else
    entries.emplace(it, std::move(key), std::move(value));
  return *this;
}

Record Record::with(std::string key, Value value) const {
  Record copy = *this;
  copy.set(std::move(key), std::move(value));
  return copy;
}

Record& Record::erase(std::string_view key) {
  if (!contains(key))
    return *this;
  auto& entries = mutable_impl().entries;
  entries.erase(std::lower_bound(entries.begin(), entries.end(), key, key_less));
  if (entries.empty())
    impl_.reset();
  return *this;
}

bool operator==(const Record& lhs, const Record& rhs) {
  Comparisons pending;
  return shallow_equal(lhs, rhs, pending) && drain_comparisons(pending);
}

namespace detail {

Record make_pending_record(std::shared_ptr<PendingRecord> pending) {
  Record record;
  record.impl_ = std::make_shared<Record::Impl>(Record::Impl{{}, std::move(pending)});
  return record;
}

PendingRecord* pending_of(const Record& record) noexcept {
  return record.impl_ ? record.impl_->pending.get() : nullptr;
}

} // namespace detail
} // namespace ember
