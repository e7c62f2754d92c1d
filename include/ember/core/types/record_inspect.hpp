// CAF 0.17 serialization of values and records, so that they can travel in
// CAF messages and cross a process boundary. The only public header of the
// record model that includes CAF.
//
// The encoding is a tagged recursive one: a ValueKind byte, then the payload;
// lists and records as sequences. Doubles travel as their IEEE-754 bit
// pattern, so NaN, infinities and -0.0 arrive exactly as sent (CAF's own
// double encoding loses them). Nesting deeper than max_serialized_depth fails
// with sec::invalid_argument both ways, so hostile input cannot exhaust the
// stack. Received records are re-sorted and deduplicated, never trusted.
#pragma once
#include "ember/config.hpp"

#include <type_traits>

#include <caf/deserializer.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/serializer.hpp>

#include "ember/core/types/json.hpp"
#include "ember/core/types/record.hpp"

namespace ember {
namespace detail {

caf::error save(caf::serializer& sink, const Value& value);
caf::error save(caf::serializer& sink, const Record& record);
caf::error load(caf::deserializer& source, Value& value);
caf::error load(caf::deserializer& source, Record& record);

// Serializers save, deserializers load; any other inspector (CAF's
// stringification_inspector behind deep_to_string) sees the to_string text.
template <class Inspector, class T>
typename Inspector::result_type inspect_model(Inspector& f, T& x) {
  if constexpr (std::is_base_of_v<caf::serializer, Inspector>)
    return save(f, x);
  else if constexpr (std::is_base_of_v<caf::deserializer, Inspector>)
    return load(f, x);
  else
    return f(caf::meta::type_name(std::is_same_v<T, Record> ? "ember::Record" : "ember::Value"),
             to_string(x));
}

} // namespace detail

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Value& x) {
  return detail::inspect_model(f, x);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Record& x) {
  return detail::inspect_model(f, x);
}

} // namespace ember
