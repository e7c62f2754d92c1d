#include "structure.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ember::soak {

std::atomic<int> live_bodies{0};

namespace {

using namespace ember::xcs;

constexpr std::int64_t modulus = 1000;
constexpr int max_depth = 4;
constexpr const char* errors_field = "_errors";

struct LiveBody {
  LiveBody() { ++live_bodies; }
  ~LiveBody() { --live_bodies; }
  LiveBody(const LiveBody&) = delete;
  LiveBody& operator=(const LiveBody&) = delete;
};

class Generator {
public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return uniform(1, 100) <= percent; }

  // A node taking (and returning) x of shape `shape` (0: an integer, s: a list
  // of shape s-1) with at most `depth` transform layers below it.
  std::unique_ptr<Node> node(int depth, int shape, bool top = false) {
    auto n = std::make_unique<Node>();
    n->id = next_id_++;
    std::vector<Node::Kind> allowed;
    if (shape == 0 && !top)
      allowed.push_back(Node::Kind::leaf);
    if (depth >= 1 && shape >= 1)
      allowed.insert(allowed.end(), {Node::Kind::vmap, Node::Kind::vmap});
    // Children of pmap and jit keep the shape, so they need shape <= depth - 1.
    if (shape >= 1 && shape <= depth - 1)
      allowed.push_back(Node::Kind::pmap);
    if (shape <= depth - 1 && !top)
      allowed.push_back(Node::Kind::jit);
    n->kind = allowed[static_cast<std::size_t>(uniform(0, static_cast<int>(allowed.size()) - 1))];
    switch (n->kind) {
    case Node::Kind::leaf:
      n->mul = uniform(1, 9);
      n->add = uniform(0, 99);
      if (chance(50)) {
        n->fail_mod = uniform(5, 40);
        n->fail_rem = uniform(0, n->fail_mod - 1);
      }
      n->slow_ms = chance(35) ? uniform(1, 10) : 0;
      n->io = chance(40);
      break;
    case Node::Kind::vmap: n->children.push_back(node(depth - 1, shape - 1)); break;
    case Node::Kind::pmap:
      if (chance(80))
        n->workers = uniform(1, 5);
      // pmap's operator takes a list: a vmap, a nested pmap or a composite.
      n->children.push_back(node(depth - 1, shape));
      break;
    case Node::Kind::jit: {
      n->sum = chance(50);
      n->io = chance(40);
      int children = uniform(1, 3);
      for (int i = 0; i < children; ++i)
        n->children.push_back(node(depth - 1, shape));
      break;
    }
    }
    return n;
  }

  Value value(int shape, int max_length) {
    if (shape == 0)
      return Value{static_cast<std::int64_t>(uniform(0, static_cast<int>(modulus) - 1))};
    List items;
    int length = uniform(1, max_length);
    for (int i = 0; i < length; ++i)
      items.push_back(value(shape - 1, 6));
    return Value{std::move(items)};
  }

private:
  std::mt19937_64 rng_;
  int next_id_ = 0;
};

// Shape 0 nodes may be leaves; a node that must take a list cannot.
int max_shape_below(int depth) {
  return std::min(depth, 2);
}

Value zip_add(const Value& a, const Value& b) {
  if (a.is_integer())
    return Value{(a.as_integer() + b.as_integer()) % modulus};
  List out;
  const auto& la = a.as_list();
  const auto& lb = b.as_list();
  for (std::size_t i = 0; i < la.size(); ++i)
    out.push_back(zip_add(la[i], lb.at(i)));
  return Value{std::move(out)};
}

std::size_t error_count(const Record& output) {
  const Value* errors = output.find(errors_field);
  return errors != nullptr ? errors->as_list().size() : 0;
}

std::string reported_failures(const Node& node, std::size_t count) {
  return node.name() + ": a child reported " + std::to_string(count) + " failed items";
}

// What a leaf body needs, copied into it (a Node owns its children).
struct LeafRule {
  int id;
  std::int64_t mul, add;
  int fail_mod, fail_rem, slow_ms;
};

LeafRule rule_of(const Node& n) {
  return {n.id, n.mul, n.add, n.fail_mod, n.fail_rem, n.slow_ms};
}

