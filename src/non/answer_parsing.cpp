#include "non/answer_parsing.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace ember::non::detail {
namespace {

std::string_view trim(std::string_view text) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && space(text.back()))
    text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> trimmed_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  text = trim(text);
  while (!text.empty()) {
    auto end = text.find('\n');
    lines.push_back(trim(text.substr(0, end)));
    if (end == std::string_view::npos)
      break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

// The rest of `line` after `label`, trimmed, when it starts with it.
std::optional<std::string_view> after(std::string_view line, std::string_view label) {
  if (!line.starts_with(label))
    return std::nullopt;
  return trim(line.substr(label.size()));
}

std::optional<std::string_view> after_either(std::string_view line, std::string_view label,
                                             std::string_view other) {
  auto rest = after(line, label);
  return rest ? rest : after(line, other);
}

std::string joined(const std::vector<std::string_view>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i)
    out.append(i == 0 ? "" : "\n").append(lines[i]);
  return out;
}

std::int64_t verdict_of(std::string_view value) {
  std::int64_t number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error == std::errc{} && end == value.data() + value.size())
    return number == 1 ? 1 : 0;
  std::string lower{value};
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Ember tests `"correct" in verdict`, which "incorrect" passes too.
  if (lower.find("incorrect") != std::string::npos)
    return 0;
  return lower.find("correct") != std::string::npos ? 1 : 0;
}

} // namespace

Judgement parse_judgement(std::string_view text) {
  Judgement judgement;
  std::vector<std::string_view> reasoning;
  bool in_reasoning = false;
  for (auto line : trimmed_lines(text)) {
    if (auto answer = after(line, "Final Answer:")) {
      judgement.final_answer = std::string{*answer};
      break;
    }
    if (auto start = after(line, "Reasoning:")) {
      in_reasoning = true;
      if (!start->empty())
        reasoning.push_back(*start);
    } else if (in_reasoning) {
      reasoning.push_back(line);
    }
  }
  judgement.reasoning = joined(reasoning);
  return judgement;
}

Verdict parse_verdict(std::string_view text) {
  Verdict verdict;
  enum class Section { none, explanation, revised } section = Section::none;
  std::vector<std::string_view> explanation;
  std::vector<std::string_view> revised;
  for (auto line : trimmed_lines(text)) {
    if (auto value = after(line, "Verdict:")) {
      verdict.verdict = verdict_of(*value);
    } else if (auto start = after(line, "Explanation:")) {
      section = Section::explanation;
      if (!start->empty())
        explanation.push_back(*start);
    } else if (auto revision = after_either(line, "Revised Answer:", "Revised Answer (optional):")) {
      section = Section::revised;
      if (!revision->empty())
        revised.push_back(*revision);
    } else if (section == Section::explanation) {
      explanation.push_back(line);
    } else if (section == Section::revised) {
      revised.push_back(line);
    }
  }
  verdict.explanation = joined(explanation);
  if (!revised.empty())
    verdict.revised_answer = joined(revised);
  return verdict;
}

} // namespace ember::non::detail
