#include <ember/xcs/tracer/execution_trace.hpp>

#include <boost/json.hpp>

#include "ember/core/types/json.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace ember::xcs {
namespace {

using Clock = std::chrono::steady_clock;

// Spans of one recorder that one thread began. Only that thread adds to
// `open`; `mutex` is uncontended except while spans(), clear() or an end_span
// from another thread looks in.
struct ThreadBuffer {
  std::mutex mutex;
  std::vector<TraceSpan> open; // begun, not yet ended; innermost last
  std::vector<TraceSpan> done; // completed, counted in the recorder's `stored`
};

// A thread's buffers, one per recorder it has recorded into, found by the
// recorder's serial (not its address, which a later recorder may reuse). The
// recorder holds the buffers too, so what a thread recorded outlives the thread.
struct LocalBuffers {
  std::vector<std::pair<std::uint64_t, std::shared_ptr<ThreadBuffer>>> entries;
};
thread_local LocalBuffers local_buffers;

std::atomic<std::uint64_t> next_recorder_serial{0};
std::atomic<std::uint64_t> next_worker{0};

std::vector<TraceSpan>::iterator find_open(std::vector<TraceSpan>& open, std::uint64_t id) {
  // Spans nest, so the one ending is almost always the innermost: search from the back.
  auto found = std::find_if(open.rbegin(), open.rend(),
                            [id](const TraceSpan& span) { return span.id == id; });
  return found == open.rend() ? open.end() : std::prev(found.base());
}

// Names are arbitrary bytes and JSON text must be UTF-8: ember's lenient
// JSON writer turns what is not UTF-8 into U+FFFD. ASCII, the usual case,
// passes as it is.
std::string utf8_text(std::string_view name) {
  if (std::all_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
    return std::string{name};
  return std::string{boost::json::parse(to_string(Value{std::string{name}})).as_string()};
}

double microseconds(Clock::duration duration) {
  return std::chrono::duration<double, std::micro>(duration).count();
}

} // namespace

std::uint64_t worker_number() noexcept {
  thread_local std::uint64_t number = next_worker.fetch_add(1, std::memory_order_relaxed) + 1;
  return number;
}

struct ExecutionTrace::State {
  explicit State(std::size_t capacity)
      : serial(next_recorder_serial.fetch_add(1, std::memory_order_relaxed) + 1),
        capacity(capacity) {}

  const std::uint64_t serial;
  const std::size_t capacity;
  std::atomic<std::uint64_t> next_id{0};
  // Completed spans held in all buffers, and spans dropped for lack of room.
  // Both change only while the changing thread holds the mutex of a buffer in
  // `buffers` (finish) or all of them (clear), so clear() resets them exactly:
  // no finish can count a span between clear() emptying the buffers and
  // resetting the counts. The cap itself needs no lock: fetch_add hands out
  // each slot once, so at most `capacity` spans are stored.
  std::atomic<std::size_t> stored{0};
  std::atomic<std::uint64_t> dropped{0};

  // Guards `buffers`. Lock order: `registry` before any buffer's mutex.
  mutable std::mutex registry;
  std::vector<std::shared_ptr<ThreadBuffer>> buffers;

  // The calling thread's buffer for this recorder; null if it has none and
  // `create` is false.
  ThreadBuffer* local_buffer(bool create) {
    for (auto& [owner, buffer] : local_buffers.entries)
      if (owner == serial)
        return buffer.get();
    if (!create)
      return nullptr;
    auto buffer = std::make_shared<ThreadBuffer>();
    {
      std::lock_guard lock{registry};
      buffers.push_back(buffer);
    }
    local_buffers.entries.emplace_back(serial, buffer);
    return buffer.get();
  }

