// Bad input to operators: specifications, function and typed operators,
// asynchronous operators, and bodies that throw what is not a std::exception.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <stop_token>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/core/registry/operator/base/typed_operator.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/transforms/vmap.hpp"
#include "support.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace std::chrono_literals;
using ember::testing::expect_timeout;

namespace {

struct Query {
  std::string text;
  double weight = 1.0;
};
BOOST_DESCRIBE_STRUCT(Query, (), (text, weight))

struct Reply {
  std::string text;
};
BOOST_DESCRIBE_STRUCT(Reply, (), (text))

class ThrowsInt final : public TypedOperator<Query, Reply> {
public:
  ThrowsInt() : TypedOperator("ThrowsInt") {}

protected:
  Reply run(const Query&) const override { throw 7; }
};

class Echo final : public TypedOperator<Query, Reply> {
public:
  Echo() : TypedOperator("Echo") {}

protected:
  Reply run(const Query& query) const override { return {query.text}; }
};

// An asynchronous body that fails through `fail` with whatever `error` makes.
class FailsWith final : public AsyncOperator {
public:
  explicit FailsWith(std::function<std::exception_ptr()> error)
      : AsyncOperator("FailsWith"), error_(std::move(error)) {}
  void start(const Record&, Completion done) const override { done.fail(error_()); }

private:
  std::function<std::exception_ptr()> error_;
};

// An asynchronous body that never completes by itself: it completes only from
// its stop callback, when the call is cancelled.
class NeverCompletes final : public AsyncOperator {
public:
  explicit NeverCompletes(std::shared_ptr<ember::testing::EndlessCounts> counts)
      : AsyncOperator("NeverCompletes", {}, OperatorKind::io), counts_(std::move(counts)) {}
  void start(const Record&, Completion done) const override {
    ++counts_->started;
    auto callback = std::make_shared<std::optional<std::stop_callback<std::function<void()>>>>();
    // The operator keeps the callbacks, and with them the Completions, until
    // it is destroyed at the end of the test.
    callback->emplace(done.stop_token(), std::function<void()>{[done, counts = counts_] {
                        ++counts->stopped;
                        done.fail(std::make_exception_ptr(std::runtime_error("stopped")));
                        ++counts->ended;
                      }});
    std::lock_guard lock{mutex_};
    callbacks_.push_back(std::move(callback));
  }

private:
  std::shared_ptr<ember::testing::EndlessCounts> counts_;
  mutable std::mutex mutex_;
  mutable std::vector<std::shared_ptr<std::optional<std::stop_callback<std::function<void()>>>>>
      callbacks_;
};

} // namespace

TEST_CASE("a number field accepts NaN and infinities and hands them over intact",
          "[bad_input][core][nan]") {
  auto op = function_operator(
      "Scale",
      [](const Record& in) {
        return Record{{"y", in.get<double>("x") * 2}};
      },
      Specification{{Field::required_field("x", FieldType::number)},
                    {Field::required_field("y", FieldType::number)}});
  CHECK(std::isnan(op(Record{{"x", std::nan("")}}).get<double>("y")));
  CHECK(op(Record{{"x", -std::numeric_limits<double>::infinity()}}).get<double>("y") ==
        -std::numeric_limits<double>::infinity());
  CHECK_THROWS_MATCHES(op(Record{{"x", "NaN"}}), ValidationError,
                       Catch::Message("operator 'Scale': input field 'x' is a string, expected a "
                                      "number"));
}

TEST_CASE("a string field takes bytes that are not UTF-8 and hands them over intact",
          "[bad_input][core][utf8]") {
  const std::string bytes{"\xFF\xFE\0x", 4};
  auto op = function_operator(
      "Length",
      [](const Record& in) {
        return Record{{"n", static_cast<std::int64_t>(in.get<std::string>("text").size())},
                      {"text", in.get<std::string>("text")}};
      },
      Specification{{Field::required_field("text", FieldType::string)}, {}});
  const Record out = op(Record{{"text", bytes}});
  CHECK(out.get<std::int64_t>("n") == 4);
  CHECK(out.get<std::string>("text") == bytes);
}

