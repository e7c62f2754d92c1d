#include "ember/models/usage.hpp"

namespace ember::models {

void UsageLedger::record(const std::string& model_id, std::int64_t prompt_tokens,
                         std::int64_t completion_tokens, const std::optional<Price>& price) {
  std::lock_guard lock{mutex_};
  ModelUsage& usage = totals_[model_id];
  ++usage.calls;
  usage.prompt_tokens += prompt_tokens;
  usage.completion_tokens += completion_tokens;
  if (price) {
    usage.priced = true;
    usage.cost += (static_cast<double>(prompt_tokens) * price->input_per_million +
                   static_cast<double>(completion_tokens) * price->output_per_million) /
                  1e6;
  }
}

UsageSnapshot UsageLedger::snapshot() const {
  std::lock_guard lock{mutex_};
  return totals_;
}

void UsageLedger::reset() {
  std::lock_guard lock{mutex_};
  totals_.clear();
}

} // namespace ember::models
