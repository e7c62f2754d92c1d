#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/transforms/vmap.hpp"

using namespace ember;
using namespace ember::xcs;

namespace {

OperatorRef doubler() {
  return function_operator("Double", [](const Record& in) {
    return Record{{"y", in.get<std::int64_t>("x") * 2 + in.get<std::int64_t>("k")}};
  });
}

List ints(std::initializer_list<std::int64_t> values) { return List(values.begin(), values.end()); }

} // namespace

TEST_CASE("vmap calls the operator per item and stacks outputs in input order", "[vmap]") {
  auto out = vmap(doubler())(Record{{"x", ints({1, 2, 3, 4, 5})}, {"k", 10}});
  CHECK(out.get<List>("y") == ints({12, 14, 16, 18, 20}));
  CHECK(out.size() == 1);
}

TEST_CASE("vmap broadcasts non-batched fields without copying them", "[vmap][sharing]") {
  std::string long_text(4096, 'z');
  Record inputs{{"x", ints({1, 2, 3})}, {"text", long_text}};
  const char* original = inputs.at("text").as_string().data();
  std::mutex mutex;
  std::vector<const char*> seen;
  auto op = function_operator("Peek", [&](const Record& in) {
    std::lock_guard lock{mutex};
    seen.push_back(in.at("text").as_string().data());
    return Record{{"n", in.get<std::int64_t>("x")}};
  });
  vmap(op)(inputs);
  REQUIRE(seen.size() == 3);
  for (const char* data : seen)
    CHECK(data == original);
}

TEST_CASE("a short broadcast string is copied once per worker, never per item", "[vmap][sharing]") {
  constexpr int items = 200;
  List xs;
  for (int i = 0; i < items; ++i)
    xs.emplace_back(i);
  Record inputs{{"x", xs}, {"label", "short label"}};
  std::mutex mutex;
  std::set<const char*> seen;
  auto op = function_operator("Peek", [&](const Record& in) {
    std::lock_guard lock{mutex};
    seen.insert(in.at("label").as_string().data());
    return Record{{"n", in.get<std::int64_t>("x")}};
  });
  auto scope = execution_options({.max_workers = 2});
  CHECK(vmap(op)(inputs).get<List>("n") == xs);
  CHECK(seen.size() <= 2);
}

TEST_CASE("items that return other fields fail naming the first such item, whichever worker stacks",
          "[vmap][stacking]") {
  constexpr int items = 1000;
  List xs;
  for (int i = 0; i < items; ++i)
    xs.emplace_back(i);
  auto odd_one = [](std::int64_t odd) {
    return function_operator("OddOne", [odd](const Record& in) {
      auto x = in.get<std::int64_t>("x");
      if (x == odd)
        return Record{{"n", x}, {"extra", true}};
      return Record{{"n", x}};
    });
  };
  auto scope = execution_options({.max_workers = 2});
  CHECK_THROWS_WITH(vmap(odd_one(500))(Record{{"x", xs}}),
                    Catch::Contains("item 500 returned fields [extra, n]") &&
                        Catch::Contains("an earlier item returned [n]"));
  CHECK_THROWS_WITH(vmap(odd_one(0))(Record{{"x", xs}}),
                    Catch::Contains("item 1 returned fields [n]") &&
                        Catch::Contains("an earlier item returned [extra, n]"));
}

TEST_CASE("a call whose items return other fields than the last call's stacks them all",
          "[vmap][stacking]") {
  // Each call sizes its output lists for the last call's fields up front.
  auto op = function_operator("Renames", [](const Record& in) {
    return Record{{in.get<std::string>("name"), in.get<std::int64_t>("x")}};
  });
  auto batched = vmap(op);
  auto scope = execution_options({.max_workers = 2});
  for (std::string name : {"a", "b", "b", "a"}) {
    auto out = batched(Record{{"x", ints({1, 2, 3, 4, 5})}, {"name", name}});
    CHECK(out == Record{{name, ints({1, 2, 3, 4, 5})}});
  }
  CHECK(batched(Record{{"x", List{}}, {"name", "a"}, {"unused", 0}}).empty());
}

