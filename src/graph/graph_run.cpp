// Running a Graph as dataflow: the calling thread runs ready nodes itself,
// helpers are recruited from the executors while more nodes are ready than
// threads are free (each helper holding a permit of the call's budget), and a
// supervisor actor holds the deadline.
#include <caf/all.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "ember/core/exceptions.hpp"
#include "graph/graph_structure.hpp"
#include "runtime/adaptive_mutex.hpp"
#include "runtime/call_context.hpp"
#include "runtime/executors.hpp"
#include "runtime/failure.hpp"
#include "runtime/inline_body.hpp"
#include "runtime/invoke.hpp"
#include "runtime/run_before.hpp"
#include "runtime/runtime_core.hpp"

namespace ember::xcs::detail {
namespace {

using Clock = this_call::Clock;
using deadline_atom = caf::atom_constant<caf::atom("e_deadln")>;
using finished_atom = caf::atom_constant<caf::atom("e_done")>;

enum class NodeStatus : unsigned char { waiting, running, finished, failed, skipped };

// A parallel run under this much per node has cheap nodes (GraphShape::cheap_nodes).
constexpr auto cheap_node = std::chrono::microseconds{1};
// How long a run with cheap nodes may sit in one node while others are ready.
constexpr auto stall = std::chrono::microseconds{100};


// The inputs of a node with predecessors: their outputs through the incoming
// edges, in edge insertion order.
Record gather_inputs(const GraphStructure& graph, std::size_t node,
                     const std::vector<std::optional<Record>>& outputs) {
  Record inputs;
  for (auto edge_index : graph.nodes[node].inbound) {
    const auto& edge = graph.edges[edge_index];
    const Record& source = *outputs[graph.edge_from[edge_index]];
    if (edge.mapping.empty()) {
      if (inputs.empty())
        inputs = source; // the common single-edge case: a pointer copy
      else
        for (const auto& [field, value] : source)
          inputs.set(field, value);
      continue;
    }
    for (const auto& [output, input] : edge.mapping) {
      const Value* value = source.find(output);
      if (value == nullptr)
        throw std::invalid_argument("edge '" + edge.from + "' -> '" + edge.to +
                                    "' maps output field '" + output + "', which node '" +
                                    edge.from + "' did not return");
      inputs.set(input, *value);
    }
  }
  return inputs;
}

// Shared by the calling thread, the helpers and the supervisor; whoever
// finishes last frees it. Everything under mutex_ except outputs_[i], which
// is written once under the lock before node i's successors become ready and
// read by them only after they were popped under the lock.
class GraphRun : public std::enable_shared_from_this<GraphRun> {
public:
  GraphRun(std::shared_ptr<const GraphStructure> graph, std::shared_ptr<const GraphShape> shape,
           Record inputs, CallContext context, const ExecutionOptions& options,
           std::array<Device, 2> device_of_kind)
      : graph_(std::move(graph)), shape_(std::move(shape)), inputs_(std::move(inputs)),
        context_(std::move(context)), fail_fast_(options.fail_fast),
        parallel_(options.use_parallel),
        eager_(!shape_->cheap_nodes.load(std::memory_order_relaxed)),
        device_of_kind_(device_of_kind),
        outputs_(graph_->nodes.size()),
        status_(graph_->nodes.size(), NodeStatus::waiting), pending_(graph_->nodes.size()),
        blocked_(graph_->nodes.size(), false), async_(graph_->nodes.size(), false),
        joins_cut_(graph_->nodes.size(), 0),
        remaining_(graph_->nodes.size()) {
    context_.stop = stop_.get_token();
    for (std::size_t node = pending_.size(); node-- > 0;) {
      pending_[node] = graph_->nodes[node].inbound.size();
      async_[node] = graph_->nodes[node].op->is_async();
      if (pending_[node] == 0)
        make_ready(node);
    }
  }

  std::stop_source& stop() noexcept { return stop_; }
  const std::optional<Clock::time_point>& deadline() const noexcept { return context_.deadline; }

