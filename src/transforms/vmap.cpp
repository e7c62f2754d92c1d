#include "ember/xcs/transforms/vmap.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ember/core/exceptions.hpp"
#include "ember/core/types/json.hpp"
#include "ember/xcs/engine/execution_context.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "runtime/batch_supervisor.hpp"
#include "transforms/batch_layout.hpp"
#include "transforms/batch_output.hpp"

namespace ember::xcs {
namespace {

using namespace detail;

// Stacks results on the workers that produce them (fail_fast = true, the
// synchronous runner): each result's values go into the output lists at its
// index and the result is freed there, so the calling thread has no serial
// stacking tail and frees nothing another thread allocated (with glibc, a
// cross-thread free of a worker's memory also hands that arena's pages back
// to the system, to be faulted in again by the next call). The first result
// taken fixes the fields and sizes the lists; a result that comes while
// another worker does that, or that has other fields, is left to the batch
// outcome, where the calling thread stacks it or names the mismatch.
class Stacker {
public:
  /// With `fields` (the last call's), the lists are made here, on the calling
  /// thread before the workers start, as they are without helpers: a cold
  /// list faults in its pages (about 6 ms per 100,000 items here), and that
  /// must not fall on one worker while the other waits or works around it.
  Stacker(std::size_t size, const std::vector<std::string>* fields) : size_(size) {
    if (fields != nullptr && size > 0)
      make_lists(*fields);
  }

  bool absorb(std::size_t index, const Record& result) {
    if (!ready_.load(std::memory_order_acquire) && !try_set_fields(result))
      return false;
    if (!matches(result))
      return false;
    put(index, result);
    return true;
  }

  /// Whether any result was taken (read after the batch ended).
  bool used() const {
    return ready_.load(std::memory_order_acquire) &&
           std::find(taken_.begin(), taken_.end(), 1) != taken_.end();
  }
  bool taken(std::size_t index) const noexcept { return taken_[index] != 0; }
  const std::vector<std::string>& keys() const noexcept { return keys_; }

  /// Whether `result` has exactly the fields set.
  bool matches(const Record& result) const {
    if (result.size() != keys_.size())
      return false;
    std::size_t column = 0;
    for (const auto& entry : result)
      if (entry.first != keys_[column++])
        return false;
    return true;
  }

  /// Stacks a matching `result` as item `index`.
  void put(std::size_t index, const Record& result) {
    std::size_t column = 0;
    for (const auto& entry : result)
      lists_[column++][index] = entry.second;
    taken_[index] = 1;
  }

  /// The stacked output, once every item was put.
  Record take_output() {
    std::vector<Record::Entry> columns;
    columns.reserve(keys_.size());
    for (std::size_t c = 0; c < keys_.size(); ++c)
      columns.emplace_back(keys_[c], Value{std::move(lists_[c])});
    return Record{std::move(columns)};
  }

private:
  // Sets the fields from `result` unless another worker is at it: waiting
  // for it would stall this worker while the lists are allocated.
  bool try_set_fields(const Record& result) {
    std::unique_lock lock{mutex_, std::try_to_lock};
    if (!lock)
      return false;
    if (!ready_.load(std::memory_order_relaxed)) {
      std::vector<std::string> fields;
      for (const auto& entry : result)
        fields.push_back(entry.first);
      make_lists(fields);
    }
    return true;
  }

  void make_lists(const std::vector<std::string>& fields) {
    keys_ = fields;
    lists_.resize(keys_.size());
    for (auto& list : lists_)
      list.resize(size_);
    taken_.assign(size_, 0);
    ready_.store(true, std::memory_order_release);
  }

  std::size_t size_;
  std::mutex mutex_;
  std::atomic<bool> ready_{false};
  std::vector<std::string> keys_;
  std::vector<List> lists_;
  std::vector<std::uint8_t> taken_; // per item, written by the worker that took it
};

// What vmap hands the runtime and what it makes of the outcome; shared by
// the synchronous and the asynchronous operator.
class VmapShape {
public:
  VmapShape(std::string name, OperatorRef inner, VmapSpec spec)
      : name_(std::move(name)), inner_(std::move(inner)), spec_(std::move(spec)) {}

  BatchSpec batch(const Record& inputs) const {
    auto layout = batch_layout("vmap", inner_.name(), inputs, spec_.in_axes, spec_.axis_size);
    BatchSpec spec{name_, "vmap", inner_, layout.size, false,
                   [inputs, layout](std::size_t i) { return item_inputs(inputs, layout, i); }};
    spec.worker_item_inputs = [inputs, layout] {
      return std::function<Record(std::size_t)>{
          [own = worker_inputs(inputs, layout), layout](std::size_t i) {
            return item_inputs(own, layout, i);
          }};
    };
    return spec;
  }

