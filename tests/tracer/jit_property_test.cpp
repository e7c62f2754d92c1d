// Property test (issue 4): random nestings of structural_jit, vmap and pmap
// over small operators, some with glue code between sub-operator calls and
// some failing on chosen inputs. Each case runs its jitted structure under
// max_workers = 1 and under default options and compares both with the
// reference: the same structure without structural_jit, run under
// use_parallel = false (every transform one item at a time on the calling
// thread, every composite its plain forward).
//
// A case runs on its own thread with a 10 s deadline, so a deadlock fails the
// case (naming its seed and structure) instead of hanging the suite. The seed
// is fixed and printed; EMBER_JIT_PROPERTY_SEED=<n> overrides it.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/core/types/json.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/tracer/structural_jit.hpp"
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/transforms/vmap.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t default_seed = 20240604;
constexpr int cases_per_part = 250;
constexpr int max_depth = 4;
constexpr std::int64_t modulus = 1000;
constexpr auto case_deadline = 10s;

std::uint64_t base_seed() {
  if (const char* text = std::getenv("EMBER_JIT_PROPERTY_SEED"))
    return std::strtoull(text, nullptr, 0);
  return default_seed;
}

// ---- values of shape S: an integer (S = 0) or a list of values of shape S-1.

Value map_ints(const Value& value, const std::function<std::int64_t(std::int64_t)>& f) {
  if (value.is_integer())
    return Value{f(value.as_integer())};
  List out;
  for (const auto& element : value.as_list())
    out.push_back(map_ints(element, f));
  return Value{std::move(out)};
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

std::int64_t checksum(const Value& value) {
  if (value.is_integer())
    return value.as_integer();
  std::int64_t sum = 0;
  for (const auto& element : value.as_list())
    sum += checksum(element);
  return sum;
}

// ---- the structure of one case, built twice: with and without structural_jit.

// What a composite's forward does with its children (glue code included).
enum class Pattern {
  chain,         // r = c0(in); r = c1(r); ... return r (pending records passed on unread)
  sum,           // every child on the input, results read in call order and added
  merge,         // every child on the input, the pending results handed to a Merge call in a list
  branch,        // r = c0(in); read r; call c1 or the last child depending on its checksum
  discard,       // c0(in) called and its result dropped; the last child's result read, +1
  glue_between,  // r = c0(in); read r, rewrite it in glue, hand it to the next child
};
constexpr int pattern_count = 6;

const char* pattern_name(Pattern p) {
  switch (p) {
  case Pattern::chain: return "chain";
  case Pattern::sum: return "sum";
  case Pattern::merge: return "merge";
  case Pattern::branch: return "branch";
  case Pattern::discard: return "discard";
  case Pattern::glue_between: return "glue";
  }
  return "?";
}

struct Node {
  enum class Kind { leaf, vmap, pmap, composite } kind = Kind::leaf;
  int id = 0;
  // leaf: x -> (x * mul + add + k) mod 1000; fails when (x + id) % fail_mod == fail_rem
  std::int64_t mul = 1, add = 0;
  int fail_mod = 0, fail_rem = 0;
  bool io = false;
  int sleep_us = 0;
  // pmap
  std::optional<int> workers;
  // composite
  Pattern pattern = Pattern::chain;
  bool jit = true;                  // wrapped in structural_jit in the jitted tree
  std::string strategy = "auto";
  std::vector<std::unique_ptr<Node>> children;
};

class Generator {
public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return uniform(1, 100) <= percent; }

  // A node consuming (and returning) x of shape `shape`, with at most `depth`
  // transform layers (structural_jit, vmap, pmap) on any path. shape <= depth.
  std::unique_ptr<Node> node(int depth, int shape, bool top = false) {
    auto n = std::make_unique<Node>();
    n->id = next_id_++;
    std::vector<Node::Kind> allowed;
    if (shape == 0 && !top)
      allowed.push_back(Node::Kind::leaf);
    if (depth >= 1 && shape >= 1)
      allowed.push_back(Node::Kind::vmap);
    if (depth >= 1 && shape >= 1 && shape <= depth - 1)
      allowed.push_back(Node::Kind::pmap);
    if (depth >= 1 && shape <= depth - 1) {
      allowed.push_back(Node::Kind::composite);
      allowed.push_back(Node::Kind::composite); // composites are what structural_jit is about
    }
    if (shape == 0 && !top && depth >= 1 && chance(20))
      allowed = {Node::Kind::leaf}; // shallower branches now and then
    n->kind = allowed[static_cast<std::size_t>(uniform(0, static_cast<int>(allowed.size()) - 1))];
    switch (n->kind) {
    case Node::Kind::leaf:
      n->mul = uniform(1, 9);
      n->add = uniform(0, 99);
      if (chance(45)) {
        n->fail_mod = uniform(6, 30);
        n->fail_rem = uniform(0, n->fail_mod - 1);
      }
      n->io = chance(30);
      n->sleep_us = chance(15) ? uniform(50, 400) : 0;
      break;
    case Node::Kind::vmap:
      n->children.push_back(node(depth - 1, shape - 1));
      break;
    case Node::Kind::pmap:
      if (chance(80))
        n->workers = uniform(1, 4);
      n->children.push_back(node(depth - 1, shape));
      break;
    case Node::Kind::composite: {
      n->pattern = static_cast<Pattern>(uniform(0, pattern_count - 1));
      n->jit = top || chance(80);
      n->strategy = chance(50) ? "auto" : "parallel";
      n->io = chance(30);
      int children = uniform(1, 3);
      for (int i = 0; i < children; ++i)
        n->children.push_back(node(depth - 1, shape));
      break;
    }
    }
    return n;
  }

  Value value(int shape) {
    if (shape == 0)
      return Value{static_cast<std::int64_t>(uniform(0, static_cast<int>(modulus) - 1))};
    List items;
    int length = uniform(1, 4);
    for (int i = 0; i < length; ++i)
      items.push_back(value(shape - 1));
    return Value{std::move(items)};
  }

private:
  std::mt19937_64 rng_;
  int next_id_ = 0;
};

