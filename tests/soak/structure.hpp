// The random calls of the soak test: a structure of vmap, pmap and
// structural_jit composites over small leaf operators, the operator built from
// it, and an independent sequential reference of what it must return.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include <ember/xcs.hpp>

namespace ember::soak {

/// Operator bodies (leaves and composites) running right now, in every call.
extern std::atomic<int> live_bodies;

struct Node {
  enum class Kind { leaf, vmap, pmap, jit } kind = Kind::leaf;
  int id = 0;
  // leaf: x -> (x * mul + add) mod 1000; fails when (x + id) % fail_mod == fail_rem;
  // sleeps slow_ms (polling for cancellation every millisecond) when x % 8 == id % 8
  std::int64_t mul = 1, add = 0;
  int fail_mod = 0, fail_rem = 0;
  int slow_ms = 0;
  bool io = false;
  // pmap
  std::optional<int> workers;
  // jit: a composite whose forward chains its children (glue between) or sums them
  bool sum = false;
  std::vector<std::unique_ptr<Node>> children;

  std::string name() const;
};

/// The options and input of one call.
struct Call {
  std::unique_ptr<Node> root; // vmap or pmap: its items are the call's items
  Value input;                // the "x" field
  bool fail_fast = true;
  bool use_parallel = true;
  std::optional<int> max_workers;
  std::optional<double> timeout_seconds;
  std::string device_strategy = "auto";
};

/// Draws call number `index` of the run seeded with `seed` (the same pair
/// always gives the same call).
Call random_call(std::uint64_t seed, std::uint64_t index);

/// One line describing the structure and options, for failure reports.
std::string describe(const Call& call);

/// The operator the structure stands for, made of ember-xcs transforms.
OperatorRef build(const Node& node);

/// What a call must end as, computed sequentially without ember-xcs's
/// transforms: an output record, or a failure (with the message an item slot
/// of an enclosing transform reports when fail_fast is false).
struct Failure {
  std::string message;
};
using Expected = std::variant<Record, Failure>;
Expected reference(const Node& node, const Value& x, bool fail_fast);

/// Whether leaf `id` of `root` fails on `x` (for checking the cause a
/// fail-fast exception names).
bool leaf_fails(const Node& root, int id, std::int64_t x);

/// Whether item `index` of the root transform fails in the reference
/// (fail_fast = true).
bool item_fails(const Node& root, const Value& x, std::size_t index);

} // namespace ember::soak
