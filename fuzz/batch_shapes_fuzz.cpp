// Fuzz target: the input shapes vmap and pmap accept. The input decodes into
// a record of random fields (lists of random lengths, scalars, nested values),
// a transform (vmap, vmap with in_axes, pmap, pmap(vmap)) with random
// axis_size and num_workers, and random options. The operator echoes what it
// receives and fails when its "boom" field is true (or a list holding true),
// so the output shows what each call got. A sequential model of the
// documented semantics (README "vmap and pmap") says what every call must
// receive and what the transform must return or throw.
#include <ember/core/exceptions.hpp>
#include <ember/core/registry/operator/base/function_operator.hpp>
#include <ember/core/types/json.hpp>
#include <ember/xcs/engine/execution_options.hpp>
#include <ember/xcs/transforms/pmap.hpp>
#include <ember/xcs/transforms/vmap.hpp>

#include "fuzz_check.hpp"
#include "fuzz_input.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace {

using namespace ember;
using namespace ember::xcs;
using ember::fuzz::fail;
using ember::fuzz::FuzzInput;

// "_errors" is the name transforms give their per-item error lists.
constexpr std::array<const char*, 5> field_names{"a", "b", "c", "boom", "_errors"};
constexpr std::size_t max_length = 5; // per list, so a call stays cheap

enum class Transform { vmap, vmap_in_axes, pmap, pmap_of_vmap };

struct Case {
  Transform transform = Transform::vmap;
  Record inputs;
  std::optional<std::vector<std::string>> in_axes;
  std::optional<std::size_t> axis_size;
  std::optional<int> num_workers;
  bool use_parallel = true;
  int max_workers = 1;
  bool fail_fast = true;
};

// --- decoding ---------------------------------------------------------------

Value random_value(FuzzInput& in, int depth) {
  switch (in.below(depth > 0 ? 7 : 5)) {
  case 0: return {};
  case 1: return in.flag();
  case 2: return static_cast<std::int64_t>(in.byte()) - 128;
  case 3: return in.any_double();
  case 4: return in.text(4);
  case 5: {
    List list(in.below(4));
    for (auto& item : list)
      item = random_value(in, depth - 1);
    return list;
  }
  default: {
    Record record;
    for (std::size_t i = in.below(3); i > 0; --i)
      record.set(in.text(2), random_value(in, depth - 1));
    return record;
  }
  }
}

Value field_value(FuzzInput& in, std::string_view name) {
  if (name == "boom") {
    if (in.flag())
      return in.flag();
    List flags(in.below(max_length + 1));
    for (auto& flag : flags)
      flag = in.flag();
    return flags;
  }
  if (in.below(3) != 0) {
    List list(in.below(max_length + 1));
    for (auto& item : list)
      item = random_value(in, 1);
    return list;
  }
  return random_value(in, 2);
}

Case decode(FuzzInput& in) {
  Case c;
  c.transform = static_cast<Transform>(in.below(4));
  c.use_parallel = in.flag();
  c.max_workers = 1 + static_cast<int>(in.below(3));
  c.fail_fast = in.flag();
  if (c.transform == Transform::vmap || c.transform == Transform::vmap_in_axes) {
    if (in.flag())
      c.axis_size = in.below(max_length + 1);
  } else {
    // Unset, 1 to 4, or the invalid 0 and -1.
    constexpr std::array<std::optional<int>, 7> choices{std::nullopt, 1, 2, 3, 4, 0, -1};
    c.num_workers = choices[in.below(choices.size())];
  }
  for (std::size_t i = in.below(5); i > 0; --i) {
    const std::string name = field_names[in.below(field_names.size())];
    c.inputs.set(name, field_value(in, name));
  }
  if (c.transform == Transform::vmap_in_axes) {
    std::vector<std::string> axes;
    for (std::size_t i = in.below(4); i > 0; --i)
      axes.emplace_back(in.below(field_names.size() + 1) == field_names.size()
                            ? "missing"
                            : field_names[in.below(field_names.size())]);
    c.in_axes = std::move(axes);
  }
  return c;
}

// --- the operator -----------------------------------------------------------

bool marks_failure(const Value* boom) {
  if (boom == nullptr)
    return false;
  if (boom->is_bool())
    return boom->as_bool();
  if (!boom->is_list())
    return false;
  const auto& flags = boom->as_list();
  return std::any_of(flags.begin(), flags.end(),
                     [](const Value& flag) { return flag.is_bool() && flag.as_bool(); });
}