TEST_CASE("vmap with in_axes batches only the named fields", "[vmap][axes]") {
  auto op = function_operator("Count", [](const Record& in) {
    return Record{{"tags", static_cast<std::int64_t>(in.get<List>("tags").size())},
                  {"x", in.get<std::int64_t>("x")}};
  });
  auto out = vmap(op, {.in_axes = std::vector<std::string>{"x"}})(
      Record{{"x", ints({7, 8})}, {"tags", List{"a", "b", "c"}}});
  CHECK(out.get<List>("tags") == ints({3, 3}));
  CHECK(out.get<List>("x") == ints({7, 8}));
}

TEST_CASE("vmap in_axes naming a field that is not a list is an error naming it", "[vmap][axes][errors]") {
  auto batched = vmap(doubler(), {.in_axes = std::vector<std::string>{"k"}});
  CHECK_THROWS_WITH(batched(Record{{"x", ints({1})}, {"k", 3}}),
                    "vmap(Double): in_axes names field 'k', which is an integer, not a list");
  CHECK_THROWS_WITH(vmap(doubler(), {.in_axes = std::vector<std::string>{"nope"}})(Record{}),
                    "vmap(Double): in_axes names field 'nope', which the inputs do not have");
}

TEST_CASE("vmap rejects batched fields of different lengths naming each", "[vmap][errors]") {
  CHECK_THROWS_WITH(vmap(doubler())(Record{{"x", ints({1, 2, 3})}, {"k", ints({1, 2})}}),
                    "vmap(Double): batched fields have different lengths: k=2, x=3");
}

TEST_CASE("vmap of an empty batch makes no calls and returns empty lists", "[vmap][empty]") {
  int calls = 0;
  auto op = function_operator(
      "Counted",
      [&](const Record& in) {
        ++calls;
        return in;
      },
      Specification{{}, {Field::required_field("y", FieldType::integer)}});
  auto out = vmap(op)(Record{{"x", List{}}});
  CHECK(calls == 0);
  CHECK(out.get<List>("y").empty());
}

TEST_CASE("vmap without a batched field needs axis_size", "[vmap][errors]") {
  auto op = function_operator("Const", [](const Record& in) { return in; });
  CHECK_THROWS_WITH(vmap(op)(Record{{"k", 1}}),
                    Catch::StartsWith("vmap(Const): no batched field"));
  auto out = vmap(op, {.axis_size = 3})(Record{{"k", 1}});
  CHECK(out.get<List>("k") == ints({1, 1, 1}));
  CHECK_THROWS_WITH(vmap(op, {.axis_size = 2})(Record{{"x", ints({1, 2, 3})}}),
                    "vmap(Const): axis_size is 2 but the batched fields have length 3 (x=3)");
}

TEST_CASE("vmap of vmap maps nested lists", "[vmap][nesting]") {
  auto out = vmap(vmap(doubler()))(
      Record{{"x", List{ints({1, 2}), ints({3, 4, 5})}}, {"k", 0}});
  const auto& rows = out.get<List>("y");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].as_list() == ints({2, 4}));
  CHECK(rows[1].as_list() == ints({6, 8, 10}));
}

TEST_CASE("vmap maps a composite operator that calls other operators", "[vmap][nesting]") {
  auto twice = doubler();
  auto composite = function_operator("Composite", [twice](const Record& in) {
    auto first = twice(in);
    return twice(Record{{"x", first.get<std::int64_t>("y")}, {"k", 0}});
  });
  auto out = vmap(composite)(Record{{"x", ints({1, 2, 3})}, {"k", 1}});
  CHECK(out.get<List>("y") == ints({6, 10, 14}));
}

TEST_CASE("vmap keeps outputs of differing shape from passing silently", "[vmap][errors]") {
  auto op = function_operator("Ragged", [](const Record& in) {
    auto x = in.get<std::int64_t>("x");
    return x == 2 ? Record{{"a", x}, {"b", x}} : Record{{"a", x}};
  });
  CHECK_THROWS_AS(vmap(op)(Record{{"x", ints({1, 2})}}), ExecutionError);
}

