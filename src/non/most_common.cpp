#include "ember/core/non/most_common.hpp"

#include <unordered_map>

#include "ember/core/exceptions.hpp"

namespace ember::non {

MostCommon::MostCommon()
    : Operator("MostCommon", Specification{{Field::required_field("responses", FieldType::list)},
                                           {Field::required_field("final_answer", FieldType::string)}}) {}

Record MostCommon::forward(const Record& inputs) const {
  const auto& responses = inputs.at("responses").as_list();
  if (responses.empty())
    throw ValidationError(name(), "responses", "at least one response", "an empty list",
                          "operator 'MostCommon': input field 'responses' is an empty list, "
                          "expected at least one response");
  // Each response's count and first position (Python's Counter.most_common
  // keeps first-seen order among equal counts).
  struct Tally {
    std::size_t count = 0;
    std::size_t first = 0;
  };
  std::unordered_map<std::string_view, Tally> tallies;
  for (std::size_t i = 0; i < responses.size(); ++i) {
    if (responses[i].kind() != ValueKind::string) {
      auto actual = std::string{describe(responses[i].kind())};
      throw ValidationError(name(), "responses", "a string", actual,
                            "operator 'MostCommon': response " + std::to_string(i) + " is " +
                                actual + ", expected a string");
    }
    ++tallies.try_emplace(responses[i].as_string(), Tally{0, i}).first->second.count;
  }
  Tally best;
  for (const auto& [response, tally] : tallies)
    if (tally.count > best.count || (tally.count == best.count && tally.first < best.first))
      best = tally;
  return Record{{"final_answer", responses[best.first].as_string()}};
}

} // namespace ember::non
