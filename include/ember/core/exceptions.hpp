// The error family of ember-xcs: one exception type per kind of failure a
// caller can act on. Inside the actors errors travel as values; these are what
// the synchronous facade throws.
#pragma once
#include "ember/config.hpp"

#include <stdexcept>
#include <string>

namespace ember {

/// A field of a Record is missing or holds another type than the one asked for.
class FieldError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/// Text that is not the JSON a Record or Value can be made from.
class JsonError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/// An execution option with an unknown name or a value outside what it allows.
/// For an unknown name, what() is exactly "Invalid execution option: <name>".
class ExecutionOptionError : public std::invalid_argument {
public:
  ExecutionOptionError(std::string option, const std::string& message)
      : std::invalid_argument(message), option_(std::move(option)) {}

  /// The option's name as the caller spelled it.
  const std::string& option() const noexcept { return option_; }

private:
  std::string option_;
};

/// Inputs or outputs of an operator call that break its Specification.
class ValidationError : public std::invalid_argument {
public:
  ValidationError(std::string operator_name, std::string field, std::string expected,
                  std::string actual, const std::string& message)
      : std::invalid_argument(message), operator_name_(std::move(operator_name)),
        field_(std::move(field)), expected_(std::move(expected)), actual_(std::move(actual)) {}

  const std::string& operator_name() const noexcept { return operator_name_; }
  const std::string& field() const noexcept { return field_; }
  const std::string& expected() const noexcept { return expected_; }
  const std::string& actual() const noexcept { return actual_; }

private:
  std::string operator_name_;
  std::string field_;
  std::string expected_;
  std::string actual_;
};

/// The deadline of timeout_seconds passed before the call finished.
class TimeoutError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// An operator body failed; the original exception is attached as the nested
/// exception (std::rethrow_if_nested reaches it).
class ExecutionError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The call was cancelled before it finished: an enclosing call failed fast or
/// gave up. Distinct from TimeoutError, whose deadline passed.
class CancelledError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A runtime or device the call needs is not available (e.g. no GPU executor).
class RuntimeUnavailableError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The persistent result cache's file cannot be opened, read or trusted: it
/// is missing its folder, unreadable, corrupt, or not an ember-xcs cache.
/// what() names the file.
class CacheFileError : public std::runtime_error {
public:
  CacheFileError(std::string path, const std::string& message)
      : std::runtime_error(message), path_(std::move(path)) {}

  const std::string& path() const noexcept { return path_; }

private:
  std::string path_;
};

} // namespace ember
