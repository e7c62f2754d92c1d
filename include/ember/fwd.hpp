// Forward declarations of ember-xcs's public types, for headers that only
// name them.
#pragma once
#include "ember/config.hpp"

#include <memory>

namespace ember {

class Value;
class Record;
class Specification;
class Operator;
class OperatorRef;

namespace xcs {

struct ExecutionOptions;
struct ExecutionOptionsUpdate;
using ExecutionSnapshot = std::shared_ptr<const ExecutionOptions>;
class Runtime;

} // namespace xcs
} // namespace ember
