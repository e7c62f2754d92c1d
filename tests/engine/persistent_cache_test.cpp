// The persistent result cache: results of operators with a persistent identity
// kept in a SQLite file, found by a later cache (a re-run), shared between
// processes, and a damaged or foreign file refused naming it.
#include <ember/core/exceptions.hpp>
#include <ember/core/registry/operator/base/async_operator.hpp>
#include <ember/core/registry/operator/base/function_operator.hpp>
#include <ember/core/registry/operator/base/operator_ref.hpp>
#include <ember/xcs/engine/execution_options.hpp>
#include <ember/xcs/engine/result_cache.hpp>
#include <ember/xcs/transforms/vmap.hpp>

#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

using namespace ember;
using namespace ember::xcs;

namespace {

namespace fs = std::filesystem;

// A fresh folder under the temporary directory, removed with its files.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> made{0};
    path = fs::temp_directory_path() /
           ("ember-xcs-cache-" + std::to_string(::getpid()) + "-" + std::to_string(made++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string file(const char* name) const { return (path / name).string(); }
};

// Doubles x, counts its runs, and answers to a persistent identity.
class Doubler final : public Operator {
public:
  Doubler(std::string identity, std::atomic<int>& runs)
      : Operator("Doubler"), identity_(std::move(identity)), runs_(runs) {}
  Record forward(const Record& in) const override {
    ++runs_;
    return Record{{"y", in.get<std::int64_t>("x") * 2}};
  }
  std::string persistent_identity() const override { return identity_; }

private:
  std::string identity_;
  std::atomic<int>& runs_;
};

// The same, asynchronous: completes at once from start.
class AsyncDoubler final : public AsyncOperator {
public:
  AsyncDoubler(std::string identity, std::atomic<int>& runs)
      : AsyncOperator("AsyncDoubler"), identity_(std::move(identity)), runs_(runs) {}
  void start(const Record& in, Completion done) const override {
    ++runs_;
    done.succeed(Record{{"y", in.get<std::int64_t>("x") * 2}});
  }
  std::string persistent_identity() const override { return identity_; }

private:
  std::string identity_;
  std::atomic<int>& runs_;
};

Record compute_through(ResultCache& cache, const Operator& op, const Record& inputs) {
  return cache.get_or_compute(op, inputs, [&] { return op.forward(inputs); });
}

int rows_in(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* count = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM ember_xcs_results", -1, &count, nullptr) ==
          SQLITE_OK);
  REQUIRE(sqlite3_step(count) == SQLITE_ROW);
  int rows = sqlite3_column_int(count, 0);
  sqlite3_finalize(count);
  sqlite3_close(db);
  return rows;
}

void run_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* message = nullptr;
  int result = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  std::string text = message != nullptr ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  REQUIRE(result == SQLITE_OK);
  INFO(text);
}

} // namespace

TEST_CASE("a result kept in the cache file is found by a later cache without computing",
          "[cache][persistent]") {
  TempDir dir;
  std::atomic<int> runs{0};
  auto op = make_operator<Doubler>("doubler-v1", runs);
  {
    ResultCache first;
    first.persist_to(dir.file("results.db"));
    CHECK(first.persistent_path() == dir.file("results.db"));
    CHECK(compute_through(first, *op, Record{{"x", 21}}) == Record{{"y", 42}});
    CHECK(runs == 1);
  }
  // A new cache (as a new process would have) on the same file: a hit from
  // the file, then from memory.
  ResultCache rerun;
  rerun.persist_to(dir.file("results.db"));
  CHECK(compute_through(rerun, *op, Record{{"x", 21}}) == Record{{"y", 42}});
  CHECK(compute_through(rerun, *op, Record{{"x", 21}}) == Record{{"y", 42}});
  CHECK(runs == 1);
  auto stats = rerun.stats();
  CHECK(stats.persistent_hits == 1);
  CHECK(stats.misses == 1);
  CHECK(stats.hits == 1);
  // Other inputs, and the same inputs under another identity, are computed.
  auto other = make_operator<Doubler>("doubler-v2", runs);
  CHECK(compute_through(rerun, *op, Record{{"x", 1}}) == Record{{"y", 2}});
  CHECK(compute_through(rerun, *other, Record{{"x", 21}}) == Record{{"y", 42}});
  CHECK(runs == 3);
  CHECK(rows_in(dir.file("results.db")) == 3);
}