std::string describe(const Node& n) {
  std::ostringstream out;
  switch (n.kind) {
  case Node::Kind::leaf:
    out << "Leaf" << n.id << "(*" << n.mul << "+" << n.add;
    if (n.fail_mod != 0)
      out << ", fails when (x+" << n.id << ")%" << n.fail_mod << "==" << n.fail_rem;
    if (n.io)
      out << ", io";
    if (n.sleep_us != 0)
      out << ", sleeps " << n.sleep_us << "us";
    out << ")";
    break;
  case Node::Kind::vmap:
    out << "vmap(" << describe(*n.children[0]) << ")";
    break;
  case Node::Kind::pmap:
    out << "pmap(" << describe(*n.children[0]) << ", "
        << (n.workers ? std::to_string(*n.workers) : std::string{"cores"}) << ")";
    break;
  case Node::Kind::composite:
    out << (n.jit ? "jit[" + n.strategy + "](" : std::string{"plain("}) << "C" << n.id << " "
        << pattern_name(n.pattern) << ":";
    for (const auto& child : n.children)
      out << " " << describe(*child);
    out << ")";
    break;
  }
  return out.str();
}

OperatorRef merge_operator() {
  return function_operator("Merge", [](const Record& in) {
    const auto& parts = in.get<List>("parts");
    Value acc = parts.at(0).as_record().at("x");
    for (std::size_t i = 1; i < parts.size(); ++i)
      acc = zip_add(acc, parts[i].as_record().at("x"));
    return Record{{"x", acc}};
  });
}