// What one input's operator received, in call order, on which threads, and
// how many of its bodies ran at once at most. Each input gets its own
// operator and probe: a body that a failed fast batch abandoned may still
// finish later, and must not count for the next input.
struct Probe {
  std::mutex mutex;
  std::vector<Record> received;
  std::vector<std::thread::id> threads;
  std::atomic<int> running{0};
  std::atomic<int> peak{0};

  std::vector<Record> snapshot() {
    std::lock_guard lock{mutex};
    return received;
  }
};

OperatorRef make_echo(const std::shared_ptr<Probe>& probe) {
  return function_operator("Check", [probe](const Record& inputs) {
    const int now = probe->running.fetch_add(1) + 1;
    int peak = probe->peak.load();
    while (now > peak && !probe->peak.compare_exchange_weak(peak, now)) {
    }
    struct Leave {
      Probe& probe;
      ~Leave() { probe.running.fetch_sub(1); }
    } leave{*probe};
    {
      std::lock_guard lock{probe->mutex};
      probe->received.push_back(inputs);
      probe->threads.push_back(std::this_thread::get_id());
    }
    if (marks_failure(inputs.find("boom")))
      throw std::runtime_error("boom");
    return inputs;
  });
}

// --- the model ----------------------------------------------------------------

struct ExpectedError {
  bool execution = false;            ///< ExecutionError; otherwise std::invalid_argument
  std::vector<std::string> mentions; ///< text the message must contain
  bool operator_failed = false;      ///< the operator's exception is nested in it
};

struct Expected {
  std::variant<Record, ExpectedError> outcome;
  std::vector<Record> calls;    ///< what the operator receives, in any order
  std::vector<bool> call_fails; ///< per entry of calls
  /// Not modelled: any record or ExecutionError is accepted (a crash or any
  /// other exception still fails).
  bool unmodelled = false;
};

// An item's own "_errors" that vmap reads as a nested batch's report: a
// non-empty list (the fuzzer's records never hold {index, message}).
bool reports_own_errors(const Record& item) {
  const Value* own = item.find("_errors");
  return own != nullptr && own->is_list() && !own->as_list().empty();
}

struct Layout {
  std::vector<std::string> batched;
  std::size_t size = 0;
};

std::variant<Layout, ExpectedError>
model_layout(const Record& inputs, const std::optional<std::vector<std::string>>& in_axes,
             std::optional<std::size_t> axis_size, const std::string& where) {
  Layout layout;
  if (!in_axes) {
    for (const auto& [key, value] : inputs)
      if (value.is_list())
        layout.batched.push_back(key);
  } else {
    for (const auto& name : *in_axes) {
      const Value* value = inputs.find(name);
      if (value == nullptr || !value->is_list())
        return ExpectedError{false, {where, "in_axes names field '" + name + "'"}};
      layout.batched.push_back(name);
    }
    std::sort(layout.batched.begin(), layout.batched.end());
    layout.batched.erase(std::unique(layout.batched.begin(), layout.batched.end()),
                         layout.batched.end());
  }
  if (layout.batched.empty()) {
    if (!axis_size)
      return ExpectedError{false, {where, "no batched field"}};
    layout.size = *axis_size;
    return layout;
  }
  std::string lengths;
  bool same = true;
  const std::size_t first = inputs.at(layout.batched.front()).as_list().size();
  for (const auto& name : layout.batched) {
    const auto length = inputs.at(name).as_list().size();
    same = same && length == first;
    lengths += (lengths.empty() ? "" : ", ") + name + "=" + std::to_string(length);
  }
  if (!same)
    return ExpectedError{false, {where, "different lengths: " + lengths}};
  if (axis_size && *axis_size != first)
    return ExpectedError{false, {where, "axis_size is " + std::to_string(*axis_size)}};
  layout.size = first;
  return layout;
}

Record slice(const Record& inputs, const Layout& layout, std::size_t begin, std::size_t end) {
  Record part = inputs;
  for (const auto& name : layout.batched) {
    const auto& list = inputs.at(name).as_list();
    part.set(name, List(list.begin() + static_cast<std::ptrdiff_t>(begin),
                        list.begin() + static_cast<std::ptrdiff_t>(end)));
  }
  return part;
}

Record item(const Record& inputs, const Layout& layout, std::size_t index) {
  Record one = inputs;
  for (const auto& name : layout.batched)
    one.set(name, inputs.at(name).as_list()[index]);
  return one;
}

