#include "ember/xcs/transforms/pmap.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>

#include "ember/core/exceptions.hpp"
#include "ember/core/types/json.hpp"
#include "ember/xcs/engine/execution_context.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "runtime/batch_supervisor.hpp"
#include "runtime/executors.hpp"
#include "transforms/batch_layout.hpp"
#include "transforms/batch_output.hpp"

namespace ember::xcs {
namespace {

using namespace detail;

struct Shard {
  std::size_t begin;
  std::size_t end;
};

// k contiguous shards whose sizes differ by at most one; never an empty one.
std::vector<Shard> make_shards(std::size_t items, std::size_t workers) {
  auto count = std::min(items, workers);
  std::vector<Shard> shards;
  std::size_t begin = 0;
  for (std::size_t s = 0; s < count; ++s) {
    auto size = items / count + (s < items % count ? 1 : 0);
    shards.push_back(Shard{begin, begin + size});
    begin += size;
  }
  return shards;
}

// The item index of one entry of an inner transform's "_errors" list: a
// record {index, message} whose index lies within the shard; nullopt for
// anything else (an operator's own field that happens to use the name).
std::optional<std::size_t> item_error_index(const Value& error, std::size_t shard_size) {
  if (!error.is_record())
    return std::nullopt;
  const Value* index = error.as_record().find("index");
  const Value* message = error.as_record().find("message");
  if (index == nullptr || !index->is_integer() || message == nullptr || !message->is_string() ||
      index->as_integer() < 0 || static_cast<std::uint64_t>(index->as_integer()) >= shard_size)
    return std::nullopt;
  return static_cast<std::size_t>(index->as_integer());
}

// What pmap hands the runtime and what it makes of the outcome; shared by
// the synchronous and the asynchronous operator.
class PmapShape {
public:
  PmapShape(std::string name, OperatorRef inner, std::size_t num_workers)
      : name_(std::move(name)), inner_(std::move(inner)), num_workers_(num_workers) {}

  // The batch of shards, and the shards it was cut into.
  std::pair<BatchSpec, std::vector<Shard>> batch(const Record& inputs) const {
    auto layout = batch_layout("pmap", inner_.name(), inputs, std::nullopt, std::nullopt);
    auto shards = make_shards(layout.size, num_workers_);
    BatchSpec spec{name_, "pmap", inner_, shards.size(), true,
                   [inputs, layout, shards](std::size_t s) {
                     return shard_inputs(inputs, layout, shards[s].begin, shards[s].end);
                   }};
    return {std::move(spec), std::move(shards)};
  }

  Record output(const BatchOutcome& outcome, const std::vector<Shard>& shards,
                bool fail_fast) const {
    Record output = concatenate(outcome, shards);
    if (!fail_fast)
      output.set(errors_field, errors_by_item(outcome, shards));
    return output;
  }

private:
  // Lists are concatenated in shard order; other values get one entry per
  // shard. A failed shard leaves null for each of its items (or its entry).
  Record concatenate(const BatchOutcome& outcome, const std::vector<Shard>& shards) const {
    std::vector<std::string> keys;
    for (const auto& result : outcome.results)
      if (result)
        for (const auto& [key, value] : *result)
          if (key != errors_field && std::find(keys.begin(), keys.end(), key) == keys.end())
            keys.push_back(key);
    std::vector<Record::Entry> columns;
    for (const auto& key : keys) {
      // Whether the field is per item (a list) or per shard, as the shards
      // that succeeded returned it; a failed shard leaves nulls to match.
      bool per_item = false;
      for (const auto& result : outcome.results)
        if (const Value* value = result ? result->find(key) : nullptr) {
          per_item = value->is_list();
          break;
        }
      List merged;
      for (std::size_t s = 0; s < shards.size(); ++s) {
        const Value* value = outcome.results[s] ? outcome.results[s]->find(key) : nullptr;
        if (value != nullptr && value->is_list())
          merged.insert(merged.end(), value->as_list().begin(), value->as_list().end());
        else if (value != nullptr)
          merged.push_back(*value);
        else
          merged.resize(merged.size() + (per_item ? shards[s].end - shards[s].begin : 1));
      }
      columns.emplace_back(key, Value{std::move(merged)});
    }
    return Record{std::move(columns)};
  }

