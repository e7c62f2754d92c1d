// A Record whose value is still being computed: structural_jit hands these
// out for sub-operator calls it runs concurrently. Reading one waits for the
// value (or computes it right there if nobody has started); copying or
// passing it on does not wait.
#pragma once
#include "ember/config.hpp"

#include <memory>

#include "ember/core/types/record.hpp"

namespace ember::detail {

class PendingRecord {
public:
  virtual ~PendingRecord() = default;
  /// The finished record; waits for it or computes it inline. Rethrows the
  /// computation's failure. Thread safe; the returned record lives as long as
  /// this object.
  virtual const Record& resolve() = 0;
};

/// A Record that resolves through `pending` on first read.
Record make_pending_record(std::shared_ptr<PendingRecord> pending);

/// The pending computation behind `record`, or nullptr for a finished record.
PendingRecord* pending_of(const Record& record) noexcept;

} // namespace ember::detail
