// Execution options: how operator calls below a point run (parallelism,
// workers, device, caching, tracing, timeout). The global settings are the
// outermost layer; a scope shadows the fields it names for the current thread
// of control and the rest falls through (stdexec's environment model).
#pragma once
#include "ember/config.hpp"

#include <ember/fwd.hpp>

#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ember::xcs {

/// Fully resolved options; the defaults are the guide's table.
struct ExecutionOptions {
  bool use_parallel = true;
  /// Empty: chosen automatically (cores for CPU-bound work, a cap for I/O-bound work).
  std::optional<int> max_workers;
  /// One of auto, cpu, io, gpu. Whether a GPU executor exists is checked where
  /// the options are used, not here.
  std::string device_strategy = "auto";
  bool enable_caching = false;
  bool trace_execution = false;
  std::optional<double> timeout_seconds;
  /// Legacy: sequential, parallel or auto.
  std::optional<std::string> scheduler;
  /// ember-xcs's addition: true (default) makes the first failing batch item
  /// cancel the rest and fail the call; false runs every item and reports
  /// failures per item.
  bool fail_fast = true;

  bool operator==(const ExecutionOptions&) const = default;
};

/// The fields a scope or a global change names; an empty field falls through.
/// Designated initializers check names at compile time:
/// `execution_options({.use_parallel = true, .max_workers = 4})`.
/// For the optional fields an engaged-but-empty value sets them back to unset,
/// e.g. `.max_workers = std::optional<int>{}` (whereas `std::nullopt` would
/// leave the outer optional empty and name nothing).
// The `{}` initializers keep g++ 12's -Wmissing-field-initializers quiet for
// designated initializers that name only some fields.
struct ExecutionOptionsUpdate {
  std::optional<bool> use_parallel{};
  std::optional<std::optional<int>> max_workers{};
  std::optional<std::string> device_strategy{};
  std::optional<bool> enable_caching{};
  std::optional<bool> trace_execution{};
  std::optional<std::optional<double>> timeout_seconds{};
  std::optional<std::optional<std::string>> scheduler{};
  std::optional<bool> fail_fast{};
};

/// Options as a user types them: (name, value text) pairs, e.g.
/// {{"use_parallel", "false"}, {"max_workers", "4"}}. The parsing rules are in
/// option_parsing.hpp; the alias lives here because execution_options() takes it.
using StringOptions = std::vector<std::pair<std::string, std::string>>;

/// `base` with the fields `update` names replaced. The update is validated
/// first, so a bad value throws ExecutionOptionError and nothing is returned.
/// Legacy: scheduler "sequential" sets use_parallel to false unless the update
/// names use_parallel itself; "parallel" and "auto" leave it alone.
ExecutionOptions merge(const ExecutionOptions& base, const ExecutionOptionsUpdate& update);

/// While alive, the fields of its update are in force on the thread that
/// opened it, merged over whatever was in force before (global, outer scopes,
/// or the snapshot an ExecutionContextGuard installed). Scopes nest and must
/// end on the thread that opened them, in reverse order, which a scope object
/// on the stack guarantees; hence neither copyable nor movable.
class [[nodiscard]] ExecutionOptionsScope {
public:
  /// Validates the update; on a bad value it throws and nothing changes.
  explicit ExecutionOptionsScope(const ExecutionOptionsUpdate& update);
  ~ExecutionOptionsScope();

  ExecutionOptionsScope(const ExecutionOptionsScope&) = delete;
  ExecutionOptionsScope& operator=(const ExecutionOptionsScope&) = delete;

private:
  std::size_t depth_;
};

// The StringOptions overloads are templates (only ever StringOptions) because
// g++ 12 ignores designators in overload resolution: `{.max_workers = 4}` reads
// as `{4}`, which would also match std::vector's size constructor and make the
// call ambiguous. A non-template wins that tie; a braced list of string pairs
// only fits the StringOptions overload, whose default argument then applies.

/// `auto scope = execution_options({.use_parallel = false});`
[[nodiscard]] ExecutionOptionsScope execution_options(const ExecutionOptionsUpdate& update);
/// `auto scope = execution_options({{"max_workers", "4"}});` Parsed and
/// validated whole before the scope opens.
template <std::same_as<StringOptions> Options = StringOptions>
[[nodiscard]] ExecutionOptionsScope execution_options(const Options& options);
extern template ExecutionOptionsScope execution_options(const StringOptions&);

/// Changes the global settings, the outermost layer every thread sees beneath
/// its scopes. All fields of the update apply at once, or none when one is bad.
void set_execution_options(const ExecutionOptionsUpdate& update);
template <std::same_as<StringOptions> Options = StringOptions>
void set_execution_options(const Options& options);
extern template void set_execution_options(const StringOptions&);

/// What is in force on this thread of control: the global settings (or the
/// snapshot a guard installed) overlaid by this thread's scopes.
ExecutionOptions get_execution_options();

} // namespace ember::xcs