TEST_CASE("the cache file keys inputs exactly and keeps outputs exactly", "[cache][persistent]") {
  TempDir dir;
  // An operator that returns its input record as it is, to check the bytes.
  class Echo final : public Operator {
  public:
    Echo() : Operator("Echo") {}
    Record forward(const Record& in) const override { return in; }
    std::string persistent_identity() const override { return "echo"; }
  };
  auto op = make_operator<Echo>();
  const Record odd{{"nan", std::numeric_limits<double>::quiet_NaN()},
                   {"negative_zero", -0.0},
                   {"bytes", std::string("\xff\x00\xfe", 3)},
                   {"nested", List{Value{List{1, 2.5}}, Value{Record{{"k", true}}}}}};
  {
    ResultCache first;
    first.persist_to(dir.file("exact.db"));
    compute_through(first, *op, odd);
    compute_through(first, *op, Record{{"n", 1}});
    compute_through(first, *op, Record{{"n", 1.0}});
  }
  CHECK(rows_in(dir.file("exact.db")) == 3); // 1 and 1.0 are two keys
  ResultCache rerun;
  rerun.persist_to(dir.file("exact.db"));
  std::atomic<int> computed{0};
  auto stored = rerun.get_or_compute(*op, odd, [&] {
    ++computed;
    return Record{};
  });
  CHECK(computed == 0);
  CHECK(std::isnan(stored.get<double>("nan")));
  CHECK(std::signbit(stored.get<double>("negative_zero")));
  CHECK(stored.get<std::string>("bytes") == std::string("\xff\x00\xfe", 3));
  CHECK(stored.get<List>("nested") == odd.get<List>("nested"));
  CHECK(rerun.stats().persistent_hits == 1);
}

TEST_CASE("operators without a persistent identity stay in memory only", "[cache][persistent]") {
  TempDir dir;
  std::atomic<int> runs{0};
  auto op = function_operator("Plain", [&](const Record& in) {
    ++runs;
    return in;
  });
  {
    ResultCache first;
    first.persist_to(dir.file("memory-only.db"));
    compute_through(first, *op, Record{{"x", 1}});
  }
  CHECK(rows_in(dir.file("memory-only.db")) == 0);
  ResultCache rerun;
  rerun.persist_to(dir.file("memory-only.db"));
  compute_through(rerun, *op, Record{{"x", 1}});
  CHECK(runs == 2);
  CHECK(rerun.stats().persistent_hits == 0);
}

TEST_CASE("a re-run of a cached vmap pays nothing for the calls it already made",
          "[cache][persistent][vmap]") {
  TempDir dir;
  std::atomic<int> runs{0};
  std::atomic<int> async_runs{0};
  auto op = make_operator<Doubler>("doubler", runs);
  auto async_op = make_operator<AsyncDoubler>("async-doubler", async_runs);
  List xs;
  for (int i = 0; i < 64; ++i)
    xs.emplace_back(std::int64_t{i});
  result_cache().persist_to(dir.file("vmap.db"));
  struct StopPersisting {
    ~StopPersisting() {
      result_cache().stop_persisting();
      result_cache().clear();
    }
  } stop;
  auto scope = execution_options({.max_workers = 4, .enable_caching = true});
  auto first = vmap(op)(Record{{"x", xs}});
  auto first_async = vmap(async_op)(Record{{"x", xs}});
  REQUIRE(runs == 64);
  REQUIRE(async_runs == 64);
  // What a new process sees: an empty memory, the same file.
  result_cache().clear();
  result_cache().reset_stats();
  CHECK(vmap(op)(Record{{"x", xs}}) == first);
  CHECK(vmap(async_op)(Record{{"x", xs}}) == first_async);
  CHECK(runs == 64);
  CHECK(async_runs == 64);
  CHECK(result_cache().stats().persistent_hits == 128);
  CHECK(first.get<List>("y")[63] == Value{std::int64_t{126}});
}

TEST_CASE("a cache file that is missing its folder, not SQLite, or foreign is refused naming it",
          "[cache][persistent][bad_input]") {
  TempDir dir;
  ResultCache cache;
  auto missing = dir.file("no-such-folder/results.db");
  CHECK_THROWS_AS(cache.persist_to(missing), CacheFileError);
  CHECK_THROWS_WITH(cache.persist_to(missing), Catch::Contains(missing));

  auto garbage = dir.file("garbage.db");
  {
    std::ofstream out{garbage, std::ios::binary};
    for (int i = 0; i < 4096; ++i)
      out.put(static_cast<char>(i * 7 + 3));
  }
  CHECK_THROWS_WITH(cache.persist_to(garbage),
                    Catch::Contains(garbage) && Catch::Contains("not a database"));
  CHECK(fs::file_size(garbage) == 4096); // left as it was

  auto foreign = dir.file("foreign.db");
  run_sql(foreign, "CREATE TABLE customers (name TEXT); INSERT INTO customers VALUES ('ada')");
  CHECK_THROWS_WITH(cache.persist_to(foreign),
                    Catch::Contains(foreign) && Catch::Contains("not an ember-xcs cache"));
  CHECK(cache.persistent_path().empty());
  try {
    cache.persist_to(foreign);
  } catch (const CacheFileError& e) {
    CHECK(e.path() == foreign);
  }
}

