// Tokens and estimated cost per model, summed over calls.
#pragma once
#include "ember/config.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace ember::models {

/// Dollars per million tokens, from the configuration's "prices" table.
struct Price {
  double input_per_million = 0.0;
  double output_per_million = 0.0;
};

/// What the calls to one model used. cost is 0 when the model has no price.
struct ModelUsage {
  std::int64_t calls = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost = 0.0;
  bool priced = false;
};

/// Model id -> its usage.
using UsageSnapshot = std::map<std::string, ModelUsage>;

/// The running sums; shared by the model operators of one registry and
/// updated from the I/O thread.
class UsageLedger {
public:
  void record(const std::string& model_id, std::int64_t prompt_tokens,
              std::int64_t completion_tokens, const std::optional<Price>& price);
  UsageSnapshot snapshot() const;
  void reset();

private:
  mutable std::mutex mutex_;
  UsageSnapshot totals_;
};

} // namespace ember::models