  Record output(BatchOutcome& outcome, bool fail_fast, Stacker* stacker = nullptr) const {
    if (stacker != nullptr && stacker->used())
      return stacked(outcome, *stacker);
    if (fail_fast)
      return stack(outcome, {});
    auto errors = lift_reports(outcome);
    std::vector<bool> partial(outcome.results.size(), false);
    for (const auto& entry : errors)
      if (entry.as_record().contains("inner"))
        partial[static_cast<std::size_t>(entry.as_record().get<std::int64_t>("index"))] = true;
    Record output = stack(outcome, partial);
    output.set(errors_field, std::move(errors));
    return output;
  }

private:
  // fail_fast = false. An item that is itself a batch (a nested vmap or pmap)
  // reports its failed items in its own "_errors": they move into this batch's
  // list as {"index": item, "message": m, "inner": the nested entry}, so no
  // failure is dropped however deep it happened. The list is in item order.
  List lift_reports(BatchOutcome& outcome) const {
    List errors;
    auto failure = outcome.failures.begin(); // sorted by index
    for (std::size_t i = 0; i < outcome.results.size(); ++i) {
      auto index = static_cast<std::int64_t>(i);
      auto& result = outcome.results[i];
      if (!result) {
        errors.emplace_back(Record{{"index", index}, {"message", (failure++)->message}});
        continue;
      }
      // The name is reserved: whatever an item returns under it is dropped,
      // a list after its entries were lifted (as pmap does).
      const Value* nested = result->find(errors_field);
      if (nested == nullptr)
        continue;
      if (nested->is_list())
        for (const auto& entry : nested->as_list()) {
          const Value* message = entry.is_record() ? entry.as_record().find("message") : nullptr;
          if (message == nullptr || !message->is_string())
            throw ExecutionError(name_ + ": item " + std::to_string(i) + " returned '" +
                                 errors_field + "' = " + to_string(*nested) +
                                 ", which is not a list of {index, message} records for its "
                                 "items; the name is reserved for per-item errors");
          errors.emplace_back(Record{{"index", index}, {"message", *message}, {"inner", entry}});
        }
      result->erase(errors_field);
    }
    return errors;
  }

  // The output the workers stacked, with the results they left stacked
  // here. One with other fields fails the call as the serial path would: the
  // first item in index order whose fields differ from the first item's.
  Record stacked(BatchOutcome& outcome, Stacker& stacker) const {
    for (std::size_t i = 0; i < outcome.results.size(); ++i) {
      if (stacker.taken(i))
        continue;
      if (!stacker.matches(*outcome.results[i]))
        throw_mismatch(outcome, stacker);
      stacker.put(i, *outcome.results[i]);
    }
    return stacker.take_output();
  }

  [[noreturn]] void throw_mismatch(const BatchOutcome& outcome, const Stacker& stacker) const {
    auto fields_of = [&](std::size_t i) {
      if (!stacker.taken(i))
        return field_names(*outcome.results[i]);
      std::vector<Record::Entry> named;
      for (const auto& key : stacker.keys())
        named.emplace_back(key, Value{});
      return field_names(Record{std::move(named)});
    };
    auto first = fields_of(0);
    for (std::size_t j = 1;; ++j)
      if (auto fields = fields_of(j); fields != first)
        throw ExecutionError(name_ + ": item " + std::to_string(j) + " returned fields " +
                             fields + " but an earlier item returned " + first);
  }