TEST_CASE("a damaged stored result fails the call naming the file instead of vanishing",
          "[cache][persistent][bad_input]") {
  TempDir dir;
  auto path = dir.file("damaged.db");
  std::atomic<int> runs{0};
  auto op = make_operator<Doubler>("doubler", runs);
  {
    ResultCache first;
    first.persist_to(path);
    compute_through(first, *op, Record{{"x", 5}});
  }
  run_sql(path, "UPDATE ember_xcs_results SET outputs = x'07ff'");
  ResultCache rerun;
  rerun.persist_to(path);
  CHECK_THROWS_WITH(compute_through(rerun, *op, Record{{"x", 5}}),
                    Catch::Contains(path) && Catch::Contains("doubler") &&
                        Catch::Contains("damaged"));
  CHECK(runs == 1);
}

TEST_CASE("a result the file refuses to store is still returned and the failure is counted",
          "[cache][persistent]") {
  TempDir dir;
  auto path = dir.file("refusing.db");
  ResultCache cache;
  cache.persist_to(path);
  run_sql(path, "CREATE TRIGGER refuse BEFORE INSERT ON ember_xcs_results "
                "BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
  std::atomic<int> runs{0};
  auto op = make_operator<Doubler>("doubler", runs);
  CHECK(compute_through(cache, *op, Record{{"x", 4}}) == Record{{"y", 8}});
  CHECK(cache.stats().persist_failures == 1);
  CHECK_THAT(cache.persist_error(), Catch::Contains(path) && Catch::Contains("disk says no"));
  // Memory still has it.
  CHECK(compute_through(cache, *op, Record{{"x", 4}}) == Record{{"y", 8}});
  CHECK(runs == 1);
}

TEST_CASE("processes writing one cache file at once lose no result", "[cache][persistent][processes]") {
  TempDir dir;
  auto path = dir.file("shared.db");
  constexpr int writers = 3;
  constexpr int per_writer = 150;
  // The children block on the pipe until the parent closes it, so the three
  // processes write at the same time.
  int go[2];
  REQUIRE(::pipe(go) == 0);
  std::vector<pid_t> children;
  for (int writer = 1; writer < writers; ++writer) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(go[1]);
      char byte;
      static_cast<void>(::read(go[0], &byte, 1));
      int status = 0;
      try {
        std::atomic<int> runs{0};
        auto op = make_operator<Doubler>("doubler", runs);
        ResultCache cache;
        cache.persist_to(path);
        for (int i = 0; i < per_writer; ++i)
          compute_through(cache, *op, Record{{"x", writer * 1000 + i}});
        status = cache.stats().persist_failures == 0 ? 0 : 2;
      } catch (...) {
        status = 3;
      }
      ::_exit(status);
    }
    children.push_back(pid);
  }
  ::close(go[0]);
  std::atomic<int> runs{0};
  auto op = make_operator<Doubler>("doubler", runs);
  {
    ResultCache cache;
    cache.persist_to(path);
    ::close(go[1]);
    for (int i = 0; i < per_writer; ++i)
      compute_through(cache, *op, Record{{"x", i}});
    CHECK(cache.stats().persist_failures == 0);
  }
  for (pid_t child : children) {
    int status = -1;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(rows_in(path) == writers * per_writer);
  ResultCache reader;
  reader.persist_to(path);
  runs = 0;
  for (int writer = 0; writer < writers; ++writer)
    for (int i = 0; i < per_writer; ++i) {
      auto x = writer * 1000 + i;
      REQUIRE(compute_through(reader, *op, Record{{"x", x}}) == Record{{"y", std::int64_t{2} * x}});
    }
  CHECK(runs == 0);
  CHECK(reader.stats().persistent_hits == writers * per_writer);
}

TEST_CASE("an operator whose persistent identity throws fails its cached calls instead of hanging them",
          "[cache][persistent][failures]") {
  class NoIdentity final : public AsyncOperator {
  public:
    NoIdentity() : AsyncOperator("NoIdentity") {}
    void start(const Record& in, Completion done) const override { done.succeed(in); }
    std::string persistent_identity() const override {
      throw std::runtime_error("identity unavailable");
    }
  };
  auto op = make_operator<NoIdentity>();
  List xs{std::int64_t{1}, std::int64_t{2}, std::int64_t{3}};
  // The identity is asked for only while a cache file is in use.
  TempDir dir;
  result_cache().persist_to(dir.file("identity.db"));
  struct StopPersisting {
    ~StopPersisting() { result_cache().stop_persisting(); }
  } stop;
  // The deadline only bounds a broken run: a lost item would end as a timeout.
  auto scope = execution_options(
      {.max_workers = 2, .enable_caching = true, .timeout_seconds = 30, .fail_fast = false});
  auto out = vmap(op)(Record{{"x", xs}});
  const auto& errors = out.get<List>("_errors");
  REQUIRE(errors.size() == 3);
  for (const auto& error : errors)
    CHECK_THAT(error.as_record().get<std::string>("message"),
               Catch::Contains("identity unavailable"));
}
