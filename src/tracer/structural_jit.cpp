#include "ember/xcs/tracer/structural_jit.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "ember/core/exceptions.hpp"
#include "ember/core/types/detail/pending_record.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "runtime/call_context.hpp"
#include "runtime/executors.hpp"
#include "runtime/failure.hpp"
#include "runtime/inline_body.hpp"
#include "runtime/invoke.hpp"
#include "runtime/runtime_core.hpp"
#include "tracer/jit_plan.hpp"

namespace ember::xcs {
namespace {

using namespace detail;

// The pending records anywhere in `inputs`: the record itself, or any record
// nested in its fields and lists. A pending record is not looked into: that
// would wait for it. Iterative: inputs nested 100,000 levels deep must not
// overflow the stack.
std::vector<ember::detail::PendingRecord*> pending_in(const Record& inputs) {
  std::vector<ember::detail::PendingRecord*> found;
  boost::container::small_vector<const Record*, 8> records{&inputs};
  boost::container::small_vector<const List*, 4> lists;
  auto visit = [&](const Value& value) {
    if (value.is_record())
      records.push_back(&value.as_record());
    else if (value.is_list())
      lists.push_back(&value.as_list());
  };
  while (!records.empty() || !lists.empty()) {
    if (!lists.empty()) {
      const List* list = lists.back();
      lists.pop_back();
      for (const auto& element : *list)
        visit(element);
      continue;
    }
    const Record* record = records.back();
    records.pop_back();
    if (auto* pending = ember::detail::pending_of(*record)) {
      found.push_back(pending);
      continue;
    }
    for (const auto& entry : *record)
      visit(entry.second);
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

// One sub-operator call inside a jitted forward: queued until a helper, a
// reader or the frame's drain claims it; then running; then done. Its body
// starts only once every pending record in its inputs is finished, so a body
// never waits for another call's result while it runs user code (which may
// hold a lock the other call's body needs).
class JitCall final : public ember::detail::PendingRecord,
                      public std::enable_shared_from_this<JitCall> {
public:
  // The call keeps a copy of the frame's context, not the frame: the frame
  // holds its calls, and pending records may outlive the frame. `inputs`
  // keeps the records in `waits` alive.
  JitCall(CallContext context, OperatorRef op, Record inputs,
          std::vector<ember::detail::PendingRecord*> waits, ExecutionSnapshot options,
          const CallInterceptor* frame, std::size_t index)
      : context_(std::move(context)), op_(std::move(op)), inputs_(std::move(inputs)),
        waits_(std::move(waits)), options_(std::move(options)), frame_(frame), index_(index) {}

  // The records this call waits for before its body starts.
  const std::vector<ember::detail::PendingRecord*>& waits() const noexcept { return waits_; }

  const CallInterceptor* frame() const noexcept { return frame_; }
  std::size_t index() const noexcept { return index_; }

  const Record& resolve() override {
    if (try_claim())
      run(true);
    std::unique_lock lock{mutex_};
    finished_.wait(lock, [&] { return state_ == State::done; });
    if (error_) {
      // Read by the forward's own code (its interceptor is the frame): the
      // glue could catch this failure, as it could the plain call's.
      if (current_interceptor() == frame_)
        read_by_glue_ = true;
      std::rethrow_exception(error_);
    }
    return result_;
  }

  bool try_claim() {
    std::lock_guard lock{mutex_};
    if (state_ != State::queued)
      return false;
    state_ = State::running;
    return true;
  }

  // Runs the claimed call on this thread, under the frame's context and with
  // no interceptor: a sub-operator's own calls run as its plain forward makes
  // them. An asynchronous body started by a thread that moves on (not a
  // `reader`, who waits for it anyway) ends through its completion, holding a
  // permit of the budget instead of the thread; without a free permit it runs
  // as any body does, covered by this thread's permit.
  void run(bool reader);

  std::exception_ptr error() {
    std::lock_guard lock{mutex_};
    return error_;
  }

  /// Whether the forward's code read this call's failure.
  bool read_by_glue() {
    std::lock_guard lock{mutex_};
    return read_by_glue_;
  }

  void wait() {
    std::unique_lock lock{mutex_};
    finished_.wait(lock, [&] { return state_ == State::done; });
  }

private:
  enum class State { queued, running, done };

  void end(Record result, std::exception_ptr error);
  // Starts asynchronous `op` (this call's operator) under a permit the caller
  // took; the completion releases it and ends the call.
  void start_async(const AsyncOperator& op, Record inputs, int joins_cut);

  CallContext context_;
  OperatorRef op_;
  Record inputs_;
  std::vector<ember::detail::PendingRecord*> waits_;
  ExecutionSnapshot options_;
  const CallInterceptor* frame_;
  std::size_t index_;
  std::mutex mutex_;
  std::condition_variable finished_;
  State state_ = State::queued;
  Record result_;
  std::exception_ptr error_;
  bool read_by_glue_ = false;
};

// The calls of one jitted forward. The forward's thread dispatches; helpers
// that hold a permit of the call's budget run queued calls until none is left,
// each helper posted to the executor of the call that recruited it (its
// operator's kind under device_strategy = "auto"). While the calls follow the
// cached plan, no more helpers run than the plan has calls that can run at
// once, less the forward's own thread: a chain runs on that thread alone,
// with no hand-off. A call that leaves the plan (a data-dependent forward)
// returns to recruiting a helper per call. Without helpers (`recruit` false)
// the forward's thread runs every call itself as it reads them.
class Frame final : public CallInterceptor, public std::enable_shared_from_this<Frame> {
public:
  Frame(CallContext context, std::shared_ptr<const CachedPlan> expected, bool recruit)
      : context_(std::move(context)), expected_(std::move(expected)), recruit_(recruit) {
    context_.stop = stop_.get_token();
  }

  const CallContext& context() const noexcept { return context_; }

  Record intercept(const OperatorRef& op, const Record& inputs) override {
    auto options = current_execution_snapshot();
    auto call = std::make_shared<JitCall>(context_, op, inputs, pending_in(inputs), options, this,
                                          calls_.size());
    JitPlanNode node{calls_.size(), op.name(), producers(*call)};
    if (expected_ && !expected_->expects(node))
      expected_.reset();
    plan_.push_back(std::move(node));
    calls_.push_back(call);
    {
      std::lock_guard lock{mutex_};
      queue_.push_back(call);
    }
    bool wanted = recruit_ && (!expected_ || helpers_.load() + 1 < expected_->width);
    if (wanted && context_.budget->try_acquire()) {
      ++helpers_;
      auto device = device_for(*options, op->kind());
      runtime_core()->executor(device).post(
          [frame = shared_from_this()] {
            frame->work();
            --frame->helpers_;
            frame->context_.budget->release();
          },
          thread_limit(*options));
    }
    return ember::detail::make_pending_record(call);
  }

  // Runs queued calls until none is left (a helper, or the forward's thread
  // draining at the end).
  void work() {
    while (auto call = next()) {
      if (stop_.stop_requested())
        return;
      if (call->try_claim())
        call->run(false);
    }
  }

  // After the forward ended: every call has run; the first failure in call
  // order is rethrown, as the plain forward would have thrown it at that
  // call; otherwise `own`, what the forward itself threw, if anything. A
  // failure the forward's code read belongs to that code (it may have caught
  // it, as it would the plain call's), and so does the same failure passed
  // on to the calls that took the failed result as input.
  void finish(std::exception_ptr own = nullptr) {
    work();
    // After a stop, work() left queued calls alone; claiming them here ends
    // them as cancelled (JitCall::run), so nothing waits for a call no one runs.
    for (const auto& call : calls_) {
      if (call->try_claim())
        call->run(false);
      call->wait();
    }
    std::vector<std::exception_ptr> read;
    for (const auto& call : calls_)
      if (call->read_by_glue())
        read.push_back(call->error());
    for (const auto& call : calls_) {
      auto error = call->error();
      if (!error)
        continue;
      // The forward let this failure escape: it is the plain call's throw.
      if (error == own)
        std::rethrow_exception(own);
      if (std::find(read.begin(), read.end(), error) == read.end())
        std::rethrow_exception(error);
    }
    if (own)
      std::rethrow_exception(own);
  }

  // The forward threw: calls not started never start.
  void abandon() { stop_.request_stop(); }

  // A cancelled enclosing call (its deadline, a failure) stops these calls too.
  void follow(const std::stop_token& parent) {
    following_.emplace(parent, std::function<void()>{[this] { stop_.request_stop(); }});
  }

  std::vector<JitPlanNode> take_plan() { return std::move(plan_); }

private:
  std::shared_ptr<JitCall> next() {
    std::lock_guard lock{mutex_};
    if (queue_.empty())
      return nullptr;
    auto call = queue_.front();
    queue_.pop_front();
    return call;
  }

  // The earlier calls of this frame whose pending results `call` waits for.
  std::vector<std::size_t> producers(const JitCall& call) const {
    std::vector<std::size_t> from;
    for (auto* pending : call.waits())
      if (const auto* producer = dynamic_cast<const JitCall*>(pending); producer != nullptr &&
                                                                        producer->frame() == this)
        from.push_back(producer->index());
    std::sort(from.begin(), from.end());
    return from;
  }

  CallContext context_;
  std::shared_ptr<const CachedPlan> expected_; // null once the calls left the plan
  bool recruit_;
  std::atomic<std::size_t> helpers_ = 0;       // posted and not yet back
  std::stop_source stop_;
  std::optional<std::stop_callback<std::function<void()>>> following_;
  std::vector<std::shared_ptr<JitCall>> calls_; // the forward's thread only
  std::vector<JitPlanNode> plan_;
  std::mutex mutex_;
  std::deque<std::shared_ptr<JitCall>> queue_;
};

void JitCall::run(bool reader) {
  InterceptScope plain{nullptr};
  CallScope scope{context_};
  BodyLabel label{"structural_jit", static_cast<std::int64_t>(index_), -1};
  Record result;
  std::exception_ptr error;
  try {
    auto cancelled = [&] {
      if (context_.stop.stop_requested())
        throw CancelledError("operator '" + op_->name() +
                             "' was not started: its structural_jit call was cancelled");
    };
    cancelled();
    for (auto* pending : waits_)
      pending->resolve(); // runs it here if nobody has started it; rethrows its failure
    cancelled();
    const auto* async = reader ? nullptr : dynamic_cast<const AsyncOperator*>(op_.get());
    if (async != nullptr) {
      auto inputs = async->specification().validate_inputs(async->name(), inputs_);
      if (context_.budget->try_acquire()) {
        start_async(*async, std::move(inputs), 0);
        return;
      }
    }
    result = invoke_body(*op_, inputs_, options_, label);
  } catch (...) {
    error = std::current_exception();
  }
  end(std::move(result), std::move(error));
}

void JitCall::start_async(const AsyncOperator& op, Record inputs, int joins_cut) {
  BodyLabel label{"structural_jit", static_cast<std::int64_t>(index_), -1};
  start_async_body(op, inputs, context_, label,
                   [call = shared_from_this(), &op, inputs, joins_cut](Record* outputs,
                                                                      std::exception_ptr failure) {
                     // Joined another call's body that was cut short: not this
                     // call's outcome; it starts again (bounded, as the other
                     // cache paths).
                     if (failure && is_cancelled(failure) && call->options_->enable_caching &&
                         !call->context_.stop.stop_requested() && joins_cut + 1 < 3)
                       return call->start_async(op, inputs, joins_cut + 1);
                     call->context_.budget->release();
                     call->end(outputs != nullptr ? std::move(*outputs) : Record{},
                               std::move(failure));
                   });
}

void JitCall::end(Record result, std::exception_ptr error) {
  std::lock_guard lock{mutex_};
  result_ = std::move(result);
  error_ = std::move(error);
  state_ = State::done;
  finished_.notify_all();
}

// Whether a pending record occurs anywhere in `value`. Iterative: records
// nested 100,000 levels deep must not overflow the stack.
bool holds_pending(const Value& value) {
  std::vector<const Value*> work{&value};
  while (!work.empty()) {
    const Value* next = work.back();
    work.pop_back();
    if (next->is_record()) {
      if (ember::detail::pending_of(next->as_record()) != nullptr)
        return true;
      for (const auto& entry : next->as_record())
        work.push_back(&entry.second);
    } else if (next->is_list()) {
      for (const auto& element : next->as_list())
        work.push_back(&element);
    }
  }
  return false;
}

// `value` with every pending record replaced by its result, so the jitted
// operator returns exactly what the plain forward would. Parts without a
// pending record are shared, not copied; the copy recurses only along the
// paths that lead to one.
Value materialize(const Value& value);

Record materialize(const Record& record) {
  const Record& finished = ember::detail::pending_of(record) ? ember::detail::pending_of(record)->resolve() : record;
  std::vector<Record::Entry> entries;
  for (const auto& [key, value] : finished)
    entries.emplace_back(key, materialize(value));
  return Record{std::move(entries)};
}

Value materialize(const Value& value) {
  if (!holds_pending(value))
    return value;
  if (value.is_record())
    return Value{materialize(value.as_record())};
  if (value.is_list()) {
    List elements;
    elements.reserve(value.as_list().size());
    for (const auto& element : value.as_list())
      elements.push_back(materialize(element));
    return Value{std::move(elements)};
  }
  return value;
}

enum class Strategy { automatic, parallel, sequential };

// Under "auto", a call whose previous call took less than this runs its
// sub-calls on the calling thread: a hand-off to a helper costs a thread
// wake-up (35-80 us here), more than all the bodies together.
constexpr std::chrono::microseconds cheaper_than_a_hand_off{20};

class JitOperator final : public Operator {
public:
  JitOperator(OperatorRef composite, Strategy strategy)
      : Operator(composite.name(), composite->specification(), composite->kind()),
        composite_(std::move(composite)), strategy_(strategy) {}

  bool memoizable() const noexcept override { return composite_->memoizable(); }

  Record forward(const Record& inputs) const override {
    before_nested_call(); // its sub-calls may wait: never inline on an actor's thread
    auto options = current_execution_snapshot();
    if (strategy_ == Strategy::sequential || !options->use_parallel)
      return composite_->forward(inputs);
    auto started = std::chrono::steady_clock::now();
    auto frame = make_frame(options);
    Record output;
    std::exception_ptr thrown;
    try {
      InterceptScope intercept{frame.get()};
      output = composite_->forward(inputs);
    } catch (const TimeoutError&) {
      frame->abandon(); // out of time: nothing more is run
      throw;
    } catch (const CancelledError&) {
      frame->abandon();
      throw;
    } catch (...) {
      // The forward may have read a later call's failure while an earlier,
      // unread call failed too: the plain forward would throw the earlier.
      thrown = std::current_exception();
    }
    frame->finish(thrown);
    output = materialize(output);
    auto took = std::chrono::steady_clock::now() - started;
    last_call_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count(),
                        std::memory_order_relaxed);
    plans_.record(frame->take_plan(), took);
    return output;
  }

  JitPlanCache& plans() const noexcept { return plans_; }

private:
  std::shared_ptr<Frame> make_frame(const ExecutionSnapshot& options) const {
    const CallContext* parent = current_call_context();
    // Each sub-call is placed by its own operator's kind under "auto", so
    // without max_workers the budget allows for the most concurrent executor.
    auto device = device_for(*options, kind()); // refuses an unavailable strategy here
    auto default_limit = options->device_strategy == "auto"
                             ? std::max(default_workers(Device::cpu), default_workers(Device::io))
                             : default_workers(device);
    CallContext context{options, deadline_for(options), {},
                        budget_for(parent != nullptr ? parent->budget : nullptr,
                                   options->max_workers, default_limit),
                        parent != nullptr ? parent->span : 0};
    auto cached = plans_.cached();
    bool cheap = strategy_ == Strategy::automatic && cached != nullptr &&
                 std::chrono::nanoseconds{last_call_ns_.load(std::memory_order_relaxed)} <
                     cheaper_than_a_hand_off;
    auto frame = std::make_shared<Frame>(std::move(context), std::move(cached), !cheap);
    if (parent != nullptr)
      frame->follow(parent->stop);
    return frame;
  }

  OperatorRef composite_;
  Strategy strategy_;
  mutable JitPlanCache plans_;
  mutable std::atomic<std::int64_t> last_call_ns_{0}; // the last parallel forward's duration
};

const JitOperator& jitted(const OperatorRef& op) {
  const auto* jit = dynamic_cast<const JitOperator*>(op.get());
  if (jit == nullptr)
    throw std::invalid_argument("operator '" + (op ? op.name() : std::string{"(empty)"}) +
                                "' is not a structural_jit operator");
  return *jit;
}

} // namespace

OperatorRef structural_jit(OperatorRef composite, std::string_view execution_strategy) {
  if (!composite)
    throw std::invalid_argument("structural_jit: the operator is empty");
  if (execution_strategy != "auto" && execution_strategy != "parallel" &&
      execution_strategy != "sequential")
    throw std::invalid_argument("structural_jit(" + composite.name() +
                                "): execution_strategy '" + std::string{execution_strategy} +
                                "' is not one of auto, parallel, sequential");
  auto strategy = execution_strategy == "sequential" ? Strategy::sequential
                  : execution_strategy == "parallel" ? Strategy::parallel
                                                     : Strategy::automatic;
  return make_operator<JitOperator>(std::move(composite), strategy);
}

JitStats jit_stats(const OperatorRef& op) { return jitted(op).plans().stats(); }

std::vector<JitPlanNode> jit_plan(const OperatorRef& op) { return jitted(op).plans().plan(); }

std::string jit_plan_dot(const OperatorRef& op) {
  return plan_to_dot(op.name(), jitted(op).plans().plan());
}

} // namespace ember::xcs
