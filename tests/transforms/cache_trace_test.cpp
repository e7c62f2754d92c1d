#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/engine/result_cache.hpp"
#include "ember/xcs/tracer/execution_trace.hpp"
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/transforms/vmap.hpp"

using namespace ember;
using namespace ember::xcs;

namespace {

List range(std::int64_t begin, std::int64_t end) {
  List xs;
  for (auto i = begin; i < end; ++i)
    xs.emplace_back(i);
  return xs;
}

} // namespace

TEST_CASE("a repeated identical cached vmap call runs no bodies", "[cache][vmap]") {
  result_cache().clear();
  std::atomic<int> bodies{0};
  auto op = function_operator("Square", [&](const Record& in) {
    ++bodies;
    auto x = in.get<std::int64_t>("x");
    return Record{{"y", x * x}};
  });
  auto scope = execution_options({.enable_caching = true});
  auto first = vmap(op)(Record{{"x", range(0, 50)}});
  CHECK(bodies == 50);
  auto second = vmap(op)(Record{{"x", range(0, 50)}});
  CHECK(bodies == 50);
  CHECK(first == second);
}

TEST_CASE("a cached batch that overlaps an earlier one runs only the new items", "[cache][vmap]") {
  result_cache().clear();
  std::atomic<int> bodies{0};
  auto op = function_operator("Square", [&](const Record& in) {
    ++bodies;
    return in;
  });
  auto scope = execution_options({.enable_caching = true});
  vmap(op)(Record{{"x", range(0, 10)}});
  vmap(op)(Record{{"x", range(5, 15)}});
  CHECK(bodies == 15);
}

TEST_CASE("identical items of one cached batch run once", "[cache][vmap]") {
  result_cache().clear();
  std::atomic<int> bodies{0};
  auto op = function_operator("Same", [&](const Record& in) {
    ++bodies;
    return in;
  });
  auto scope = execution_options({.max_workers = 4, .enable_caching = true});
  vmap(op)(Record{{"x", List(16, Value{7})}});
  CHECK(bodies == 1);
}

TEST_CASE("without enable_caching the cache is not consulted", "[cache][vmap]") {
  result_cache().clear();
  result_cache().reset_stats();
  std::atomic<int> bodies{0};
  auto op = function_operator("Plain", [&](const Record& in) {
    ++bodies;
    return in;
  });
  vmap(op)(Record{{"x", range(0, 10)}});
  vmap(op)(Record{{"x", range(0, 10)}});
  CHECK(bodies == 20);
  auto stats = result_cache().stats();
  CHECK(stats.hits + stats.misses == 0);
}

TEST_CASE("trace_execution records every item under the transform's span", "[trace][vmap]") {
  execution_trace().clear();
  auto op = function_operator("Traced", [](const Record& in) { return in; });
  {
    auto scope = execution_options({.trace_execution = true});
    vmap(op)(Record{{"x", range(0, 6)}});
  }
  auto spans = execution_trace().spans();
  REQUIRE(spans.size() == 7);
  auto top = std::find_if(spans.begin(), spans.end(),
                          [](const TraceSpan& s) { return s.operator_name == "vmap(Traced)"; });
  REQUIRE(top != spans.end());
  CHECK(top->parent == 0);
  std::set<std::int64_t> items;
  for (const auto& span : spans)
    if (span.operator_name == "Traced") {
      CHECK(span.parent == top->id);
      CHECK(span.transform == "vmap");
      items.insert(span.item);
    }
  CHECK(items == std::set<std::int64_t>{0, 1, 2, 3, 4, 5});
  auto json = boost::json::parse(execution_trace().to_chrome_json());
  CHECK(json.at("traceEvents").as_array().size() == 7);
}

TEST_CASE("pmap spans carry their shard and nest the vmap items", "[trace][pmap]") {
  execution_trace().clear();
  auto op = function_operator("Leaf", [](const Record& in) { return in; });
  {
    auto scope = execution_options({.trace_execution = true});
    pmap(vmap(op), 2)(Record{{"x", range(0, 4)}});
  }
  auto spans = execution_trace().spans();
  std::map<std::uint64_t, TraceSpan> by_id;
  for (const auto& span : spans)
    by_id[span.id] = span;
  int leaves = 0;
  for (const auto& span : spans) {
    if (span.operator_name != "Leaf")
      continue;
    ++leaves;
    const auto& shard = by_id.at(span.parent);
    CHECK(shard.operator_name == "vmap(Leaf)");
    CHECK(shard.transform == "pmap");
    CHECK((shard.shard == 0 || shard.shard == 1));
  }
  CHECK(leaves == 4);
}

TEST_CASE("tracing off records nothing", "[trace]") {
  execution_trace().clear();
  auto op = function_operator("Quiet", [](const Record& in) { return in; });
  vmap(op)(Record{{"x", range(0, 3)}});
  CHECK(execution_trace().spans().empty());
}