bool fails(const LeafRule& leaf, std::int64_t x) {
  return leaf.fail_mod != 0 && (x + leaf.id) % leaf.fail_mod == leaf.fail_rem;
}

OperatorRef build_leaf(const Node& n) {
  return function_operator(
      n.name(),
      [name = n.name(), leaf = rule_of(n)](const Record& in) {
        LiveBody live;
        std::int64_t x = in.get<std::int64_t>("x");
        if (leaf.slow_ms != 0 && x % 8 == leaf.id % 8) {
          // A slow body that honours cancellation: it polls every millisecond
          // and then returns a wrong value, which must never reach a result.
          for (int ms = 0; ms < leaf.slow_ms && !this_call::stop_requested(); ++ms)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          if (this_call::stop_requested())
            return Record{{"x", -1}};
        }
        if (fails(leaf, x))
          throw std::runtime_error(name + " failed on x=" + std::to_string(x));
        return Record{{"x", (x * leaf.mul + leaf.add) % modulus}};
      },
      {}, n.io ? OperatorKind::io : OperatorKind::cpu);
}

OperatorRef build_composite(const Node& n) {
  std::vector<OperatorRef> children;
  for (const auto& child : n.children)
    children.push_back(build(*child));
  auto composite = function_operator(
      n.name(),
      [name = n.name(), children, sum = n.sum](const Record& in) {
        LiveBody live;
        auto check = [&](const Record& out) {
          if (auto count = error_count(out); count != 0)
            throw std::runtime_error(name + ": a child reported " + std::to_string(count) +
                                     " failed items");
        };
        if (!sum) {
          Value x = in.at("x");
          for (const auto& child : children) {
            Record out = child(Record{{"x", x}}); // pending under structural_jit
            check(out);                           // reading it waits (glue between calls)
            x = out.at("x");
          }
          return Record{{"x", x}};
        }
        std::vector<Record> outs;
        for (const auto& child : children)
          outs.push_back(child(Record{{"x", in.at("x")}})); // all dispatched before any read
        // Resolve all first, so a failing child surfaces in call order as in the plain forward.
        for (const auto& out : outs)
          (void)out.size();
        for (const auto& out : outs)
          check(out);
        Value acc = outs[0].at("x");
        for (std::size_t i = 1; i < outs.size(); ++i)
          acc = zip_add(acc, outs[i].at("x"));
        return Record{{"x", acc}};
      },
      {}, n.io ? OperatorKind::io : OperatorKind::cpu);
  return structural_jit(composite);
}

// vmap with fail_fast = false: failed items are null; a nested transform's
// reported failures are lifted into the batch's list under the item's index
// (a nested batch whose items all failed has no "x": null too).
Record stack_reference(const std::vector<Expected>& results, bool fail_fast) {
  List xs(results.size());
  List errors;
  bool any = false;
  for (std::size_t i = 0; i < results.size(); ++i) {
    auto index = static_cast<std::int64_t>(i);
    if (const auto* failure = std::get_if<Failure>(&results[i])) {
      errors.emplace_back(Record{{"index", index}, {"message", failure->message}});
      continue;
    }
    const auto& out = std::get<Record>(results[i]);
    if (const Value* x = out.find("x")) {
      any = true;
      xs[i] = *x;
    }
    if (const Value* inner = out.find(errors_field))
      for (const auto& entry : inner->as_list())
        errors.emplace_back(Record{
            {"index", index}, {"message", entry.as_record().at("message")}, {"inner", entry}});
  }
  Record output;
  if (any) // with no successful item, only the operator's declared outputs (none here)
    output = output.with("x", Value{std::move(xs)});
  return fail_fast ? output : output.with(errors_field, Value{std::move(errors)});
}

struct Shard {
  std::size_t begin, end;
};

