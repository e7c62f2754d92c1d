#include "ember/xcs/transforms/vmap.hpp"

#include <stdexcept>

#include "ember/core/exceptions.hpp"
#include "ember/core/types/json.hpp"
#include "ember/xcs/engine/execution_context.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "runtime/async_batch.hpp"
#include "runtime/batch_run.hpp"
#include "transforms/batch_layout.hpp"
#include "transforms/batch_output.hpp"

namespace ember::xcs {
namespace {

using namespace detail;

// What vmap hands the runtime and what it makes of the outcome; shared by
// the synchronous and the asynchronous operator.
class VmapShape {
public:
  VmapShape(std::string name, OperatorRef inner, VmapSpec spec)
      : name_(std::move(name)), inner_(std::move(inner)), spec_(std::move(spec)) {}

  BatchSpec batch(const Record& inputs) const {
    auto layout = batch_layout("vmap", inner_.name(), inputs, spec_.in_axes, spec_.axis_size);
    return BatchSpec{name_, "vmap", inner_, layout.size, false,
                     [inputs, layout](std::size_t i) { return item_inputs(inputs, layout, i); }};
  }

  Record output(BatchOutcome& outcome, bool fail_fast) const {
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
    auto outcome = run_batch(shape_.batch(inputs));
    return shape_.output(outcome, options->fail_fast);
  }

private:
  VmapShape shape_;
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
    start_async_batch(std::move(batch), std::move(context),
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
