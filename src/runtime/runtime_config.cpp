#include <cctype>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include "ember/xcs/runtime/runtime.hpp"
#include "runtime/call_context.hpp"

namespace ember::xcs {
namespace {

// Past this the grace would overflow the steady clock when shutdown adds it
// to now (18446744073709551615 used to become a grace of -1 ms).
std::size_t longest_grace_ms() {
  return static_cast<std::size_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(detail::longest_timeout).count());
}

std::size_t count(const std::string& name, const std::string& text, std::size_t minimum,
                  std::optional<std::size_t> maximum = std::nullopt) {
  std::size_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < minimum ||
      (maximum && value > *maximum))
    throw std::invalid_argument(
        "Invalid value for runtime option '" + name + "': '" + text + "' (allowed: a " +
        (minimum == 0 ? "non-negative" : "positive") + " integer" +
        (maximum ? " up to " + std::to_string(*maximum) : std::string{}) + ")");
  return value;
}

} // namespace

RuntimeConfig parse_runtime_config(const std::vector<std::pair<std::string, std::string>>& options,
                                   RuntimeConfig base) {
  // Parsed into a copy: a bad entry leaves the caller's config untouched.
  for (const auto& [name, text] : options) {
    if (name == "scheduler_threads")
      base.scheduler_threads = count(name, text, 1, max_scheduler_threads);
    else if (name == "blocking_threads")
      base.blocking_threads = count(name, text, 1, max_blocking_threads);
    else if (name == "shutdown_grace_ms")
      base.shutdown_grace = std::chrono::milliseconds(count(name, text, 0, longest_grace_ms()));
    else
      throw std::invalid_argument("Invalid runtime option: " + name);
  }
  return base;
}

RuntimeConfig runtime_config_from_environment() {
  std::vector<std::pair<std::string, std::string>> options;
  for (const char* name : {"scheduler_threads", "blocking_threads", "shutdown_grace_ms"}) {
    std::string variable = "EMBER_XCS_";
    for (const char* c = name; *c != '\0'; ++c)
      variable += static_cast<char>(std::toupper(static_cast<unsigned char>(*c)));
    if (const char* value = std::getenv(variable.c_str()))
      options.emplace_back(name, value);
  }
  return parse_runtime_config(options);
}

} // namespace ember::xcs
