// The operator: a named, specified `forward(inputs) -> outputs` function.
#pragma once
#include "ember/config.hpp"

#include <memory>
#include <string>

#include "ember/core/registry/specification.hpp"
#include "ember/core/types/record.hpp"

namespace ember {

/// The workload an operator declares; `device_strategy = "auto"` picks the
/// executor from it.
enum class OperatorKind {
  cpu, ///< computes: bounded by the number of cores
  io,  ///< mostly waits (a model server, a tool): many may run at once
};

/// Base class of every operator. Derive, pass a name and a Specification, and
/// implement forward. forward is const and may run on several threads at once:
/// an operator holds configuration, not per-call state.
///
/// Operators are used through shared handles (OperatorRef, see make_operator)
/// so a call that outlives its caller (a timed-out body) keeps it alive.
class Operator : public std::enable_shared_from_this<Operator> {
public:
  virtual ~Operator() = default;
  Operator(const Operator&) = delete;
  Operator& operator=(const Operator&) = delete;

  const std::string& name() const noexcept { return name_; }
  const Specification& specification() const noexcept { return specification_; }
  OperatorKind kind() const noexcept { return kind_; }

  /// The operator's body: one call, one input record, one output record.
  virtual Record forward(const Record& inputs) const = 0;

  /// Whether enable_caching may memoize this operator's results. Transforms
  /// answer false: their items are memoized one by one instead.
  virtual bool memoizable() const noexcept { return true; }

  /// True for AsyncOperator: its body completes through a Completion.
  virtual bool is_async() const noexcept { return false; }

  /// A name for this operator's results that holds across processes: two
  /// operators with the same identity give the same outputs for the same
  /// inputs (a model id with every parameter that changes its answer). With
  /// a cache file set (ResultCache::persist_to, EMBER_XCS_CACHE_PATH), cached
  /// results of operators that have one are also kept in that file, so a
  /// later run finds them. Empty (the default): cached in memory only.
  virtual std::string persistent_identity() const { return {}; }

  /// Validates inputs (defaults filled in), runs forward, validates outputs.
  /// Runs on the calling thread; execution options are applied by the
  /// runtime around it (see OperatorRef::operator()).
  Record call_validated(const Record& inputs) const;

protected:
  explicit Operator(std::string name, Specification specification = {},
                    OperatorKind kind = OperatorKind::cpu);

private:
  std::string name_;
  Specification specification_;
  OperatorKind kind_;
};

} // namespace ember