  // Moves the open span at `span` into `buffer.done`, or drops it when full.
  // The caller holds `buffer.mutex`.
  void finish(ThreadBuffer& buffer, std::vector<TraceSpan>::iterator span, Clock::time_point end,
              bool failed) noexcept {
    span->end = end;
    span->failed = failed;
    bool kept = false;
    if (stored.fetch_add(1, std::memory_order_relaxed) < capacity) {
      try {
        buffer.done.push_back(std::move(*span));
        kept = true;
      } catch (...) { // out of memory: count it as dropped rather than fail the body
      }
    }
    if (!kept) {
      stored.fetch_sub(1, std::memory_order_relaxed);
      dropped.fetch_add(1, std::memory_order_relaxed);
    }
    buffer.open.erase(span);
  }
};

ExecutionTrace::ExecutionTrace(std::size_t capacity) : state_(std::make_unique<State>(capacity)) {}

ExecutionTrace::~ExecutionTrace() = default;

// Item and shard mirror TraceSpan's fields; the runtime names them at each call.
// NOLINTBEGIN(bugprone-easily-swappable-parameters)
std::uint64_t ExecutionTrace::begin_span(std::uint64_t parent, std::string_view operator_name,
                                         std::string_view transform, std::int64_t item,
                                         std::int64_t shard) {
  // NOLINTEND(bugprone-easily-swappable-parameters)
  auto id = state_->next_id.fetch_add(1, std::memory_order_relaxed) + 1;
  TraceSpan span;
  span.id = id;
  span.parent = parent;
  span.operator_name = operator_name;
  span.transform = transform;
  span.item = item;
  span.shard = shard;
  span.worker = worker_number();
  auto& buffer = *state_->local_buffer(true);
  std::lock_guard lock{buffer.mutex};
  span.start = Clock::now();
  buffer.open.push_back(std::move(span));
  return id;
}

void ExecutionTrace::end_span(std::uint64_t id, bool failed) {
  auto end = Clock::now();
  auto* own = state_->local_buffer(false);
  if (own != nullptr) {
    std::lock_guard lock{own->mutex};
    if (auto span = find_open(own->open, id); span != own->open.end()) {
      state_->finish(*own, span, end, failed);
      return;
    }
  }
  // Begun on another thread (an asynchronous body resumed elsewhere): look
  // through every buffer. Rare, so the registry lock is acceptable here.
  std::lock_guard registry{state_->registry};
  for (auto& buffer : state_->buffers) {
    if (buffer.get() == own)
      continue;
    std::lock_guard lock{buffer->mutex};
    if (auto span = find_open(buffer->open, id); span != buffer->open.end()) {
      state_->finish(*buffer, span, end, failed);
      return;
    }
  }
}

std::vector<TraceSpan> ExecutionTrace::spans() const {
  std::vector<TraceSpan> result;
  {
    std::lock_guard registry{state_->registry};
    result.reserve(state_->stored.load(std::memory_order_relaxed));
    for (const auto& buffer : state_->buffers) {
      std::lock_guard lock{buffer->mutex};
      result.insert(result.end(), buffer->done.begin(), buffer->done.end());
    }
  }
  std::sort(result.begin(), result.end(), [](const TraceSpan& a, const TraceSpan& b) {
    return a.start != b.start ? a.start < b.start : a.id < b.id;
  });
  return result;
}

void ExecutionTrace::clear() {
  std::lock_guard registry{state_->registry};
  {
    // Hold every buffer at once so that the counts are reset together with
    // the buffers they count (see State::stored).
    std::vector<std::unique_lock<std::mutex>> locks;
    locks.reserve(state_->buffers.size());
    for (auto& buffer : state_->buffers) {
      locks.emplace_back(buffer->mutex);
      buffer->done = {}; // release the memory, not only the elements
    }
    state_->stored.store(0, std::memory_order_relaxed);
    state_->dropped.store(0, std::memory_order_relaxed);
  }
  // Forget buffers of threads that have exited: only the registry still holds
  // them, and no thread can get them back (threads find buffers through their
  // own thread_local entries). One with open spans stays: another thread may
  // still end them.
  std::erase_if(state_->buffers, [](const std::shared_ptr<ThreadBuffer>& buffer) {
    std::lock_guard lock{buffer->mutex};
    return buffer.use_count() == 1 && buffer->open.empty();
  });
}

std::uint64_t ExecutionTrace::dropped() const noexcept {
  return state_->dropped.load(std::memory_order_relaxed);
}

std::size_t ExecutionTrace::capacity() const noexcept {
  return state_->capacity;
}

// Times are fractional microseconds so sub-microsecond bodies keep a duration.
// Boost.JSON writes doubles in exponent form (3.395E0): valid JSON, which
// Perfetto's JSON importer and chrome://tracing (JSON.parse) read as numbers.
std::string ExecutionTrace::to_chrome_json() const {
  auto all = spans();
  auto origin = all.empty() ? Clock::time_point{} : all.front().start;
  boost::json::array events;
  events.reserve(all.size());
  for (const auto& span : all) {
    boost::json::object event;
    event["name"] = utf8_text(span.operator_name);
    event["cat"] = "ember";
    event["ph"] = "X";
    event["ts"] = microseconds(span.start - origin);
    event["dur"] = microseconds(span.end - span.start);
    event["pid"] = 1;
    event["tid"] = span.worker;
    event["args"] = {{"id", span.id},       {"parent", span.parent},       {"item", span.item},
                     {"shard", span.shard}, {"transform", utf8_text(span.transform)}, {"failed", span.failed}};
    events.emplace_back(std::move(event));
  }
  boost::json::object root;
  root["traceEvents"] = std::move(events);
  root["displayTimeUnit"] = "ms";
  return boost::json::serialize(root);
}

void ExecutionTrace::write_chrome_json(const std::string& path) const {
  auto json = to_chrome_json();
  errno = 0;
  std::ofstream file{path, std::ios::binary | std::ios::trunc};
  if (file)
    file.write(json.data(), static_cast<std::streamsize>(json.size()));
  if (file)
    file.close();
  if (!file) {
    std::string reason = errno != 0 ? std::strerror(errno) : "write failed";
    throw std::runtime_error("cannot write the execution trace to '" + path + "': " + reason);
  }
}

ExecutionTrace& execution_trace() {
  // Never destroyed: threads that still run bodies during static destruction
  // (the actor system shuts down at exit) may record into it.
  static auto* trace = new ExecutionTrace();
  return *trace;
}

void ScopedSpan::begin(std::uint64_t parent, std::string_view operator_name,
                       std::string_view transform, std::int64_t item, std::int64_t shard) {
  uncaught_at_begin_ = std::uncaught_exceptions();
  id_ = execution_trace().begin_span(parent, operator_name, transform, item, shard);
}

void ScopedSpan::end() noexcept {
  bool unwinding = std::uncaught_exceptions() > uncaught_at_begin_;
  try {
    execution_trace().end_span(id_, failed_ || unwinding);
  } catch (...) { // a lock error: losing one span beats terminating in a destructor
  }
}

} // namespace ember::xcs
