// What trace_execution records: one span per operator body execution (operator,
// transform, item, shard, worker, parent, start and end), exportable as
// Chrome/Perfetto trace JSON.
#pragma once
#include "ember/config.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ember::xcs {

/// One operator body execution.
struct TraceSpan {
  std::uint64_t id = 0;     ///< Unique within its recorder, > 0.
  std::uint64_t parent = 0; ///< The enclosing span's id; 0 for a top-level call.
  std::string operator_name;
  std::string transform;    ///< "" for a plain call, else e.g. "vmap", "pmap".
  std::int64_t item = -1;   ///< Item index within the batch; -1 when not a batch item.
  std::int64_t shard = -1;  ///< Shard index for pmap; -1 otherwise.
  std::uint64_t worker = 0; ///< The worker number of the thread that began the span.
  std::chrono::steady_clock::time_point start;
  std::chrono::steady_clock::time_point end;
  bool failed = false;
};

/// The worker number of the calling thread, as spans record it: a small number
/// (1, 2, ...) given to each OS thread the first time it asks, kept for the
/// thread's life and never reused. Process-wide, shared by all recorders.
std::uint64_t worker_number() noexcept;

/// Records spans; thread safe. The runtime records into execution_trace();
/// other instances exist for tests and tools.
///
/// Cost while recording: a span in flight lives in a buffer owned by the thread
/// that began it (its mutex is uncontended unless spans(), clear() or an
/// end_span from another thread looks in), so concurrent bodies do not share a
/// lock. Completed spans stay in those per-thread buffers until spans() merges
/// them.
///
/// Bound: at most capacity() completed spans are kept (default_capacity, one
/// million, roughly 100-200 MB). Spans that complete while the recorder is full
/// are dropped and counted in dropped(), so a long-running traced program cannot
/// exhaust memory. clear() makes room again.
class ExecutionTrace {
public:
  static constexpr std::size_t default_capacity = 1'000'000;

  explicit ExecutionTrace(std::size_t capacity = default_capacity);
  ~ExecutionTrace();
  ExecutionTrace(const ExecutionTrace&) = delete;
  ExecutionTrace& operator=(const ExecutionTrace&) = delete;

  /// Opens a span and returns its id (> 0). Records the start time and the
  /// calling thread's worker number.
  std::uint64_t begin_span(std::uint64_t parent, std::string_view operator_name,
                           std::string_view transform, std::int64_t item, std::int64_t shard);

  /// Closes span `id`: records its end time and whether it failed. Cheapest on
  /// the thread that began the span; another thread may end it too (an
  /// asynchronous body). An id that is not open (never begun, already ended) is
  /// ignored.
  void end_span(std::uint64_t id, bool failed);

  /// The completed spans, in start order (ties by id). Spans still open are not
  /// included.
  std::vector<TraceSpan> spans() const;

  /// Forgets the completed spans and resets dropped(). Spans open now are kept
  /// when they end; ids keep counting, so they stay unique across clears.
  void clear();

  /// How many completed spans were dropped because the recorder was full.
  std::uint64_t dropped() const noexcept;

  std::size_t capacity() const noexcept;

  /// The completed spans as Chrome trace-event JSON, which Perfetto and
  /// chrome://tracing import: {"traceEvents":[...],"displayTimeUnit":"ms"}, one
  /// complete event ("ph":"X") per span in start order, "ts" and "dur" in
  /// microseconds (fractional) with "ts" relative to the first span's start,
  /// "pid" 1, "tid" the worker number, and "args" holding id, parent, item,
  /// shard, transform and failed.
  std::string to_chrome_json() const;

  /// Writes to_chrome_json() to `path`, replacing the file. Throws
  /// std::runtime_error naming the path when it cannot be written.
  void write_chrome_json(const std::string& path) const;

private:
  struct State;
  std::unique_ptr<State> state_;
};

/// The process-wide recorder the runtime writes to when trace_execution is on.
/// It is never destroyed, so threads still running at exit can record safely.
ExecutionTrace& execution_trace();

/// Records one span in execution_trace() around a scope (an operator body).
/// When `enabled` is false it does nothing and costs one branch: no
/// allocation, no lock, no clock read. When enabled, the span ends in the
/// destructor, on the same thread, failed if mark_failed() was called or if the
/// destructor runs while an exception thrown inside the scope unwinds it.
class [[nodiscard]] ScopedSpan {
public:
  ScopedSpan(bool enabled, std::uint64_t parent, std::string_view operator_name,
             std::string_view transform = {}, std::int64_t item = -1, std::int64_t shard = -1) {
    if (enabled) [[unlikely]]
      begin(parent, operator_name, transform, item, shard);
  }
  ~ScopedSpan() {
    if (id_ != 0) [[unlikely]]
      end();
  }
  ScopedSpan(const ScopedSpan&) = delete;
  ScopedSpan& operator=(const ScopedSpan&) = delete;

  /// The span's id, the parent for spans opened inside it; 0 when disabled.
  std::uint64_t id() const noexcept { return id_; }

  /// Records the span as failed when it ends (an error that is not an exception).
  void mark_failed() noexcept { failed_ = true; }

private:
  void begin(std::uint64_t parent, std::string_view operator_name, std::string_view transform,
             std::int64_t item, std::int64_t shard);
  void end() noexcept;

  std::uint64_t id_ = 0;
  // std::uncaught_exceptions() when the span began: a higher count in the
  // destructor means this scope is being unwound (a span opened inside some
  // other destructor during unwinding is not failed by that).
  int uncaught_at_begin_ = 0;
  bool failed_ = false;
};

} // namespace ember::xcs
