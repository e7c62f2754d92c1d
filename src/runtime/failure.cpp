#include "runtime/failure.hpp"

#include <sstream>

#include "ember/core/exceptions.hpp"

namespace ember::xcs::detail {

std::string deadline_source(const ExecutionOptions& options) {
  if (!options.timeout_seconds)
    return "its enclosing call";
  std::ostringstream text;
  text << "timeout_seconds=" << *options.timeout_seconds;
  return text.str();
}

std::string message_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "a non-standard exception";
  }
}

bool is_timeout(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const TimeoutError&) {
    return true;
  } catch (...) {
    return false;
  }
}

bool is_cancelled(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

void rethrow_as_execution_error(const std::exception_ptr& error, const std::string& context) {
  try {
    std::rethrow_exception(error);
  } catch (const TimeoutError&) {
    throw;
  } catch (const CancelledError&) {
    throw;
  } catch (...) {
    std::throw_with_nested(ExecutionError(context + ": " + message_of(error)));
  }
}

} // namespace ember::xcs::detail
