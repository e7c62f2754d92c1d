#include "ember/xcs/transforms/vmap.hpp"

#include <stdexcept>

#include "ember/core/exceptions.hpp"
#include "ember/xcs/engine/execution_context.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "transforms/batch_layout.hpp"
#include "transforms/batch_output.hpp"

namespace ember::xcs {
namespace {

using namespace detail;

class VmapOperator final : public Operator {
public:
  VmapOperator(OperatorRef inner, VmapSpec spec)
      : Operator("vmap(" + inner.name() + ")", {}, inner->kind()), inner_(std::move(inner)),
        spec_(std::move(spec)) {}

  bool memoizable() const noexcept override { return false; }

  Record forward(const Record& inputs) const override {
    auto layout = batch_layout("vmap", inner_.name(), inputs, spec_.in_axes, spec_.axis_size);
    auto options = current_execution_snapshot();
    auto outcome = run_batch(BatchSpec{name(), "vmap", inner_, layout.size, false,
                                       [inputs, layout](std::size_t i) {
                                         return item_inputs(inputs, layout, i);
                                       }});
    Record output = stack(outcome);
    if (!options->fail_fast)
      output.set(errors_field, error_records(outcome.failures));
    return output;
  }

private:
  // JAX-style stacking: one list per output field, one entry per item.
  Record stack(const BatchOutcome& outcome) const {
    const Record* first = nullptr;
    for (const auto& result : outcome.results)
      if (result) {
        first = &*result;
        break;
      }
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
      if (result->size() != columns.size())
        throw ExecutionError(name() + ": item " + std::to_string(i) + " returned fields " +
                             field_names(*result) + " but an earlier item returned " +
                             field_names(*first));
      for (std::size_t c = 0; c < columns.size(); ++c) {
        const Value* value = result->find(columns[c].first);
        if (value == nullptr)
          throw ExecutionError(name() + ": item " + std::to_string(i) + " returned fields " +
                               field_names(*result) + " but an earlier item returned " +
                               field_names(*first));
        lists[c][i] = *value;
      }
    }
    for (std::size_t c = 0; c < columns.size(); ++c)
      columns[c].second = Value{std::move(lists[c])};
    return Record{std::move(columns)};
  }

  OperatorRef inner_;
  VmapSpec spec_;
};

} // namespace

OperatorRef vmap(OperatorRef op, VmapSpec spec) {
  if (!op)
    throw std::invalid_argument("vmap: the operator is empty");
  return make_operator<VmapOperator>(std::move(op), std::move(spec));
}

} // namespace ember::xcs
