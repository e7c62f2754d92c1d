// Execution options typed by a user as text: string pairs, a JSON object,
// environment variables, command-line arguments. Each form is parsed whole into
// one ExecutionOptionsUpdate before anything is applied, so a bad name or value
// anywhere means no change at all.
//
// Names are the option names (the guide's seven and fail_fast) in underscore form. An unknown name throws
// ember::ExecutionOptionError whose what() is "Invalid execution option: <name>";
// a bad value throws one naming the option, the value and what is allowed.
// A name given twice takes the last value; in string pairs and on the command
// line the earlier values are checked too, in JSON the parser drops them.
#pragma once
#include "ember/config.hpp"

#include <ember/xcs/engine/execution_options.hpp>

#include <string_view>

namespace ember::xcs {

/// Value text: booleans true/false/yes/no/1/0 (any case); integers and numbers
/// must be the whole text ("4x" and " 4" are errors); "none", "null" or ""
/// unset the optional fields (max_workers, timeout_seconds, scheduler).
ExecutionOptionsUpdate parse_execution_options(const StringOptions& options);

/// A JSON object with typed values: {"use_parallel": true, "max_workers": 4,
/// "timeout_seconds": 10.0, "device_strategy": "cpu", "scheduler": null}.
/// A value of the wrong JSON type is an ExecutionOptionError; text that is not
/// a JSON object is an ember::JsonError.
ExecutionOptionsUpdate parse_execution_options_json(std::string_view json_object_text);

/// Reads prefix + the upper-case option name (EMBER_XCS_MAX_WORKERS=4), value
/// text as in parse_execution_options. Only the option names are read: other
/// variables with the prefix belong to other settings and are left alone.
ExecutionOptionsUpdate execution_options_from_environment(const char* prefix = "EMBER_XCS_");

/// Reads arguments of the form --xcs-<name>=<value>, the name with dashes or
/// underscores (--xcs-max-workers=4, --xcs-use_parallel=false). Every other
/// argument is left to the program, and so is everything after a bare "--".
/// An unknown --xcs-<name> is an error (what() names it as spelled), and so is
/// an option without "=<value>". A null argv with argc > 1 is
/// std::invalid_argument.
ExecutionOptionsUpdate execution_options_from_command_line(int argc, const char* const* argv);

} // namespace ember::xcs