OperatorRef build(const Node& n, bool with_jit) {
  switch (n.kind) {
  case Node::Kind::leaf: {
    auto name = "Leaf" + std::to_string(n.id);
    return function_operator(
        name,
        [name, id = n.id, mul = n.mul, add = n.add, fail_mod = n.fail_mod,
         fail_rem = n.fail_rem, sleep_us = n.sleep_us](const Record& in) {
          std::int64_t x = in.get<std::int64_t>("x");
          std::int64_t k = in.find("k") ? in.get<std::int64_t>("k") : 0;
          if (sleep_us != 0)
            std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
          if (fail_mod != 0 && (x + id) % fail_mod == fail_rem)
            throw std::runtime_error(name + " failed on x=" + std::to_string(x));
          return Record{{"x", (x * mul + add + k) % modulus}};
        },
        {}, n.io ? OperatorKind::io : OperatorKind::cpu);
  }
  case Node::Kind::vmap:
    return vmap(build(*n.children[0], with_jit));
  case Node::Kind::pmap:
    return pmap(build(*n.children[0], with_jit), n.workers);
  case Node::Kind::composite: {
    std::vector<OperatorRef> c;
    for (const auto& child : n.children)
      c.push_back(build(*child, with_jit));
    auto merge = merge_operator();
    auto pattern = n.pattern;
    auto composite = function_operator(
        "C" + std::to_string(n.id),
        [c, merge, pattern](const Record& in) -> Record {
          const auto& first = c.front();
          const auto& last = c.back();
          switch (pattern) {
          case Pattern::chain: {
            Record r = in;
            for (const auto& child : c)
              r = child(r);
            return r;
          }
          case Pattern::sum: {
            std::vector<Record> rs;
            for (const auto& child : c)
              rs.push_back(child(in));
            Value acc = rs[0].at("x");
            for (std::size_t i = 1; i < rs.size(); ++i)
              acc = zip_add(acc, rs[i].at("x"));
            return Record{{"x", acc}};
          }
          case Pattern::merge: {
            List parts;
            for (const auto& child : c)
              parts.emplace_back(child(in));
            return merge(Record{{"parts", parts}});
          }
          case Pattern::branch: {
            Record r = first(in);
            const auto& next = checksum(r.at("x")) % 2 == 1 && c.size() > 1 ? c[1] : last;
            return next(r);
          }
          case Pattern::discard: {
            (void)first(in); // dropped: a failure must still surface
            Record r = last(in);
            return Record{{"x", map_ints(r.at("x"), [](std::int64_t v) { return (v + 1) % modulus; })}};
          }
          case Pattern::glue_between: {
            Record r = first(in);
            auto x = map_ints(r.at("x"), [](std::int64_t v) { return (v * 3 + 7) % modulus; });
            return (c.size() > 1 ? c[1] : first)(Record{{"x", x}, {"k", 1}});
          }
          }
          throw std::logic_error("unknown pattern");
        },
        {}, n.io ? OperatorKind::io : OperatorKind::cpu);
    return with_jit && n.jit ? structural_jit(composite, n.strategy) : composite;
  }
  }
  throw std::logic_error("unknown node kind");
}

// ---- running and comparing

struct Outcome {
  bool threw = false;
  Record value;
  std::vector<std::string> chain; // what() of the exception and of each nested cause
};

void collect(const std::exception& e, std::vector<std::string>& chain) {
  chain.emplace_back(e.what());
  try {
    std::rethrow_if_nested(e);
  } catch (const std::exception& nested) {
    collect(nested, chain);
  } catch (...) {
    chain.emplace_back("(a non-standard exception)");
  }
}

Outcome run(const OperatorRef& op, const Record& input) {
  Outcome outcome;
  try {
    outcome.value = op(input);
  } catch (const std::exception& e) {
    outcome.threw = true;
    collect(e, outcome.chain);
  } catch (...) {
    outcome.threw = true;
    outcome.chain.emplace_back("(a non-standard exception)");
  }
  return outcome;
}

std::string show(const Outcome& o) {
  if (!o.threw)
    return "returned " + to_json(o.value);
  std::string text = "threw";
  for (const auto& message : o.chain)
    text += " [" + message + "]";
  return text;
}

struct CaseResult {
  Outcome reference, one_worker, defaults;
};

// Runs `body` on a thread of its own; nullopt if it did not finish in time
// (the thread is abandoned: the test fails instead of hanging).
std::optional<CaseResult> within_deadline(std::function<CaseResult()> body) {
  auto task = std::make_shared<std::packaged_task<CaseResult()>>(std::move(body));
  auto result = task->get_future();
  std::thread([task] { (*task)(); }).detach();
  if (result.wait_for(case_deadline) != std::future_status::ready)
    return std::nullopt;
  return result.get();
}

