// Conversion between C++ values and records, driven by Boost.Describe, so that
// operators can take and return plain structs:
//
//   struct Question { std::string text; std::int64_t max_length = 100;
//                     std::optional<std::string> model; };
//   BOOST_DESCRIBE_STRUCT(Question, (), (text, max_length, model))
//
//   Record r = to_record(Question{"hi"});   // {"max_length": 100, "text": "hi"}
//   auto q = from_record<Question>(r);
//
// Members may be bool, integral types (stored as std::int64_t, range-checked
// both ways), float or double, std::string, std::vector<T>, std::optional<T>,
// Value, List, Record and other described structs (nested records). A member
// of any other type is a compile-time error.
//
// std::optional: in a record, std::nullopt is written as an omitted field (so
// the record says no more than the struct, and the generated optional field
// needs no default), and a field that is absent or null reads as std::nullopt.
// Where there is no field to omit (an element of a vector, or to_value on its
// own) std::nullopt is written as null.
//
// Reading ignores fields the struct does not name, as a Specification passes
// unnamed fields through. A missing or mistyped member throws ConversionError
// (a FieldError) in the record model's wording, naming the member's path:
// "field 'inner.count' is missing", "field 'items[1].text' is a number,
// expected a string".
#pragma once
#include "ember/config.hpp"

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/describe.hpp>
#include <boost/mp11/algorithm.hpp>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/specification.hpp"
#include "ember/core/types/record.hpp"

namespace ember {

/// A FieldError raised while converting, with its parts kept apart so that a
/// TypedOperator can report it as a ValidationError of its inputs or outputs.
class ConversionError : public FieldError {
public:
  ConversionError(std::string path, std::string expected, std::string actual,
                  const std::string& message)
      : FieldError(message), path_(std::move(path)), expected_(std::move(expected)),
        actual_(std::move(actual)) {}