Value error_list(const std::vector<std::size_t>& failed_items) {
  List errors;
  for (auto index : failed_items)
    errors.emplace_back(Record{{"index", static_cast<std::int64_t>(index)}, {"message", "boom"}});
  return errors;
}

// Items as records, stacked per field with null at failed items; no field at
// all when no item succeeded (the echo operator declares no outputs).
Record stack_items(const std::vector<Record>& items, const std::vector<bool>& fails,
                   const std::vector<std::string>& keys) {
  Record output;
  if (std::all_of(fails.begin(), fails.end(), [](bool failed) { return failed; }))
    return output;
  for (const auto& key : keys) {
    List column(items.size());
    for (std::size_t i = 0; i < items.size(); ++i)
      if (!fails[i])
        column[i] = items[i].at(key);
    output.set(key, std::move(column));
  }
  return output;
}

std::vector<std::size_t> failed_indexes(const std::vector<bool>& fails) {
  std::vector<std::size_t> indexes;
  for (std::size_t i = 0; i < fails.size(); ++i)
    if (fails[i])
      indexes.push_back(i);
  return indexes;
}

std::vector<std::string> keys_of(const Record& record) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : record)
    keys.push_back(key);
  return keys;
}

Expected model_vmap(const Case& c) {
  const auto layout = model_layout(c.inputs, c.in_axes, c.axis_size, "vmap(Check): ");
  if (const auto* error = std::get_if<ExpectedError>(&layout))
    return {*error, {}, {}};
  Expected expected{Record{}, {}, {}};
  for (std::size_t i = 0; i < std::get<Layout>(layout).size; ++i) {
    expected.calls.push_back(item(c.inputs, std::get<Layout>(layout), i));
    expected.call_fails.push_back(marks_failure(expected.calls.back().find("boom")));
  }
  const auto failed = failed_indexes(expected.call_fails);
  if (c.fail_fast && !failed.empty()) {
    expected.outcome =
        ExpectedError{true, {"vmap(Check): item ", " failed in operator 'Check': boom"}, true};
    return expected;
  }
  if (!c.fail_fast)
    for (std::size_t i = 0; i < expected.calls.size(); ++i)
      if (!expected.call_fails[i] && reports_own_errors(expected.calls[i])) {
        expected.outcome = ExpectedError{
            true, {"vmap(Check): item " + std::to_string(i) + " returned '_errors'"}, false};
        return expected;
      }
  Record output = stack_items(expected.calls, expected.call_fails, keys_of(c.inputs));
  if (!c.fail_fast)
    output.set("_errors", error_list(failed));
  expected.outcome = output;
  return expected;
}

std::vector<std::pair<std::size_t, std::size_t>> shards_of(std::size_t items, int workers) {
  const std::size_t count = std::min(items, static_cast<std::size_t>(workers));
  std::vector<std::pair<std::size_t, std::size_t>> shards;
  for (std::size_t s = 0, begin = 0; s < count; ++s) {
    const std::size_t size = items / count + (s < items % count ? 1 : 0);
    shards.emplace_back(begin, begin + size);
    begin += size;
  }
  return shards;
}

