// The plan a structural_jit operator discovered, its statistics and its DOT
// rendering. Private to the tracer.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "ember/xcs/tracer/structural_jit.hpp"

namespace ember::xcs::detail {

class JitPlanCache {
public:
  /// Records the calls one forward made: a cache hit when they match the
  /// cached plan, otherwise a (re)compilation that replaces it.
  void record(std::vector<JitPlanNode> plan, std::chrono::nanoseconds took);
  JitStats stats() const;
  std::vector<JitPlanNode> plan() const;

private:
  mutable std::mutex mutex_;
  std::vector<JitPlanNode> plan_;
  JitStats stats_;
};

std::string plan_to_dot(const std::string& name, const std::vector<JitPlanNode>& plan);

} // namespace ember::xcs::detail