  // Every item of a failed shard is reported, and per-item errors a shard
  // reported itself (fail_fast = false inside) move to batch-wide indexes,
  // whole: a nested vmap's entries keep the "inner" entry they carry. Entries
  // of one item stay in the order the shard listed them.
  List errors_by_item(const BatchOutcome& outcome, const std::vector<Shard>& shards) const {
    std::vector<ItemFailure> failures;
    for (const auto& failure : outcome.failures)
      for (auto i = shards[failure.index].begin; i < shards[failure.index].end; ++i)
        failures.push_back(ItemFailure{i, failure.message});
    List errors = error_records(failures);
    for (std::size_t s = 0; s < shards.size(); ++s) {
      const Value* inner = outcome.results[s] ? outcome.results[s]->find(errors_field) : nullptr;
      if (inner == nullptr || !inner->is_list())
        continue;
      for (const auto& error : inner->as_list()) {
        const auto index = item_error_index(error, shards[s].end - shards[s].begin);
        if (!index)
          throw ExecutionError(name_ + ": shard " + std::to_string(s) + " of " +
                               std::to_string(shards.size()) + " returned '" + errors_field +
                               "' = " + to_string(*inner) +
                               ", which is not a list of {index, message} records for its "
                               "items; the name is reserved for per-item errors");
        errors.emplace_back(error.as_record().with(
            "index", static_cast<std::int64_t>(shards[s].begin + *index)));
      }
    }
    std::stable_sort(errors.begin(), errors.end(), [](const Value& a, const Value& b) {
      return a.as_record().get<std::int64_t>("index") < b.as_record().get<std::int64_t>("index");
    });
    return errors;
  }

  std::string name_;
  OperatorRef inner_;
  std::size_t num_workers_;
};

class PmapOperator final : public Operator {
public:
  PmapOperator(OperatorRef inner, std::size_t num_workers)
      : Operator("pmap(" + inner.name() + ")", {}, inner->kind()),
        shape_(name(), std::move(inner), num_workers) {}

  bool memoizable() const noexcept override { return false; }

  Record forward(const Record& inputs) const override {
    auto options = current_execution_snapshot();
    auto [batch, shards] = shape_.batch(inputs);
    auto outcome = run_batch(batch);
    return shape_.output(outcome, shards, options->fail_fast);
  }

private:
  PmapShape shape_;
};

// pmap of an asynchronous operator (typically pmap(vmap(async_op))) is
// asynchronous itself: its shards start under a supervisor actor.
class AsyncPmapOperator final : public AsyncOperator {
public:
  AsyncPmapOperator(OperatorRef inner, std::size_t num_workers)
      : AsyncOperator("pmap(" + inner.name() + ")", {}, inner->kind()),
        shape_(name(), std::move(inner), num_workers) {}

  bool memoizable() const noexcept override { return false; }

  void start(const Record& inputs, Completion done) const override {
    auto options = current_execution_snapshot();
    auto [batch, shards] = shape_.batch(inputs);
    auto context = batch_context(batch, options);
    start_batch(std::move(batch), std::move(context),
                      [self = std::static_pointer_cast<const AsyncPmapOperator>(shared_from_this()),
                       shards = std::move(shards), fail_fast = options->fail_fast,
                       done](BatchOutcome* outcome, std::exception_ptr error) {
                        if (outcome == nullptr)
                          return done.fail(std::move(error));
                        try {
                          done.succeed(self->shape_.output(*outcome, shards, fail_fast));
                        } catch (...) {
                          done.fail(std::current_exception());
                        }
                      });
  }

private:
  PmapShape shape_;
};

} // namespace

OperatorRef pmap(OperatorRef op, std::optional<int> num_workers) {
  if (!op)
    throw std::invalid_argument("pmap: the operator is empty");
  if (num_workers && *num_workers <= 0)
    throw std::invalid_argument("pmap(" + op.name() + "): num_workers is " +
                                std::to_string(*num_workers) +
                                "; allowed: a positive integer, or unset for the number of cores");
  auto workers = num_workers ? static_cast<std::size_t>(*num_workers)
                             : detail::core_count();
  if (op->is_async())
    return make_operator<AsyncPmapOperator>(std::move(op), workers);
  return make_operator<PmapOperator>(std::move(op), workers);
}

} // namespace ember::xcs
