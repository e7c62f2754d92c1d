// How a fuzz target reports a broken property: a message and an abort, which
// libFuzzer records as a crash (keeping the input) and the replay runner as a
// failed test.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace ember::fuzz {

[[noreturn]] inline void fail(std::string_view what) {
  std::fprintf(stderr, "fuzz property broken: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

/// For a catch (...) that must not be reached: names the escaped exception.
[[noreturn]] inline void fail_on_unexpected_exception(std::string_view during) {
  try {
    throw;
  } catch (const std::exception& error) {
    fail(std::string(during) + " threw an undocumented exception: " + error.what());
  } catch (...) {
    fail(std::string(during) + " threw something that is not a std::exception");
  }
}

} // namespace ember::fuzz