  // Called by the supervisor's timer: notes what the deadline caught
  // running before the stop lets those bodies end.
  void deadline_passed() {
    {
      std::lock_guard lock{mutex_};
      if (!timeout_message_)
        timeout_message_ = timeout_message();
    }
    cancel();
  }

  // Called by a cancelled enclosing call, or at the deadline.
  void cancel() {
    stop_.request_stop();
    std::lock_guard lock{mutex_};
    signal();
  }

  // Runs ready nodes until the run settles. The caller stays and waits for
  // nodes to become ready; a helper leaves as soon as none is, giving its
  // permit back, and a finishing node recruits anew when needed.
  void work(bool caller) {
    CallScope scope{context_};
    if (!parallel_)
      return run_in_order();
    std::unique_lock lock{mutex_};
    if (!caller)
      --starting_;
    auto has_work = [&] { return settled() || !ready_.empty() || !launch_.empty(); };
    for (;;) {
      launch(lock);
      post(recruit(1), lock);
      watch(lock);
      if (!has_work()) {
        ++idle_;
        spin_for_work(lock);
        if (!has_work() && !caller) {
          --idle_;
          return;
        }
        bool woke = true;
        if (!has_work()) {
          ++sleeping_;
          if (deadline())
            woke = changed_.wait_until(lock, *deadline(), has_work);
          else
            changed_.wait(lock, has_work);
          --sleeping_;
        }
        --idle_;
        if (!woke)
          return;
      }
      if (settled())
        return;
      if (ready_.empty())
        continue; // woken to launch asynchronous nodes
      auto node = ready_.back();
      ready_.pop_back();
      status_[node] = NodeStatus::running;
      if (async_[node] && start_async(node, lock))
        continue;
      lock.unlock();
      run_and_complete(node, lock);
    }
  }

  // The calling thread, after its own work(): the outcome, or what ended the run.
  GraphResult finish() {
    std::unique_lock lock{mutex_};
    if (parallel_ && remaining_ == 0) {
      auto per_node = (Clock::now() - started_) / graph_->nodes.size();
      shape_->cheap_nodes.store(per_node < cheap_node, std::memory_order_relaxed);
    }
    // Stops outside the lock (see stop_outside), then throws.
    auto stop_and = [&](auto&& raise) {
      lock.unlock();
      stop_.request_stop();
      raise();
    };
    // Past the deadline, a node that fails because it was stopped is not the
    // outcome: the timeout is.
    if (timeout_message_ && remaining_ != 0)
      stop_and([message = *timeout_message_] { throw TimeoutError(message); });
    if (first_failure_)
      stop_and([this, failure = *first_failure_] { rethrow_failure(failure); });
    if (remaining_ != 0) {
      if (deadline() && Clock::now() >= *deadline())
        stop_and([message = timeout_message_ ? *timeout_message_ : timeout_message()] {
          throw TimeoutError(message);
        });
      stop_and([] { throw CancelledError("graph: cancelled by its enclosing call"); });
    }
    // In id order every insertion lands at the end, after one comparison.
    GraphResult result;
    result.outputs.reserve(outputs_.size() - failures_.size() - skipped_);
    result.skipped.reserve(skipped_);
    for (auto node : shape_->by_id) {
      const auto& id = graph_->nodes[node].id;
      if (status_[node] == NodeStatus::finished)
        result.outputs.emplace_hint(result.outputs.end(), id, std::move(*outputs_[node]));
      else if (status_[node] == NodeStatus::skipped)
        result.skipped.emplace_hint(result.skipped.end(), id);
    }
    for (auto& [node, message] : failures_)
      result.failed.emplace(graph_->nodes[node].id, std::move(message));
    return result;
  }

private:
  struct Failure {
    std::size_t node;
    std::exception_ptr error;
  };

  // use_parallel = false: topological_order() on the calling thread.
  void run_in_order() {
    std::unique_lock lock{mutex_};
    for (auto node : shape_->order) {
      if (settled())
        return;
      if (status_[node] == NodeStatus::skipped)
        continue;
      status_[node] = NodeStatus::running;
      lock.unlock();
      run_and_complete(node, lock);
    }
  }