  /// "inner.count", "items[1].text"; empty when a bare value was converted.
  const std::string& path() const noexcept { return path_; }
  /// "a string", "an integer from 0 to 255".
  const std::string& expected() const noexcept { return expected_; }
  /// "a number", "missing", "the integer 300".
  const std::string& actual() const noexcept { return actual_; }

private:
  std::string path_;
  std::string expected_;
  std::string actual_;
};

/// A struct described with BOOST_DESCRIBE_STRUCT, converted as a record.
template <class T>
concept DescribedStruct = std::is_class_v<T> && boost::describe::has_describe_members<T>::value;

namespace detail {

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <class T>
struct IsVector : std::false_type {};
template <class T, class Allocator>
struct IsVector<std::vector<T, Allocator>> : std::true_type {};

// Public members, including those of the bases named in BOOST_DESCRIBE_STRUCT.
template <class T>
using MembersOf = boost::describe::describe_members<T, boost::describe::mod_public |
                                                           boost::describe::mod_inherited>;

inline std::string member_path(const std::string& parent, const char* member) {
  return parent.empty() ? std::string{member} : parent + "." + member;
}

inline std::string element_path(const std::string& parent, std::size_t index) {
  return (parent.empty() ? std::string{"value"} : parent) + "[" + std::to_string(index) + "]";
}

// "field 'x' is ..." for a member, "value is ..." for a bare value, as
// Record::get and Value::as_* word it.
inline std::string subject(const std::string& path) {
  return path.empty() ? std::string{"value"} : "field '" + path + "'";
}

[[noreturn]] inline void throw_missing(const std::string& path, FieldType expected) {
  throw ConversionError(path, std::string{describe(expected)}, "missing",
                        subject(path) + " is missing");
}

[[noreturn]] inline void throw_wrong_kind(const std::string& path, const Value& value,
                                          FieldType expected) {
  auto expected_text = std::string{describe(expected)};
  auto actual = std::string{describe(value.kind())};
  throw ConversionError(path, expected_text, actual,
                        subject(path) + " is " + actual + ", expected " + expected_text);
}

// `actual` is "the integer 300"; the range is spelled out because the C++
// type name alone does not tell a user which values fit.
[[noreturn]] inline void throw_out_of_range(const std::string& path, std::string actual,
                                            const std::string& type_name, const std::string& low,
                                            const std::string& high) {
  throw ConversionError(path, "a value from " + low + " to " + high, actual,
                        subject(path) + " is " + actual + ", outside the range of " + type_name +
                            " (" + low + " to " + high + ")");
}

// Shortest text that reads back as `x` ("1e+300", not 300 digits).
inline std::string format_number(double x) {
  char text[32];
  auto end = std::to_chars(text, text + sizeof text, x).ptr;
  return std::string(text, end);
}

inline bool holds(const Value& value, FieldType type) noexcept {
  switch (type) {
  case FieldType::any: return true;
  case FieldType::boolean: return value.is_bool();
  case FieldType::integer: return value.is_integer();
  case FieldType::number: return value.is_number();
  case FieldType::string: return value.is_string();
  case FieldType::list: return value.is_list();
  case FieldType::record: return value.is_record();
  }
  return false;
}

template <std::integral I>
std::string integer_type_name() {
  return (std::is_signed_v<I> ? "std::int" : "std::uint") + std::to_string(sizeof(I) * 8) + "_t";
}

} // namespace detail

/// The FieldType a member of type T is checked against in a Specification.
template <class T>
constexpr FieldType field_type_of() {
  if constexpr (detail::IsOptional<T>::value)
    return field_type_of<typename T::value_type>();
  else if constexpr (std::same_as<T, bool>)
    return FieldType::boolean;
  else if constexpr (std::integral<T>)
    return FieldType::integer;
  else if constexpr (std::floating_point<T>)
    return FieldType::number;
  else if constexpr (std::same_as<T, std::string>)
    return FieldType::string;
  else if constexpr (std::same_as<T, List> || detail::IsVector<T>::value)
    return FieldType::list;
  else if constexpr (std::same_as<T, Record> || DescribedStruct<T>)
    return FieldType::record;
  else if constexpr (std::same_as<T, Value>)
    return FieldType::any;
  else
    static_assert(sizeof(T) == 0,
                  "ember record conversion supports bool, integral and floating-point types, "
                  "std::string, std::vector, std::optional, Value, List, Record and structs "
                  "described with BOOST_DESCRIBE_STRUCT");
}

/// The fields of a described struct for a Specification, in declaration
/// order: std::optional members are optional fields, all others required.
template <DescribedStruct T>
std::vector<Field> fields_of() {
  std::vector<Field> fields;
  boost::mp11::mp_for_each<detail::MembersOf<T>>([&](auto member) {
    using M = std::remove_cvref_t<decltype(std::declval<T&>().*member.pointer)>;
    constexpr FieldType type = field_type_of<M>();
    fields.push_back(detail::IsOptional<M>::value ? Field::optional_field(member.name, type)
                                                  : Field::required_field(member.name, type));
  });
  return fields;
}

namespace detail {

template <class T>
Value write(const T& value, const std::string& path);
template <class T>
T read(const Value& value, const std::string& path);

template <DescribedStruct T>
Record write_record(const T& object, const std::string& path) {
  std::vector<Record::Entry> entries;
  boost::mp11::mp_for_each<MembersOf<T>>([&](auto member) {
    const auto& field = object.*member.pointer;
    if constexpr (IsOptional<std::remove_cvref_t<decltype(field)>>::value) {
      if (!field)
        return;
    }
    entries.emplace_back(member.name, write(field, member_path(path, member.name)));
  });
  return Record{std::move(entries)};
}

template <DescribedStruct T>
T read_record(const Record& record, const std::string& path) {
  // Value-initialised so that members without initialisers start defined.
  T object{};
  boost::mp11::mp_for_each<MembersOf<T>>([&](auto member) {
    auto& field = object.*member.pointer;
    using M = std::remove_cvref_t<decltype(field)>;
    const Value* value = record.find(member.name);
    auto field_path = member_path(path, member.name);
    if constexpr (IsOptional<M>::value) {
      if (value == nullptr || value->is_null())
        field = std::nullopt;
      else
        field = read<typename M::value_type>(*value, field_path);
    } else {
      if (value == nullptr)
        throw_missing(field_path, field_type_of<M>());
      field = read<M>(*value, field_path);
    }
  });
  return object;
}

template <class T>
Value write(const T& value, const std::string& path) {
  // Instantiated for its static_assert, which rejects unsupported types.
  [[maybe_unused]] constexpr FieldType type = field_type_of<T>();
  if constexpr (IsOptional<T>::value) {
    return value ? write(*value, path) : Value{};
  } else if constexpr (std::integral<T> && !std::same_as<T, bool>) {
    if (!std::in_range<std::int64_t>(value))
      throw_out_of_range(path, "the integer " + std::to_string(value), "std::int64_t", "-2^63",
                         "2^63 - 1");
    return Value{static_cast<std::int64_t>(value)};
  } else if constexpr (std::floating_point<T>) {
    return Value{static_cast<double>(value)};
  } else if constexpr (IsVector<T>::value && !std::same_as<T, List>) {
    List list;
    list.reserve(value.size());
    // Naming the element type keeps std::vector<bool>'s proxy references out.
    std::size_t index = 0;
    for (const typename T::value_type& element : value)
      list.push_back(write(element, element_path(path, index++)));
    return Value{std::move(list)};
  } else if constexpr (DescribedStruct<T>) {
    return Value{write_record(value, path)};
  } else {
    return Value{value};
  }
}

template <class T>
T read(const Value& value, const std::string& path) {
  constexpr FieldType type = field_type_of<T>();
  if constexpr (IsOptional<T>::value) {
    if (value.is_null())
      return std::nullopt;
    return read<typename T::value_type>(value, path);
  } else if constexpr (std::same_as<T, Value>) {
    return value;
  } else {
    if (!holds(value, type))
      throw_wrong_kind(path, value, type);
    if constexpr (std::same_as<T, bool>) {
      return value.as_bool();
    } else if constexpr (std::integral<T>) {
      const std::int64_t x = value.as_integer();
      if (!std::in_range<T>(x))
        throw_out_of_range(path, "the integer " + std::to_string(x), integer_type_name<T>(),
                           std::to_string(std::numeric_limits<T>::min()),
                           std::to_string(std::numeric_limits<T>::max()));
      return static_cast<T>(x);
    } else if constexpr (std::floating_point<T>) {
      const double x = value.as_number();
      // Converting a finite double beyond float's range is undefined
      // behaviour; infinities and NaN convert as they are.
      if constexpr (std::same_as<T, float>) {
        constexpr auto largest = static_cast<double>(std::numeric_limits<float>::max());
        if (std::isfinite(x) && std::abs(x) > largest)
          throw_out_of_range(path, "the number " + format_number(x), "float",
                             format_number(-largest), format_number(largest));
      }
      return static_cast<T>(x);
    } else if constexpr (std::same_as<T, std::string>) {
      return value.as_string();
    } else if constexpr (std::same_as<T, List>) {
      return value.as_list();
    } else if constexpr (IsVector<T>::value) {
      T result;
      const List& list = value.as_list();
      result.reserve(list.size());
      for (std::size_t i = 0; i < list.size(); ++i)
        result.push_back(read<typename T::value_type>(list[i], element_path(path, i)));
      return result;
    } else if constexpr (std::same_as<T, Record>) {
      return value.as_record();
    } else {
      return read_record<T>(value.as_record(), path);
    }
  }
}

} // namespace detail

/// `value` as a Value: a described struct becomes a record, a vector a list,
/// std::nullopt null. Throws ConversionError for an integer above 2^63 - 1.
template <class T>
Value to_value(const T& value) {
  return detail::write(value, "");
}

/// `value` as a T. Throws ConversionError ("value is a number, expected a
/// string", "field 'inner.count' is missing") when it does not fit.
template <class T>
T from_value(const Value& value) {
  return detail::read<T>(value, "");
}

/// The record of a described struct, one field per public member; a member
/// holding std::nullopt is omitted.
template <DescribedStruct T>
Record to_record(const T& object) {
  return detail::write_record(object, "");
}

/// The described struct read from `record`; fields it does not name are
/// ignored. Throws ConversionError naming the member's path.
template <DescribedStruct T>
T from_record(const Record& record) {
  return detail::read_record<T>(record, "");
}

} // namespace ember
