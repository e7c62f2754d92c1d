// Reading the sections of a model's text the way Ember's NON operators do.
// Private to src/non.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ember::non::detail {

struct Judgement {
  std::string final_answer = "Unknown";
  std::string reasoning;
};

/// JudgeSynthesis and SelectorJudge: lines are trimmed; the first line
/// starting with "Final Answer:" gives the answer and ends the reading;
/// "Reasoning:" starts the reasoning, which runs on over the lines after it.
Judgement parse_judgement(std::string_view text);

struct Verdict {
  std::int64_t verdict = 0;
  std::string explanation;
  std::optional<std::string> revised_answer;
};

/// Verifier: "Verdict:", "Explanation:", "Revised Answer:" (or "Revised
/// Answer (optional):"); the last two run on over the lines after them.
Verdict parse_verdict(std::string_view text);

} // namespace ember::non::detail