std::vector<Shard> shards_of(std::size_t items, const Node& pmap_node) {
  auto workers = pmap_node.workers ? static_cast<std::size_t>(*pmap_node.workers)
                                   : std::max<std::size_t>(1, std::thread::hardware_concurrency());
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

// pmap with fail_fast = false: shard outputs concatenated, a failed shard's
// items null and each reported; a shard's own reports move to batch indexes.
Record concatenate_reference(const std::vector<Expected>& results, const std::vector<Shard>& shards,
                             bool fail_fast) {
  List xs;
  List errors;
  bool any = false;
  for (std::size_t s = 0; s < shards.size(); ++s) {
    if (const auto* failure = std::get_if<Failure>(&results[s])) {
      xs.resize(xs.size() + shards[s].end - shards[s].begin);
      for (auto i = shards[s].begin; i < shards[s].end; ++i)
        errors.emplace_back(
            Record{{"index", static_cast<std::int64_t>(i)}, {"message", failure->message}});
      continue;
    }
    const auto& out = std::get<Record>(results[s]);
    if (const Value* part = out.find("x")) {
      any = true;
      xs.insert(xs.end(), part->as_list().begin(), part->as_list().end());
    } else {
      xs.resize(xs.size() + shards[s].end - shards[s].begin);
    }
    if (const Value* inner = out.find(errors_field))
      for (const auto& entry : inner->as_list()) {
        auto index = entry.as_record().get<std::int64_t>("index");
        errors.emplace_back(
            entry.as_record().with("index", static_cast<std::int64_t>(shards[s].begin) + index));
      }
  }
  std::stable_sort(errors.begin(), errors.end(), [](const Value& a, const Value& b) {
    return a.as_record().get<std::int64_t>("index") < b.as_record().get<std::int64_t>("index");
  });
  Record output;
  if (any)
    output = output.with("x", Value{std::move(xs)});
  return fail_fast ? output : output.with(errors_field, Value{std::move(errors)});
}

Expected composite_reference(const Node& n, const Value& x, bool fail_fast) {
  std::vector<Expected> outs;
  Value current = x;
  for (const auto& child : n.children) {
    outs.push_back(reference(*child, n.sum ? x : current, fail_fast));
    if (std::holds_alternative<Failure>(outs.back()))
      return outs.back();
    if (!n.sum) {
      const auto& out = std::get<Record>(outs.back());
      if (auto count = error_count(out); count != 0)
        return Failure{reported_failures(n, count)};
      current = out.at("x");
    }
  }
  if (!n.sum)
    return Record{{"x", current}};
  for (const auto& out : outs)
    if (auto count = error_count(std::get<Record>(out)); count != 0)
      return Failure{reported_failures(n, count)};
  Value acc = std::get<Record>(outs[0]).at("x");
  for (std::size_t i = 1; i < outs.size(); ++i)
    acc = zip_add(acc, std::get<Record>(outs[i]).at("x"));
  return Record{{"x", acc}};
}

Value slice(const List& xs, const Shard& shard) {
  return Value{List(xs.begin() + static_cast<std::ptrdiff_t>(shard.begin),
                    xs.begin() + static_cast<std::ptrdiff_t>(shard.end))};
}

const Node* find_leaf(const Node& node, int id) {
  if (node.kind == Node::Kind::leaf)
    return node.id == id ? &node : nullptr;
  for (const auto& child : node.children)
    if (const Node* found = find_leaf(*child, id))
      return found;
  return nullptr;
}

std::string describe(const Node& n) {
  std::ostringstream out;
  switch (n.kind) {
  case Node::Kind::leaf:
    out << n.name() << "(*" << n.mul << "+" << n.add;
    if (n.fail_mod != 0)
      out << ", fails when (x+" << n.id << ")%" << n.fail_mod << "==" << n.fail_rem;
    if (n.slow_ms != 0)
      out << ", " << n.slow_ms << " ms when x%8==" << n.id % 8;
    out << (n.io ? ", io)" : ")");
    break;
  case Node::Kind::vmap: out << "vmap(" << describe(*n.children[0]) << ")"; break;
  case Node::Kind::pmap:
    out << "pmap(" << describe(*n.children[0]) << ", "
        << (n.workers ? std::to_string(*n.workers) : std::string{"cores"}) << ")";
    break;
  case Node::Kind::jit:
    out << "jit(" << n.name() << (n.sum ? " sum:" : " chain:");
    for (const auto& child : n.children)
      out << " " << describe(*child);
    out << ")";
    break;
  }
  return out.str();
}

} // namespace

