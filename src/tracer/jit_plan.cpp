#include "tracer/jit_plan.hpp"

#include <algorithm>

namespace ember::xcs::detail {
namespace {

bool same_call(const JitPlanNode& a, const JitPlanNode& b) {
  return a.operator_name == b.operator_name && a.inputs_from == b.inputs_from;
}

bool same(const std::vector<JitPlanNode>& a, const std::vector<JitPlanNode>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), same_call);
}

// Producers always come earlier in call order, so one pass finds the levels.
std::size_t width_of(const std::vector<JitPlanNode>& plan) {
  std::vector<std::size_t> level(plan.size(), 0);
  std::vector<std::size_t> per_level(plan.size() + 1, 0);
  std::size_t width = 1;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    for (auto from : plan[i].inputs_from)
      level[i] = std::max(level[i], level[from] + 1);
    width = std::max(width, ++per_level[level[i]]);
  }
  return width;
}

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

} // namespace

void JitPlanCache::record(std::vector<JitPlanNode> plan, std::chrono::nanoseconds took) {
  std::lock_guard lock{mutex_};
  ++stats_.calls;
  if (plan_ && same(plan, plan_->nodes)) {
    ++stats_.cache_hits;
    return;
  }
  ++stats_.compilations;
  stats_.last_compile_time = took;
  auto width = width_of(plan);
  plan_ = std::make_shared<const CachedPlan>(CachedPlan{std::move(plan), width});
}

bool CachedPlan::expects(const JitPlanNode& node) const {
  return node.call < nodes.size() && same_call(nodes[node.call], node);
}

std::shared_ptr<const CachedPlan> JitPlanCache::cached() const {
  std::lock_guard lock{mutex_};
  return plan_;
}

JitStats JitPlanCache::stats() const {
  std::lock_guard lock{mutex_};
  return stats_;
}

std::vector<JitPlanNode> JitPlanCache::plan() const {
  std::lock_guard lock{mutex_};
  return plan_ ? plan_->nodes : std::vector<JitPlanNode>{};
}

std::string plan_to_dot(const std::string& name, const std::vector<JitPlanNode>& plan) {
  std::string dot = "digraph " + quoted(name) + " {\n  rankdir=LR;\n";
  for (const auto& node : plan)
    dot += "  call" + std::to_string(node.call) + " [label=" +
           quoted(std::to_string(node.call) + ": " + node.operator_name) + "];\n";
  for (const auto& node : plan)
    for (auto from : node.inputs_from)
      dot += "  call" + std::to_string(from) + " -> call" + std::to_string(node.call) + ";\n";
  return dot + "}\n";
}

} // namespace ember::xcs::detail