TEST_CASE("an empty record is refused by required fields naming each missing one",
          "[bad_input][core][empty]") {
  auto op = function_operator(
      "Needs", [](const Record& in) { return in; },
      Specification{{Field::required_field("text", FieldType::string),
                     Field::optional_field("n", FieldType::integer, Value{1})},
                    {}});
  try {
    op(Record{});
    FAIL("no ValidationError");
  } catch (const ValidationError& error) {
    CHECK(error.operator_name() == "Needs");
    CHECK(error.field() == "text");
    CHECK(error.expected() == "a string");
    CHECK(error.actual() == "missing");
  }
  CHECK(function_operator("Any", [](const Record& in) { return in; })(Record{}) == Record{});
}

TEST_CASE("a typed operator refuses inputs of the wrong type naming operator and member",
          "[bad_input][core][typed]") {
  auto op = make_operator<Echo>();
  CHECK_THROWS_MATCHES(op(Record{{"text", "hi"}, {"weight", "heavy"}}), ValidationError,
                       Catch::Message("operator 'Echo': input field 'weight' is a string, "
                                      "expected a number"));
  CHECK(std::isnan(from_record<Query>(Record{{"text", ""}, {"weight", std::nan("")}}).weight));
  CHECK(call<Reply>(op, Query{"", std::numeric_limits<double>::infinity()}).text.empty());
}

TEST_CASE("a body's non-standard exception reaches a plain or timed caller unchanged",
          "[bad_input][core][non_std]") {
  // The facade promises the body's own exception, whatever its type.
  auto op = function_operator(
      "ThrowsString", [](const Record&) -> Record { throw std::string("not an exception class"); });
  CHECK_THROWS_MATCHES(op(Record{}), std::string,
                       Catch::Predicate<std::string>(
                           [](const std::string& e) { return e == "not an exception class"; }));
  auto scope = execution_options({.timeout_seconds = 5.0});
  CHECK_THROWS_AS(op(Record{}), std::string);
  CHECK_THROWS_AS(call<Reply>(make_operator<ThrowsInt>(), Query{"x", 1.0}), int);
}

TEST_CASE("an asynchronous body failing with a null exception_ptr gets an error, not a crash",
          "[bad_input][core][async]") {
  // Regression: the null exception_ptr was rethrown, which crashed the process.
  auto op = make_operator<FailsWith>([] { return std::exception_ptr{}; });
  const std::string expected = "an asynchronous operator body failed without an exception: "
                               "Completion::fail was given a null std::exception_ptr";
  CHECK_THROWS_MATCHES(op(Record{}), ExecutionError, Catch::Message(expected));
  CHECK_THROWS_MATCHES(vmap(op)(Record{{"x", List{1, 2}}}), ExecutionError,
                       ember::testing::message_that(Catch::Contains(
                           "item 0 of 2 failed in operator 'FailsWith': " + expected)));
}

TEST_CASE("an asynchronous body failing with a non-standard exception is reported",
          "[bad_input][core][async][non_std]") {
  auto op = make_operator<FailsWith>([] { return std::make_exception_ptr(42); });
  CHECK_THROWS_AS(op(Record{}), int);
  CHECK_THROWS_WITH(vmap(op)(Record{{"x", List{1}}}),
                    "vmap(FailsWith): item 0 of 1 failed in operator 'FailsWith': a non-standard "
                    "exception");
}

TEST_CASE("an asynchronous body that never completes times out and is stopped",
          "[bad_input][core][async][timeout]") {
  auto counts = std::make_shared<ember::testing::EndlessCounts>();
  auto op = make_operator<NeverCompletes>(counts);
  {
    auto scope = execution_options({.timeout_seconds = 0.3});
    CHECK_THAT(expect_timeout([&] { op(Record{}); }),
               Catch::Contains("operator 'NeverCompletes' timed out"));
  }
  auto scope = execution_options({.max_workers = 4, .timeout_seconds = 0.3});
  CHECK_THAT(expect_timeout([&] {
               vmap(op)(Record{{"x", List{1, 2, 3, 4, 5, 6}}});
             }),
             Catch::Contains("vmap(NeverCompletes)"));
  // Whether a body started before its deadline is up to the scheduler; every
  // one that did was stopped, and the queued ones never started.
  REQUIRE(counts->all_ended());
  CHECK(counts->started <= 1 + 4);
  CHECK(counts->stopped == counts->started);
}
