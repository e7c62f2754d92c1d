// The plan a structural_jit operator discovered, its statistics and its DOT
// rendering. Private to the tracer.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ember/xcs/tracer/structural_jit.hpp"

namespace ember::xcs::detail {

/// A discovered plan as a later call follows it.
struct CachedPlan {
  std::vector<JitPlanNode> nodes;
  /// The most calls on one dependency level (a call's level is one more than
  /// its deepest producer's): how many can run at once.
  std::size_t width = 1;

  /// Whether `node` is the plan's call at its index: same operator, same producers.
  bool expects(const JitPlanNode& node) const;
};

class JitPlanCache {
public:
  /// Records the calls one forward made: a cache hit when they match the
  /// cached plan, otherwise a (re)compilation that replaces it.
  void record(std::vector<JitPlanNode> plan, std::chrono::nanoseconds took);
  JitStats stats() const;
  std::vector<JitPlanNode> plan() const;
  /// The cached plan; null before the first call finished.
  std::shared_ptr<const CachedPlan> cached() const;

private:
  mutable std::mutex mutex_;
  std::shared_ptr<const CachedPlan> plan_;
  JitStats stats_;
};

std::string plan_to_dot(const std::string& name, const std::vector<JitPlanNode>& plan);

} // namespace ember::xcs::detail
