#include "ember/core/registry/prompt_template.hpp"

#include <algorithm>
#include <stdexcept>

#include "ember/core/exceptions.hpp"
#include "ember/core/types/json.hpp"

namespace ember {
namespace {

[[noreturn]] void malformed(const std::string& text, std::size_t offset, std::string_view what) {
  throw std::invalid_argument("prompt template: " + std::string{what} + " at offset " +
                              std::to_string(offset) + " of \"" + text +
                              "\"; placeholders are {field} with a field name, and {{ and }} "
                              "stand for braces");
}

bool is_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

void append(std::string& out, const Value& value) {
  if (value.kind() == ValueKind::string)
    out += value.as_string();
  else
    out += to_json(value);
}

} // namespace

PromptTemplate::PromptTemplate(std::string text) : text_(std::move(text)) {
  std::string literal;
  for (std::size_t at = 0; at < text_.size(); ++at) {
    char c = text_[at];
    if (c == '}') {
      if (at + 1 < text_.size() && text_[at + 1] == '}') {
        literal += '}';
        ++at;
        continue;
      }
      malformed(text_, at, "a lone '}'");
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (at + 1 < text_.size() && text_[at + 1] == '{') {
      literal += '{';
      ++at;
      continue;
    }
    auto close = text_.find('}', at + 1);
    if (close == std::string::npos)
      malformed(text_, at, "an unclosed '{'");
    auto name = text_.substr(at + 1, close - at - 1);
    if (!is_name(name))
      malformed(text_, at, "the placeholder {" + name + "}, which is not a field name");
    if (!literal.empty())
      pieces_.push_back(Piece{false, std::move(literal)});
    literal.clear();
    if (std::find(fields_.begin(), fields_.end(), name) == fields_.end())
      fields_.push_back(name);
    pieces_.push_back(Piece{true, std::move(name)});
    at = close;
  }
  if (!literal.empty())
    pieces_.push_back(Piece{false, std::move(literal)});
}

std::string PromptTemplate::render(std::string_view operator_name, const Record& inputs) const {
  std::string out;
  for (const auto& piece : pieces_) {
    if (!piece.field) {
      out += piece.text;
      continue;
    }
    const Value* value = inputs.find(piece.text);
    if (value == nullptr)
      throw ValidationError(std::string{operator_name}, piece.text, "a value for the prompt",
                            "missing",
                            "operator '" + std::string{operator_name} + "': prompt field '" +
                                piece.text + "' is missing from the inputs");
    if (value->kind() != ValueKind::list) {
      append(out, *value);
      continue;
    }
    bool first = true;
    for (const auto& element : value->as_list()) {
      if (!first)
        out += '\n';
      first = false;
      append(out, element);
    }
  }
  return out;
}

} // namespace ember