std::string Node::name() const {
  switch (kind) {
  case Kind::leaf: return "Leaf" + std::to_string(id);
  case Kind::vmap: return "vmap(" + children[0]->name() + ")";
  case Kind::pmap: return "pmap(" + children[0]->name() + ")";
  case Kind::jit: return "C" + std::to_string(id);
  }
  return "?";
}

Call random_call(std::uint64_t seed, std::uint64_t index) {
  Generator gen{seed * 1'000'003ULL + index};
  Call call;
  int depth = gen.uniform(1, max_depth);
  int shape = gen.uniform(1, max_shape_below(depth));
  call.root = gen.node(depth, shape, /*top=*/true);
  call.input = gen.value(shape, 40);
  call.fail_fast = gen.chance(50);
  call.use_parallel = !gen.chance(10);
  if (gen.chance(70))
    call.max_workers = gen.uniform(1, 8);
  if (gen.chance(35))
    call.timeout_seconds = gen.uniform(2, 40) / 1000.0;
  constexpr const char* strategies[] = {"auto", "auto", "cpu", "io"};
  call.device_strategy = strategies[gen.uniform(0, 3)];
  return call;
}

std::string describe(const Call& call) {
  std::ostringstream out;
  out << describe(*call.root) << " on " << to_json(Record{{"x", call.input}})
      << " fail_fast=" << call.fail_fast << " use_parallel=" << call.use_parallel
      << " max_workers=" << (call.max_workers ? std::to_string(*call.max_workers) : "auto")
      << " timeout_seconds="
      << (call.timeout_seconds ? std::to_string(*call.timeout_seconds) : "none")
      << " device_strategy=" << call.device_strategy;
  return out.str();
}

OperatorRef build(const Node& node) {
  switch (node.kind) {
  case Node::Kind::leaf: return build_leaf(node);
  case Node::Kind::vmap: return vmap(build(*node.children[0]));
  case Node::Kind::pmap: return pmap(build(*node.children[0]), node.workers);
  case Node::Kind::jit: return build_composite(node);
  }
  throw std::logic_error("unknown node kind");
}

Expected reference(const Node& node, const Value& x, bool fail_fast) {
  switch (node.kind) {
  case Node::Kind::leaf:
    if (fails(rule_of(node), x.as_integer()))
      return Failure{node.name() + " failed on x=" + std::to_string(x.as_integer())};
    return Record{{"x", (x.as_integer() * node.mul + node.add) % modulus}};
  case Node::Kind::vmap: {
    const auto& items = x.as_list();
    std::vector<Expected> results;
    for (const auto& item : items) {
      results.push_back(reference(*node.children[0], item, fail_fast));
      if (fail_fast && std::holds_alternative<Failure>(results.back()))
        return Failure{"vmap: item " + std::to_string(results.size() - 1) + " failed"};
    }
    return stack_reference(results, fail_fast);
  }
  case Node::Kind::pmap: {
    const auto& items = x.as_list();
    auto shards = shards_of(items.size(), node);
    std::vector<Expected> results;
    for (const auto& shard : shards) {
      results.push_back(reference(*node.children[0], slice(items, shard), fail_fast));
      if (fail_fast && std::holds_alternative<Failure>(results.back()))
        return Failure{"pmap: shard " + std::to_string(results.size() - 1) + " failed"};
    }
    return concatenate_reference(results, shards, fail_fast);
  }
  case Node::Kind::jit: return composite_reference(node, x, fail_fast);
  }
  throw std::logic_error("unknown node kind");
}

bool leaf_fails(const Node& root, int id, std::int64_t x) {
  const Node* leaf = find_leaf(root, id);
  return leaf != nullptr && fails(rule_of(*leaf), x);
}

bool item_fails(const Node& root, const Value& x, std::size_t index) {
  const auto& items = x.as_list();
  if (root.kind == Node::Kind::vmap)
    return index < items.size() &&
           std::holds_alternative<Failure>(reference(*root.children[0], items[index], true));
  auto shards = shards_of(items.size(), root);
  return index < shards.size() && std::holds_alternative<Failure>(reference(
                                      *root.children[0], slice(items, shards[index]), true));
}

} // namespace ember::soak