const std::regex leaf_failure{R"(Leaf\d+ failed on x=\d+)"};

void run_part(int part) {
  const auto seed = base_seed();
  std::cout << "jit property test part " << part << ": seed " << seed << ", cases "
            << part * cases_per_part << ".." << (part + 1) * cases_per_part - 1 << std::endl;
  auto started = std::chrono::steady_clock::now();
  int threw = 0;
  for (int index = part * cases_per_part; index < (part + 1) * cases_per_part; ++index) {
    const auto case_seed = seed * 1'000'003ULL + static_cast<std::uint64_t>(index);
    Generator gen{case_seed};
    constexpr int depth_of[] = {1, 2, 2, 3, 3, 4, 4, 4}; // mostly deep nestings
    int depth = std::min(max_depth, depth_of[gen.uniform(0, 7)]);
    int shape = gen.uniform(depth >= 2 ? 1 : 0, std::min(depth, 2));
    std::shared_ptr<const Node> structure = gen.node(depth, shape, /*top=*/true);
    Record input{{"x", gen.value(shape)}, {"k", static_cast<std::int64_t>(gen.uniform(0, 9))}};
    auto description = describe(*structure);
    INFO("case " << index << " (seed " << seed << ", EMBER_JIT_PROPERTY_SEED to change it): "
                 << description << " on " << to_json(input));

    // The case owns its structure: a case abandoned at the deadline keeps it alive.
    auto result = within_deadline([structure, input] {
      CaseResult r;
      auto plain = build(*structure, false);
      auto jitted = build(*structure, true);
      {
        auto scope = execution_options({.use_parallel = false});
        r.reference = run(plain, input);
      }
      {
        auto scope = execution_options({.max_workers = 1});
        r.one_worker = run(jitted, input);
      }
      r.defaults = run(jitted, input);
      return r;
    });
    if (!result) {
      std::cerr << "case " << index << " did not finish within 10 s (deadlock?): " << description
                << std::endl;
      FAIL("case " << index << " did not finish within the deadline: a deadlock");
    }
    const auto& ref = result->reference;
    INFO("reference (plain, use_parallel=false): " << show(ref));
    INFO("jitted, max_workers=1: " << show(result->one_worker));
    INFO("jitted, default options: " << show(result->defaults));
    threw += ref.threw ? 1 : 0;
    // max_workers = 1 is deterministic: everything must match exactly,
    // including which failure surfaced and every message of its chain.
    CHECK(result->one_worker.threw == ref.threw);
    CHECK(result->one_worker.chain == ref.chain);
    CHECK(result->one_worker.value == ref.value);
    // Default options: same result; a failing case fails too, with a cause
    // that is a body's own failure (which of several failing items surfaces
    // first depends on timing, as with vmap's fail_fast).
    CHECK(result->defaults.threw == ref.threw);
    CHECK(result->defaults.value == ref.value);
    if (ref.threw) {
      REQUIRE(!ref.chain.empty());
      CHECK(std::regex_match(ref.chain.back(), leaf_failure));
      if (result->defaults.threw) {
        REQUIRE(!result->defaults.chain.empty());
        CHECK(std::regex_match(result->defaults.chain.back(), leaf_failure));
      }
    }
  }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "part " << part << ": " << cases_per_part << " cases (" << threw
            << " failing on purpose) in " << seconds << " s" << std::endl;
}

} // namespace

TEST_CASE("random jit/vmap/pmap nestings match sequential execution, part 1 of 4", "[jit][property]") {
  run_part(0);
}

TEST_CASE("random jit/vmap/pmap nestings match sequential execution, part 2 of 4", "[jit][property]") {
  run_part(1);
}

TEST_CASE("random jit/vmap/pmap nestings match sequential execution, part 3 of 4", "[jit][property]") {
  run_part(2);
}

TEST_CASE("random jit/vmap/pmap nestings match sequential execution, part 4 of 4", "[jit][property]") {
  run_part(3);
}