Expected model_pmap(const Case& c, bool vmap_inside) {
  const std::string where = vmap_inside ? "pmap(vmap(Check)): " : "pmap(Check): ";
  const int workers =
      c.num_workers.value_or(std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  if (workers <= 0)
    return {ExpectedError{false,
                          {"pmap(" + std::string(vmap_inside ? "vmap(Check)" : "Check") +
                           "): num_workers is " + std::to_string(workers)}},
            {},
            {}};
  const auto found = model_layout(c.inputs, std::nullopt, std::nullopt, where);
  if (const auto* error = std::get_if<ExpectedError>(&found))
    return {*error, {}, {}};
  const auto& layout = std::get<Layout>(found);
  const auto shards = shards_of(layout.size, workers);

  std::vector<Record> items;
  std::vector<bool> item_fails;
  for (std::size_t i = 0; i < layout.size; ++i) {
    items.push_back(item(c.inputs, layout, i));
    item_fails.push_back(marks_failure(items.back().find("boom")));
  }
  Expected expected{Record{}, {}, {}};
  std::vector<bool> shard_fails;
  for (const auto& [begin, end] : shards) {
    shard_fails.push_back(std::any_of(item_fails.begin() + static_cast<std::ptrdiff_t>(begin),
                                      item_fails.begin() + static_cast<std::ptrdiff_t>(end),
                                      [](bool failed) { return failed; }));
    if (!vmap_inside) {
      expected.calls.push_back(slice(c.inputs, layout, begin, end));
      expected.call_fails.push_back(shard_fails.back());
    }
  }
  if (vmap_inside) {
    expected.calls = items;
    expected.call_fails = item_fails;
    // The vmap inside refuses such an item and fails its whole shard.
    for (std::size_t i = 0; i < items.size(); ++i)
      if (!c.fail_fast && !item_fails[i] && reports_own_errors(items[i]))
        expected.unmodelled = true;
  }
  const auto failed = failed_indexes(item_fails);
  if (c.fail_fast && !failed.empty()) {
    expected.outcome = ExpectedError{true, {where + "item ", " failed in operator '"}, true};
    return expected;
  }
  // pmap reads a shard's "_errors" as the per-item errors of a transform
  // inside and never concatenates it.
  std::vector<std::string> keys = keys_of(c.inputs);
  std::erase(keys, "_errors");
  Record output;
  if (vmap_inside) {
    // The vmap inside each shard reports its failed items; the shards succeed.
    output = stack_items(items, item_fails, keys);
  } else if (!std::all_of(shard_fails.begin(), shard_fails.end(), [](bool f) { return f; })) {
    // Lists are concatenated in shard order, other fields get one entry per
    // shard; a failed shard leaves a null per item (or its one entry).
    for (const auto& key : keys) {
      const Value& value = c.inputs.at(key);
      List merged;
      for (std::size_t s = 0; s < shards.size(); ++s) {
        const auto [begin, end] = shards[s];
        if (!value.is_list())
          merged.push_back(shard_fails[s] ? Value{} : value);
        else
          for (auto i = begin; i < end; ++i)
            merged.push_back(shard_fails[s] ? Value{} : value.as_list()[i]);
      }
      output.set(key, std::move(merged));
    }
  }
  if (!c.fail_fast) {
    std::vector<std::size_t> reported;
    for (std::size_t s = 0; s < shards.size(); ++s)
      for (auto i = shards[s].first; i < shards[s].second; ++i)
        if (vmap_inside ? item_fails[i] : shard_fails[s])
          reported.push_back(i);
    // The echo operator hands back a shard's own "_errors" slice, which can
    // hold no {index, message} record: the shard's output is refused.
    const Value* own = c.inputs.find("_errors");
    if (!vmap_inside && own != nullptr && own->is_list())
      for (std::size_t s = 0; s < shards.size(); ++s)
        if (!shard_fails[s] && shards[s].second > shards[s].first) {
          expected.outcome = ExpectedError{true, {where + "shard ", "'_errors'"}, false};
          return expected;
        }
    output.set("_errors", error_list(reported));
  }
  expected.outcome = output;
  return expected;
}

// --- running and comparing -----------------------------------------------------

std::string describe_case(const Case& c) {
  constexpr std::array<const char*, 4> names{"vmap", "vmap with in_axes", "pmap", "pmap(vmap)"};
  std::string text =
      std::string(names[static_cast<std::size_t>(c.transform)]) + " over " + to_string(c.inputs);
  if (c.in_axes) {
    text += ", in_axes [";
    for (const auto& name : *c.in_axes)
      text += name + " ";
    text += "]";
  }
  if (c.axis_size)
    text += ", axis_size " + std::to_string(*c.axis_size);
  if (c.num_workers)
    text += ", num_workers " + std::to_string(*c.num_workers);
  return text + ", use_parallel " + (c.use_parallel ? "true" : "false") + ", max_workers " +
         std::to_string(c.max_workers) + ", fail_fast " + (c.fail_fast ? "true" : "false");
}

OperatorRef make_transform(const Case& c, const OperatorRef& echo) {
  switch (c.transform) {
  case Transform::vmap:
  case Transform::vmap_in_axes: return vmap(echo, {.in_axes = c.in_axes, .axis_size = c.axis_size});
  case Transform::pmap: return pmap(echo, c.num_workers);
  case Transform::pmap_of_vmap: return pmap(vmap(echo), c.num_workers);
  }
  fail("unknown transform");
}

void check_error(const Case& c, const ExpectedError& expected, const std::exception& error,
                 bool is_execution_error) {
  const std::string what = error.what();
  if (is_execution_error != expected.execution)
    fail(describe_case(c) + ": threw the wrong kind of error: " + what);
  for (const auto& text : expected.mentions)
    if (what.find(text) == std::string::npos)
      fail(describe_case(c) + ": the error does not say '" + text + "': " + what);
}

// Each call received one of the expected records, no record more often than
// expected, and (when the batch completes) every expected record. At most
// max_workers bodies ran at once; with use_parallel = false they ran one at a
// time on the calling thread in input order, up to the first failure when
// failing fast.
void check_calls(const Case& c, const Expected& expected, Probe& probe, bool complete) {
  std::lock_guard lock{probe.mutex};
  const std::vector<Record>& received = probe.received;
  std::vector<bool> matched(expected.calls.size(), false);
  for (const auto& got : received) {
    std::size_t i = 0;
    while (i < expected.calls.size() && (matched[i] || !(expected.calls[i] == got)))
      ++i;
    if (i == expected.calls.size())
      fail(describe_case(c) + ": the operator received " + to_string(got) +
           ", which is not one of the expected inputs (or came too often)");
    matched[i] = true;
  }
  if (complete && received.size() != expected.calls.size())
    fail(describe_case(c) + ": the operator ran " + std::to_string(received.size()) +
         " times, expected " + std::to_string(expected.calls.size()));
  if (probe.peak.load() > c.max_workers)
    fail(describe_case(c) + ": " + std::to_string(probe.peak.load()) + " bodies ran at once");
  if (c.use_parallel)
    return;
  const auto first_failure =
      std::find(expected.call_fails.begin(), expected.call_fails.end(), true);
  const auto in_order =
      static_cast<std::size_t>(c.fail_fast && first_failure != expected.call_fails.end()
                                   ? first_failure - expected.call_fails.begin() + 1
                                   : expected.calls.size());
  if (!std::equal(received.begin(), received.end(), expected.calls.begin(),
                  expected.calls.begin() + static_cast<std::ptrdiff_t>(in_order)))
    fail(describe_case(c) + ": with use_parallel false the items did not run in input order");
  const auto caller = std::this_thread::get_id();
  if (std::any_of(probe.threads.begin(), probe.threads.end(),
                  [&](std::thread::id thread) { return thread != caller; }))
    fail(describe_case(c) + ": with use_parallel false an item ran on another thread");
}

void run_case(const Case& c) {
  const Expected expected = c.transform == Transform::pmap || c.transform == Transform::pmap_of_vmap
                                ? model_pmap(c, c.transform == Transform::pmap_of_vmap)
                                : model_vmap(c);
  const auto probe = std::make_shared<Probe>();
  const auto* expected_error = std::get_if<ExpectedError>(&expected.outcome);
  try {
    const OperatorRef transform = make_transform(c, make_echo(probe));
    const auto scope = execution_options(
        {.use_parallel = c.use_parallel, .max_workers = c.max_workers, .fail_fast = c.fail_fast});
    const Record output = transform(c.inputs);
    if (expected.unmodelled)
      return;
    if (expected_error != nullptr)
      fail(describe_case(c) + ": returned " + to_string(output) + " instead of an error saying '" +
           expected_error->mentions.back() + "'");
    if (!(output == std::get<Record>(expected.outcome)))
      fail(describe_case(c) + ": returned " + to_string(output) + ", expected " +
           to_string(std::get<Record>(expected.outcome)));
    check_calls(c, expected, *probe, true);
  } catch (const ExecutionError& error) {
    if (expected.unmodelled)
      return;
    if (expected_error == nullptr)
      fail(describe_case(c) + ": threw " + error.what());
    check_error(c, *expected_error, error, true);
    try {
      std::rethrow_if_nested(error);
      if (expected_error->operator_failed)
        fail(describe_case(c) + ": the ExecutionError has no nested cause");
    } catch (const std::runtime_error&) {
      // The operator's own exception, possibly behind an inner transform's.
    } catch (...) {
      ember::fuzz::fail_on_unexpected_exception("the cause nested in an ExecutionError");
    }
    check_calls(c, expected, *probe, false);
  } catch (const std::invalid_argument& error) {
    if (expected_error == nullptr)
      fail(describe_case(c) + ": threw " + error.what());
    check_error(c, *expected_error, error, false);
    if (!probe->snapshot().empty())
      fail(describe_case(c) + ": the operator ran although the inputs were refused");
  } catch (...) {
    ember::fuzz::fail_on_unexpected_exception(describe_case(c));
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput in(data, size);
  run_case(decode(in));
  return 0;
}