  // JAX-style stacking: one list per output field, one entry per item. The
  // fields are those of the first complete item; a `partial` item (a nested
  // batch that reported failed items) may lack some, as a nested batch whose
  // items all failed has no output fields: they stay null for it.
  Record stack(const BatchOutcome& outcome, const std::vector<bool>& partial) const {
    auto is_partial = [&](std::size_t i) { return !partial.empty() && partial[i]; };
    const Record* first = nullptr;
    for (std::size_t i = 0; i < outcome.results.size() && first == nullptr; ++i)
      if (outcome.results[i] && !is_partial(i))
        first = &*outcome.results[i];
    for (std::size_t i = 0; i < outcome.results.size() && first == nullptr; ++i)
      if (outcome.results[i] && !outcome.results[i]->empty())
        first = &*outcome.results[i];
    Record output;
    if (first == nullptr) {
      // No item produced an output: the declared output fields, all empty or null.
      for (const auto& field : inner_->specification().outputs())
        output.set(field.name, List(outcome.results.size()));
      return output;
    }
    std::vector<Record::Entry> columns;
    for (const auto& [key, value] : *first)
      columns.emplace_back(key, Value{});
    std::vector<List> lists(columns.size(), List(outcome.results.size()));
    for (std::size_t i = 0; i < outcome.results.size(); ++i) {
      const auto& result = outcome.results[i];
      if (!result)
        continue;
      std::size_t found = 0;
      for (std::size_t c = 0; c < columns.size(); ++c)
        if (const Value* value = result->find(columns[c].first)) {
          lists[c][i] = *value;
          ++found;
        }
      if (found != result->size() || (found != columns.size() && !is_partial(i)))
        throw ExecutionError(name_ + ": item " + std::to_string(i) + " returned fields " +
                             field_names(*result) + " but an earlier item returned " +
                             field_names(*first));
    }
    for (std::size_t c = 0; c < columns.size(); ++c)
      columns[c].second = Value{std::move(lists[c])};
    return Record{std::move(columns)};
  }

  std::string name_;
  OperatorRef inner_;
  VmapSpec spec_;
};

class VmapOperator final : public Operator {
public:
  VmapOperator(OperatorRef inner, VmapSpec spec)
      : Operator("vmap(" + inner.name() + ")", {}, inner->kind()),
        shape_(name(), std::move(inner), std::move(spec)) {}

  bool memoizable() const noexcept override { return false; }

  Record forward(const Record& inputs) const override {
    auto options = current_execution_snapshot();
    auto batch = shape_.batch(inputs);
    std::shared_ptr<Stacker> stacker;
    if (options->fail_fast) {
      std::optional<std::vector<std::string>> fields;
      {
        std::lock_guard lock{fields_mutex_};
        fields = last_fields_;
      }
      stacker = std::make_shared<Stacker>(batch.size, fields ? &*fields : nullptr);
      batch.absorb = [stacker](std::size_t index, Record& result) {
        if (!stacker->absorb(index, result))
          return false;
        result = Record{}; // freed here, on the worker that made it
        return true;
      };
    }
    auto outcome = run_batch(batch);
    auto output = shape_.output(outcome, options->fail_fast, stacker.get());
    if (stacker && batch.size > 0) {
      std::vector<std::string> fields;
      for (const auto& entry : output)
        fields.push_back(entry.first);
      std::lock_guard lock{fields_mutex_};
      last_fields_ = std::move(fields);
    }
    return output;
  }

private:
  VmapShape shape_;
  // The output fields of the last call: the next call makes its lists for
  // them up front (a call whose items return other fields is stacked as
  // before and sets them anew).
  mutable std::mutex fields_mutex_;
  mutable std::optional<std::vector<std::string>> last_fields_;
};

// vmap of an asynchronous operator is asynchronous itself: its items start
// under a supervisor actor and it completes when they have ended, so nesting
// it (pmap(vmap(op)), an operator actor, an enclosing batch) holds no thread.
class AsyncVmapOperator final : public AsyncOperator {
public:
  AsyncVmapOperator(OperatorRef inner, VmapSpec spec)
      : AsyncOperator("vmap(" + inner.name() + ")", {}, inner->kind()),
        shape_(name(), std::move(inner), std::move(spec)) {}

  bool memoizable() const noexcept override { return false; }

  void start(const Record& inputs, Completion done) const override {
    auto options = current_execution_snapshot();
    auto batch = shape_.batch(inputs);
    auto context = batch_context(batch, options);
    start_batch(std::move(batch), std::move(context),
                      [self = std::static_pointer_cast<const AsyncVmapOperator>(shared_from_this()),
                       fail_fast = options->fail_fast, done](BatchOutcome* outcome,
                                                            std::exception_ptr error) {
                        if (outcome == nullptr)
                          return done.fail(std::move(error));
                        try {
                          done.succeed(self->shape_.output(*outcome, fail_fast));
                        } catch (...) {
                          done.fail(std::current_exception());
                        }
                      });
  }

private:
  VmapShape shape_;
};

} // namespace

OperatorRef vmap(OperatorRef op, VmapSpec spec) {
  if (!op)
    throw std::invalid_argument("vmap: the operator is empty");
  if (op->is_async())
    return make_operator<AsyncVmapOperator>(std::move(op), std::move(spec));
  return make_operator<VmapOperator>(std::move(op), std::move(spec));
}

} // namespace ember::xcs