TEST_CASE("pmap splits into contiguous shards that differ by at most one", "[pmap][shards]") {
  std::mutex mutex;
  std::vector<std::vector<std::int64_t>> shards;
  auto op = function_operator("Shard", [&](const Record& in) {
    std::vector<std::int64_t> items;
    for (const auto& v : in.get<List>("x"))
      items.push_back(v.as_integer());
    std::lock_guard lock{mutex};
    shards.push_back(items);
    return Record{{"y", in.get<List>("x")}, {"count", static_cast<std::int64_t>(items.size())}};
  });
  auto out = pmap(op, 4)(Record{{"x", ints({0, 1, 2, 3, 4, 5, 6, 7, 8, 9})}});
  CHECK(out.get<List>("y") == ints({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  CHECK(out.get<List>("count") == ints({3, 3, 2, 2}));
  std::sort(shards.begin(), shards.end());
  CHECK(shards == std::vector<std::vector<std::int64_t>>{{0, 1, 2}, {3, 4, 5}, {6, 7}, {8, 9}});
}

TEST_CASE("pmap with more workers than items never makes an empty shard", "[pmap][shards]") {
  std::atomic<int> calls{0};
  auto op = function_operator("One", [&](const Record& in) {
    ++calls;
    CHECK(in.get<List>("x").size() == 1);
    return in;
  });
  auto out = pmap(op, 8)(Record{{"x", ints({1, 2, 3})}, {"k", 5}});
  CHECK(calls == 3);
  CHECK(out.get<List>("x") == ints({1, 2, 3}));
  CHECK(out.get<List>("k") == ints({5, 5, 5}));
}

TEST_CASE("pmap rejects a worker count that is not positive", "[pmap][errors]") {
  CHECK_THROWS_WITH(pmap(doubler(), 0),
                    "pmap(Double): num_workers is 0; allowed: a positive integer, or unset for "
                    "the number of cores");
  CHECK_THROWS_AS(pmap(doubler(), -2), std::invalid_argument);
}

TEST_CASE("pmap of vmap gives the same result as vmap", "[pmap][vmap][nesting]") {
  List xs;
  for (std::int64_t i = 0; i < 100; ++i)
    xs.emplace_back(i);
  Record inputs{{"x", xs}, {"k", 3}};
  CHECK(pmap(vmap(doubler()), 4)(inputs) == vmap(doubler())(inputs));
}

// Found by fuzz/batch_shapes_fuzz.cpp: with fail_fast = false, an operator's own
// "_errors" field made pmap throw FieldError "field 'index' is missing".
TEST_CASE("pmap refuses an operator's own _errors field that is not per-item errors",
          "[pmap][errors][regression]") {
  auto scope = execution_options({.fail_fast = false});
  auto echo = function_operator("Echo", [](const Record& in) { return in; });
  CHECK_THROWS_WITH(pmap(echo, 1)(Record{{"_errors", List{Record{}, "text"}}, {"a", 1}}),
                    Catch::StartsWith("pmap(Echo): shard 0 of 1 returned '_errors' = "
                                      "[{},\"text\"], which is not a list of {index, message}"));
  // An index outside its shard would name another item: refused as well.
  CHECK_THROWS_AS(
      pmap(echo, 2)(Record{{"_errors", List{Record{{"index", 5}, {"message", "m"}}, nullptr}}}),
      ExecutionError);
}

// Found by fuzz/batch_shapes_fuzz.cpp: with fail_fast = false, vmap read an
// operator's own "_errors" field as a nested batch's report and threw
// FieldError "value is a number, expected a record".
TEST_CASE("vmap refuses an operator's own _errors field that is not per-item errors",
          "[vmap][errors][regression]") {
  auto scope = execution_options({.fail_fast = false});
  auto echo = function_operator("Echo", [](const Record& in) { return in; });
  CHECK_THROWS_MATCHES(vmap(echo, {.in_axes = std::vector<std::string>{}, .axis_size = 1})(
                           Record{{"_errors", List{2.5, nullptr}}}),
                       ExecutionError,
                       Catch::Message("vmap(Echo): item 0 returned '_errors' = [2.5,null], which "
                                      "is not a list of {index, message} records for its items; "
                                      "the name is reserved for per-item errors"));
}

// Found by fuzz/batch_shapes_fuzz.cpp: an item's own "_errors" that was not a
// list stayed in its result, so items disagreed on their fields.
TEST_CASE("vmap drops whatever an item returns under _errors with fail_fast off",
          "[vmap][errors][regression]") {
  auto scope = execution_options({.fail_fast = false});
  auto echo = function_operator("Echo", [](const Record& in) { return in; });
  auto out = vmap(echo)(Record{{"_errors", List{List{}, nullptr, 7}}, {"b", List{1, 2, 3}}});
  CHECK(out == Record{{"b", List{1, 2, 3}}, {"_errors", List{}}});
}
