#include "tracer/jit_plan.hpp"

namespace ember::xcs::detail {
namespace {

bool same(const std::vector<JitPlanNode>& a, const std::vector<JitPlanNode>& b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].operator_name != b[i].operator_name || a[i].inputs_from != b[i].inputs_from)
      return false;
  return true;
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
  if (stats_.compilations > 0 && same(plan, plan_)) {
    ++stats_.cache_hits;
    return;
  }
  ++stats_.compilations;
  stats_.last_compile_time = took;
  plan_ = std::move(plan);
}

JitStats JitPlanCache::stats() const {
  std::lock_guard lock{mutex_};
  return stats_;
}

std::vector<JitPlanNode> JitPlanCache::plan() const {
  std::lock_guard lock{mutex_};
  return plan_;
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
