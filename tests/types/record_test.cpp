// The record data model: construction, typed access, sharing, copy-on-write.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "ember/core/types/json.hpp"
#include "ember/core/types/record.hpp"

using ember::FieldError;
using ember::List;
using ember::Record;
using ember::Value;
using ember::ValueKind;

namespace {

Record sample() {
  return Record{{"text", "hi"},
                {"n", 3},
                {"ratio", 0.5},
                {"ok", true},
                {"nothing", nullptr},
                {"xs", List{1, 2}},
                {"opts", Record{{"a", true}}}};
}

std::vector<std::string> keys_of(const Record& record) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : record)
    keys.push_back(key);
  return keys;
}

} // namespace

TEST_CASE("a record built from an initializer list holds every kind", "[record]") {
  const Record record = sample();
  CHECK(record.size() == 7);
  CHECK(record.at("text").kind() == ValueKind::string);
  CHECK(record.at("n").kind() == ValueKind::integer);
  CHECK(record.at("ratio").kind() == ValueKind::number);
  CHECK(record.at("ok").kind() == ValueKind::boolean);
  CHECK(record.at("nothing").is_null());
  CHECK(record.at("xs").as_list() == List{1, 2});
  CHECK(record.at("opts").as_record().at("a").as_bool());
}

TEST_CASE("typed access returns the field as the asked type", "[record][get]") {
  const Record record = sample();
  CHECK(record.get<std::string>("text") == "hi");
  CHECK(record.get<std::int64_t>("n") == 3);
  CHECK(record.get<int>("n") == 3);
  CHECK(record.get<double>("ratio") == 0.5);
  CHECK(record.get<double>("n") == 3.0);
  CHECK(record.get<bool>("ok"));
  CHECK(record.get<List>("xs").size() == 2);
  CHECK(record.get<Record>("opts") == Record{{"a", true}});
  CHECK(record.get<Value>("nothing").is_null());
}

TEST_CASE("typed access of the wrong kind names the field and both kinds", "[record][get]") {
  const Record record{{"text", 1.5}, {"n", "three"}, {"flag", List{}}};
  CHECK_THROWS_MATCHES(record.get<std::string>("text"), FieldError,
                       Catch::Message("field 'text' is a number, expected a string"));
  CHECK_THROWS_MATCHES(record.get<std::int64_t>("text"), FieldError,
                       Catch::Message("field 'text' is a number, expected an integer"));
  CHECK_THROWS_MATCHES(record.get<double>("n"), FieldError,
                       Catch::Message("field 'n' is a string, expected a number"));
  CHECK_THROWS_MATCHES(record.get<bool>("flag"), FieldError,
                       Catch::Message("field 'flag' is a list, expected a boolean"));
  CHECK_THROWS_MATCHES(record.get<Record>("flag"), FieldError,
                       Catch::Message("field 'flag' is a list, expected a record"));
}

TEST_CASE("a missing field throws a FieldError naming it", "[record][get]") {
  const Record record = sample();
  CHECK_FALSE(record.contains("txt"));
  CHECK(record.find("txt") == nullptr);
  CHECK_THROWS_MATCHES(record.at("txt"), FieldError, Catch::Message("field 'txt' is missing"));
  CHECK_THROWS_MATCHES(record.get<std::string>("txt"), FieldError,
                       Catch::Message("field 'txt' is missing"));
}

TEST_CASE("value accessors of the wrong kind throw a FieldError", "[value]") {
  CHECK_THROWS_MATCHES(Value(2.5).as_string(), FieldError,
                       Catch::Message("value is a number, expected a string"));
  CHECK_THROWS_MATCHES(Value().as_list(), FieldError,
                       Catch::Message("value is null, expected a list"));
  CHECK_THROWS_MATCHES(Value("x").as_number(), FieldError,
                       Catch::Message("value is a string, expected a number"));
  CHECK(Value(4).as_number() == 4.0);
  CHECK(Value(4).is_number());
}

