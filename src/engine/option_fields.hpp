// The table of the execution options (the guide's seven and fail_fast): name, the update field it fills
// and what it allows. Validation and every string-keyed form read this one
// table, so a name or a rule is written once.
#pragma once

#include <ember/xcs/engine/execution_options.hpp>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace ember::xcs::detail {

using FlagMember = std::optional<bool> ExecutionOptionsUpdate::*;
using CountMember = std::optional<std::optional<int>> ExecutionOptionsUpdate::*;
using ChoiceMember = std::optional<std::string> ExecutionOptionsUpdate::*;
using SecondsMember = std::optional<std::optional<double>> ExecutionOptionsUpdate::*;
using OptionalChoiceMember = std::optional<std::optional<std::string>> ExecutionOptionsUpdate::*;
using FieldMember =
    std::variant<FlagMember, CountMember, ChoiceMember, SecondsMember, OptionalChoiceMember>;

struct OptionField {
  std::string_view name;
  FieldMember member;
  /// Shown after "allowed: " in errors.
  std::string_view allowed;
};

const std::array<OptionField, 8>& option_fields();

/// nullptr for a name that is not an option.
const OptionField* find_option_field(std::string_view name);

[[noreturn]] void throw_unknown_option(std::string_view name);

/// `shown_value` as the user should recognise it (text forms quote strings).
[[noreturn]] void throw_invalid_value(const OptionField& field, std::string_view shown_value);

/// Throws ExecutionOptionError for the first value outside what its option allows.
void validate_update(const ExecutionOptionsUpdate& update);

/// `text` for an error message: control bytes (NUL included, which would end
/// what()) as \xNN, a backslash doubled, other bytes kept.
std::string printable(std::string_view text);

/// printable(text) with double quotes escaped, in double quotes.
std::string quoted(std::string_view text);

template <class... Handlers> struct Overloaded : Handlers... {
  using Handlers::operator()...;
};
template <class... Handlers> Overloaded(Handlers...) -> Overloaded<Handlers...>;

} // namespace ember::xcs::detail