  // Runs the node unlocked and records its outcome under the lock, which it
  // returns holding.
  void run_and_complete(std::size_t node, std::unique_lock<AdaptiveMutex>& lock) {
    std::optional<Record> output;
    std::exception_ptr error;
    try {
      output = run_node(node);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    complete(node, std::move(output), error);
    stop_outside(lock);
  }

  // Under the lock: which nodes the deadline caught running, and how many
  // had not started.
  std::string timeout_message() const {
    constexpr std::size_t named = 3;
    std::string running;
    std::size_t running_count = 0;
    for (std::size_t node = 0; node < status_.size(); ++node) {
      if (status_[node] != NodeStatus::running)
        continue;
      if (++running_count > named)
        continue;
      running += (running.empty() ? "'" : ", '") + graph_->nodes[node].id + "' (operator '" +
                 graph_->nodes[node].op.name() + "')";
    }
    if (running_count > named)
      running += " and " + std::to_string(running_count - named) + " more";
    auto not_started = remaining_ - running_count;
    std::string message = "graph timed out: the deadline of " +
                          deadline_source(*context_.options) + " passed with ";
    if (running_count > 0)
      message += (running_count == 1 ? "node " : "nodes ") + running + " still running";
    if (running_count > 0 && not_started > 0)
      message += " and ";
    if (not_started > 0)
      message += std::to_string(not_started) + (not_started == 1 ? " node" : " nodes") +
                 " not started";
    return message;
  }

  bool settled() const {
    return first_failure_ || stopping_ || stop_.stop_requested() || remaining_ == 0;
  }

  // Requests the stop complete() decided on, outside the lock: a stop
  // callback may complete an asynchronous body on this thread, and that
  // body's end takes the lock. Returns holding it.
  void stop_outside(std::unique_lock<AdaptiveMutex>& lock) {
    if (!stopping_ || stop_.stop_requested())
      return;
    lock.unlock();
    stop_.request_stop();
    lock.lock();
  }

  Record node_inputs(std::size_t node) const {
    return graph_->nodes[node].inbound.empty() ? inputs_ : gather_inputs(*graph_, node, outputs_);
  }

  Record run_node(std::size_t node) {
    return invoke_body(*graph_->nodes[node].op, node_inputs(node), context_.options,
                       {"graph", static_cast<std::int64_t>(node), -1});
  }

  // Under the lock: a node whose inputs are all there. An asynchronous one
  // waits to be launched, a synchronous one for a thread to run it.
  void make_ready(std::size_t node) {
    if (parallel_)
      (async_[node] ? launch_ : ready_).push_back(node);
  }

  // Under the lock, which it may release: starts the asynchronous nodes
  // waiting to be launched, each holding a permit of the budget instead of a
  // thread. One that gets no permit is run by a thread like any node. A
  // completion reported at once (a cache hit) leaves what it released to this
  // loop rather than launching from inside the start.
  void launch(std::unique_lock<AdaptiveMutex>& lock) {
    thread_local const GraphRun* launching = nullptr; // the run this thread launches for
    if (launching == this)
      return;
    struct Restore {
      const GraphRun* previous;
      ~Restore() { launching = previous; }
    } restore{launching};
    launching = this;
    while (!launch_.empty() && !settled()) {
      auto node = launch_.back();
      launch_.pop_back();
      status_[node] = NodeStatus::running;
      if (!start_async(node, lock)) {
        status_[node] = NodeStatus::waiting;
        ready_.push_back(node);
      }
    }
  }

  // Starts asynchronous node `node` if a permit is free: it ends through its
  // completion, on whatever thread reports it, and no thread waits for it.
  // Called under the lock; returns holding it.
  bool start_async(std::size_t node, std::unique_lock<AdaptiveMutex>& lock) {
    if (!context_.budget->try_acquire())
      return false;
    const auto& op = static_cast<const AsyncOperator&>(*graph_->nodes[node].op);
    lock.unlock();
    Record inputs;
    try {
      inputs = op.specification().validate_inputs(op.name(), node_inputs(node));
    } catch (...) {
      context_.budget->release();
      lock.lock();
      complete(node, std::nullopt, std::current_exception());
      stop_outside(lock);
      return true;
    }
    start_async_body(op, inputs, context_, {"graph", static_cast<std::int64_t>(node), -1},
                     [run = shared_from_this(), node](Record* outputs, std::exception_ptr error) {
                       run->context_.budget->release();
                       std::optional<Record> output;
                       if (outputs != nullptr)
                         output = std::move(*outputs);
                       run->ended_async(node, std::move(output), std::move(error));
                     });
    lock.lock();
    return true;
  }

  // An asynchronous node's end, on the thread that reported it, which runs no
  // bodies: it launches the asynchronous nodes released, tells idle threads
  // and recruits helpers for the rest.
  void ended_async(std::size_t node, std::optional<Record> output, std::exception_ptr error) {
    std::unique_lock lock{mutex_};
    if (error && is_cancelled(error) && context_.options->enable_caching && !settled() &&
        ++joins_cut_[node] < 3) {
      // Joined another call's body that was cut short: not this node's
      // outcome; it starts again (bounded, as the other cache paths).
      launch_.push_back(node);
    } else {
      complete(node, std::move(output), std::move(error));
      stop_outside(lock);
    }
    launch(lock);
    signal();
    post(recruit(0), lock);
  }

  // Under the lock: records the node's outcome and releases its successors.
  void complete(std::size_t node, std::optional<Record> output, std::exception_ptr error) {
    if (error && deadline() && Clock::now() >= *deadline() && is_timeout(error)) {
      // A nested call in the node ran into this run's deadline before the
      // supervisor's timer fired: the run timed out, the node did not fail.
      if (!timeout_message_)
        timeout_message_ = timeout_message();
      stopping_ = true; // requested outside the lock: stop_outside()
      signal();
      return;
    }
    if (error && fail_fast_) {
      if (!first_failure_)
        first_failure_ = Failure{node, error};
      stopping_ = true; // requested outside the lock: stop_outside()
      signal();
      return;
    }
    if (error) {
      status_[node] = NodeStatus::failed;
      failures_.emplace_back(node, message_of(error));
    } else {
      status_[node] = NodeStatus::finished;
      outputs_[node] = std::move(output);
    }
    --remaining_;
    release_successors(node);
    // This thread takes one ready node itself next: waking an idle thread
    // for it would only make that thread find nothing and wait again.
    if (idle_ > 0 && (ready_.size() > 1 || remaining_ == 0))
      signal();
  }

  // Under the lock: tells idle threads to look again. Spinning ones see the
  // count change; only sleeping ones cost a wake-up.
  void signal() {
    changes_.store(changes_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    if (sleeping_ > 0)
      changed_.notify_all();
  }

  // An idle thread polls for a short while before it sleeps or leaves: the
  // next node is usually released within microseconds, and a sleep costs a
  // wake-up of 35-80 us plus two system calls on the releasing thread.
  // Returns holding the lock.
  void spin_for_work(std::unique_lock<AdaptiveMutex>& lock) {
    constexpr auto spin = std::chrono::microseconds{50};
    const auto seen = changes_.load(std::memory_order_relaxed);
    lock.unlock();
    const auto until = Clock::now() + spin;
    for (unsigned polls = 1; changes_.load(std::memory_order_acquire) == seen; ++polls) {
      if (polls % 64 == 0) {
        if (Clock::now() >= until)
          break;
        std::this_thread::yield();
      }
    }
    lock.lock();
  }

  // A successor whose last predecessor just ended becomes ready, unless some
  // predecessor failed or was skipped: then it is skipped, and so on downstream.
  void release_successors(std::size_t node) {
    auto& ended = ended_;
    ended.push_back(node);
    while (!ended.empty()) {
      auto from = ended.back();
      ended.pop_back();
      for (auto edge : graph_->nodes[from].outbound) {
        auto to = graph_->edge_to[edge];
        if (status_[from] != NodeStatus::finished)
          blocked_[to] = true;
        if (--pending_[to] != 0)
          continue;
        if (blocked_[to]) {
          status_[to] = NodeStatus::skipped;
          ++skipped_;
          --remaining_;
          ended.push_back(to);
        } else {
          make_ready(to);
        }
      }
    }
  }

  // Cheap nodes (see GraphShape::cheap_nodes): a helper would cost more in
  // wake-ups and contention than it saves, so the calling thread runs the
  // nodes alone. Once a second node is ready, a watcher on the I/O pool
  // checks every `stall`: should no node end in that time while others are
  // ready (a slow or blocking body), the run turns eager and recruits helpers
  // as usual. A ready node then waits about `stall` at most, never for its
  // sibling to end. Called under the lock, which it may release.
  void watch(std::unique_lock<AdaptiveMutex>& lock) {
    if (eager_ || watching_ || settled() || ready_.size() < 2)
      return;
    watching_ = true;
    lock.unlock();
    runtime_core()->executor(Device::io).post([run = shared_from_this()] {
      std::unique_lock lock{run->mutex_};
      for (;;) {
        auto seen = run->remaining_;
        lock.unlock();
        std::this_thread::sleep_for(stall);
        lock.lock();
        if (run->settled() || run->eager_)
          return;
        if (run->remaining_ == seen && !run->ready_.empty()) {
          run->eager_ = true;
          run->post(run->recruit(1), lock);
          return;
        }
      }
    });
    lock.lock();
  }

  // Under the lock: the executors to post one helper each to, for the ready
  // nodes that no running, idle or starting thread will take; `asking` is 1
  // when the thread asking takes one itself.
  std::vector<Device> recruit(std::size_t asking) {
    std::vector<Device> helpers;
    if (!parallel_ || !eager_ || settled())
      return helpers;
    auto taken = asking + idle_ + starting_;
    for (auto wanted = ready_.size(); wanted > taken; --wanted) {
      if (!context_.budget->try_acquire())
        break;
      helpers.push_back(device_of(ready_[wanted - 1]));
      ++starting_;
    }
    return helpers;
  }

  // Posting can start a thread: done outside the lock.
  void post(const std::vector<Device>& helpers, std::unique_lock<AdaptiveMutex>& lock) {
    if (helpers.empty())
      return;
    lock.unlock();
    auto core = runtime_core();
    for (auto device : helpers)
      core->executor(device).post(
          [run = shared_from_this()] {
            run->work(false);
            run->context_.budget->release();
          },
          thread_limit(*context_.options));
    lock.lock();
  }

  Device device_of(std::size_t node) const {
    return device_of_kind_[static_cast<std::size_t>(shape_->kinds[node])];
  }

  [[noreturn]] void rethrow_failure(const Failure& failure) const {
    const auto& node = graph_->nodes[failure.node];
    rethrow_as_execution_error(failure.error, "graph: node '" + node.id + "' (operator '" +
                                                  node.op.name() + "') failed");
  }


  std::shared_ptr<const GraphStructure> graph_;
  std::shared_ptr<const GraphShape> shape_;
  Record inputs_;
  CallContext context_;
  bool fail_fast_;
  bool parallel_;
  bool eager_; // false while the run keeps to the calling thread (cheap nodes)
  std::array<Device, 2> device_of_kind_; ///< indexed by OperatorKind
  std::vector<std::optional<Record>> outputs_;
  std::vector<NodeStatus> status_;
  std::vector<std::size_t> pending_;
  std::vector<bool> blocked_;
  std::vector<bool> async_; ///< the node's operator is an AsyncOperator
  std::vector<std::uint8_t> joins_cut_; ///< per async node: joined cache bodies cut short
  std::vector<std::size_t> ended_; ///< release_successors' worklist, kept for reuse
  std::size_t remaining_;
  std::size_t skipped_ = 0;
  // Last released first, so a thread usually runs next the node it just
  // released, whose inputs are still in its cache. Unused when sequential.
  std::vector<std::size_t> ready_;
  std::vector<std::size_t> launch_; ///< asynchronous nodes ready to start
  Clock::time_point started_ = Clock::now();
  bool watching_ = false; // a watcher was posted (cheap nodes)
  std::size_t idle_ = 0;     // spinning or sleeping in work()
  std::size_t sleeping_ = 0; // waiting on changed_
  std::size_t starting_ = 0;
  std::atomic<std::uint64_t> changes_{0}; // bumped by signal(), under the lock
  std::stop_source stop_;
  AdaptiveMutex mutex_;
  std::condition_variable_any changed_;
  std::optional<Failure> first_failure_;
  std::optional<std::string> timeout_message_; // set when the deadline passed
  bool stopping_ = false; // complete() decided to stop; stop_outside() requests it
  std::vector<std::pair<std::size_t, std::string>> failures_;
};

// Holds the deadline: when it passes, queued nodes are dropped and running
// bodies see their stop token, even while the calling thread is itself busy
// inside a body.
caf::behavior supervisor(caf::event_based_actor* self, std::shared_ptr<GraphRun> run) {
  auto delay = std::max(*run->deadline() - Clock::now(), Clock::duration::zero());
  self->delayed_send(self, delay, deadline_atom::value);
  return {
      [=](deadline_atom) {
        run->deadline_passed();
        self->quit();
      },
      [=](finished_atom) { self->quit(); },
  };
}

// Without max_workers: enough for the most concurrent device in use.
std::size_t default_limit(const GraphShape& shape, std::array<Device, 2> device_of_kind) {
  std::size_t limit = 1;
  for (auto kind : {OperatorKind::cpu, OperatorKind::io})
    if (std::find(shape.kinds.begin(), shape.kinds.end(), kind) != shape.kinds.end())
      limit = std::max(limit, default_workers(device_of_kind[static_cast<std::size_t>(kind)]));
  return limit;
}

} // namespace

GraphResult run_graph(std::shared_ptr<const GraphStructure> graph, const Record& inputs) {
  before_nested_call();
  if (on_scheduler_thread())
    throw std::logic_error("Graph::run was called on a CAF scheduler thread, where blocking "
                           "node bodies would stall the actor system");
  auto shape = graph->shape(); // a cycle is an error before anything runs
  if (graph->nodes.empty())
    return {};
  auto options = current_execution_snapshot();
  const CallContext* parent = current_call_context();
  std::array<Device, 2> device_of_kind{device_for(*options, OperatorKind::cpu),
                                       device_for(*options, OperatorKind::io)};
  CallContext context{options, deadline_for(options), {},
                      budget_for(parent != nullptr ? parent->budget : nullptr,
                                 options->max_workers, default_limit(*shape, device_of_kind)),
                      parent != nullptr ? parent->span : 0};
  if (context.deadline && Clock::now() >= *context.deadline)
    throw TimeoutError("graph timed out: the deadline of " + deadline_source(*options) +
                       " passed before it started");
  auto run = std::make_shared<GraphRun>(std::move(graph), std::move(shape), inputs,
                                        std::move(context), *options, device_of_kind);
  // A cancelled enclosing call cancels this run too.
  std::optional<std::stop_callback<std::function<void()>>> chained;
  if (parent != nullptr)
    chained.emplace(parent->stop, std::function<void()>{[run] { run->cancel(); }});
  if (run->deadline() && parent == nullptr) {
    // The outermost timed run: its nodes run off the calling thread, which
    // answers at the deadline even if a node never polls its stop token.
    if (!run_before(*run->deadline(), Device::io, [run] { run->work(true); }))
      run->deadline_passed();
    return run->finish();
  }
  caf::actor supervising;
  if (run->deadline())
    supervising = runtime_core()->system().spawn(supervisor, run);
  run->work(true);
  if (supervising)
    caf::anon_send(supervising, finished_atom::value);
  return run->finish();
}

} // namespace ember::xcs::detail