TEST_CASE("get int rejects integers outside the range of int", "[record][get]") {
  const Record record{{"big", std::int64_t{5'000'000'000}}};
  CHECK(record.get<std::int64_t>("big") == 5'000'000'000);
  CHECK_THROWS_MATCHES(
      record.get<int>("big"), FieldError,
      Catch::Message("field 'big' is the integer 5000000000, outside the range of int"));
}

TEST_CASE("integers of every width are stored as int64 and too large ones are refused",
          "[value]") {
  CHECK(Value(short{-7}).as_integer() == -7);
  CHECK(Value(std::uint32_t{4'000'000'000}).as_integer() == 4'000'000'000);
  CHECK(Value(std::numeric_limits<std::int64_t>::min()).as_integer() ==
        std::numeric_limits<std::int64_t>::min());
  CHECK(Value(1.5f).kind() == ValueKind::number);
  CHECK(Value(true).kind() == ValueKind::boolean);
  CHECK_THROWS_AS(Value(std::numeric_limits<std::uint64_t>::max()), std::out_of_range);
}

TEST_CASE("setting a field of a copy leaves the original unchanged", "[record][cow]") {
  const Record original = sample();
  Record copy = original;
  copy.set("text", "changed").set("extra", 1).erase("n");
  CHECK(original.get<std::string>("text") == "hi");
  CHECK_FALSE(original.contains("extra"));
  CHECK(original.contains("n"));
  CHECK(copy.get<std::string>("text") == "changed");
  CHECK(copy.get<int>("extra") == 1);
  CHECK_FALSE(copy.contains("n"));

  const Record changed = original.with("text", "other");
  CHECK(original.get<std::string>("text") == "hi");
  CHECK(changed.get<std::string>("text") == "other");
}

TEST_CASE("copying a record shares its storage", "[record][sharing]") {
  const Record original = sample();
  CHECK(original.use_count() == 1);
  const Record copy = original;
  CHECK(original.use_count() == 2);
  CHECK(copy.begin() == original.begin());
  CHECK(&copy.at("xs").as_list() == &original.at("xs").as_list());
}

TEST_CASE("broadcasting a field to many records copies no string or list", "[record][sharing]") {
  const Value text(std::string(10'000, 'x'));
  const Value items(List(1'000, Value(7)));
  const Record base{{"text", text}, {"items", items}};
  std::vector<Record> batch;
  for (int i = 0; i < 100; ++i)
    batch.push_back(base.with("index", i));
  for (const Record& item : batch) {
    CHECK(item.at("text").as_string().data() == text.as_string().data());
    CHECK(&item.at("items").as_list() == &items.as_list());
  }
  CHECK(base.use_count() == 1); // Each with() copied base's storage once, then changed it.
  CHECK(batch[3].get<int>("index") == 3);
}

TEST_CASE("copies changed on other threads never disturb each other", "[record][cow][threads]") {
  const Record shared = sample();
  std::vector<Record> results(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&shared, &results, t] {
      Record mine = shared;
      for (int i = 0; i < 1'000; ++i)
        mine.set("n", t * 1'000 + i).set("text", std::to_string(t));
      results[static_cast<std::size_t>(t)] = mine;
    });
  }
  for (auto& thread : threads)
    thread.join();
  CHECK(shared == sample());
  for (int t = 0; t < 8; ++t) {
    CHECK(results[static_cast<std::size_t>(t)].get<int>("n") == t * 1'000 + 999);
    CHECK(results[static_cast<std::size_t>(t)].get<std::string>("text") == std::to_string(t));
  }
}

TEST_CASE("setting a field of an unshared record changes it in place", "[record][cow]") {
  Record record{{"a", 1}, {"b", 2}};
  const auto* storage = record.begin();
  record.set("a", 10);
  CHECK(record.begin() == storage);
  CHECK(record.get<int>("a") == 10);
}

TEST_CASE("an empty record allocates no storage", "[record][sharing]") {
  Record record;
  CHECK(record.empty());
  CHECK(record.use_count() == 0);
  CHECK(record.begin() == record.end());
  CHECK(Record{}.use_count() == 0);
  record.set("a", 1);
  CHECK(record.use_count() == 1);
  record.erase("a").erase("not there");
  CHECK(record.empty());
  CHECK(record.use_count() == 0);
  CHECK(record == Record{});
}

TEST_CASE("iteration visits keys in ascending order", "[record][order]") {
  Record record{{"zeta", 1}, {"alpha", 2}, {"mid", 3}};
  record.set("beta", 4).set("omega", 5);
  CHECK(keys_of(record) == std::vector<std::string>{"alpha", "beta", "mid", "omega", "zeta"});
  std::vector<Record::Entry> entries{{"b", 1}, {"a", 2}};
  CHECK(keys_of(Record(std::move(entries))) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("a key given twice keeps its last value", "[record]") {
  const Record record{{"a", 1}, {"b", 2}, {"a", 3}};
  CHECK(record.size() == 2);
  CHECK(record.get<int>("a") == 3);
}

TEST_CASE("equality is deep and requires equal kinds", "[value][equality]") {
  CHECK(Value(1) != Value(1.0));
  CHECK(Value(1) == Value(std::int64_t{1}));
  CHECK(Value("a") == Value(std::string("a")));
  CHECK(Value(List{1, "x", List{}}) == Value(List{1, "x", List{}}));
  CHECK(Value(List{1, 2}) != Value(List{1, 2, 3}));
  CHECK(sample() == sample());
  CHECK(sample() != sample().with("opts", Record{{"a", false}}));
  CHECK(Record{{"a", 1}} != Record{{"b", 1}});
  CHECK(Value(std::nan("")) == Value(std::nan("")));
  CHECK(Value(0.0) == Value(-0.0));
}

TEST_CASE("a moved-from value is null", "[value]") {
  Value source(List{1, 2});
  const Value target(std::move(source));
  CHECK(source.is_null()); // NOLINT(bugprone-use-after-move): the state is the contract.
  CHECK(target.as_list().size() == 2);
}

TEST_CASE("destroying a value nested 200000 levels deep does not overflow the stack",
          "[value][deep]") {
  constexpr int depth = 200'000;
  Value lists = List{};
  Value records = Record{};
  for (int i = 0; i < depth; ++i) {
    lists = List{lists, i};
    records = Record{{"inner", records}};
  }
  Value other_lists = List{};
  for (int i = 0; i < depth; ++i)
    other_lists = List{other_lists, i};
  CHECK(lists == other_lists); // Equality walks the nesting without recursion too.
  lists = nullptr;
  records = nullptr;
  CHECK(lists.is_null());
}
