#include "engine/sqlite_store.hpp"

#include <sqlite3.h>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <cstdint>
#include <utility>
#include <vector>

#include "ember/core/exceptions.hpp"
#include "ember/core/types/record_inspect.hpp"

namespace ember::xcs::detail {
namespace {

// "EmbX" in PRAGMA application_id marks our files; user_version is the layout.
constexpr std::int64_t application_id = 0x456d6258;
constexpr std::int64_t layout_version = 1;

std::int64_t pragma_number(sqlite3* db, const char* sql, bool& ok) {
  sqlite3_stmt* statement = nullptr;
  std::int64_t value = 0;
  ok = sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK &&
       sqlite3_step(statement) == SQLITE_ROW;
  if (ok)
    value = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  return value;
}

// Resets and clears a prepared statement when the scope ends, however it ends.
struct Reset {
  sqlite3_stmt* statement;
  ~Reset() {
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
  }
};

} // namespace

// One connection with its prepared statements; used by one thread at a time.
struct SqliteStore::Connection {
  const std::string& path;
  sqlite3* db = nullptr;
  sqlite3_stmt* select = nullptr;
  sqlite3_stmt* insert = nullptr;

  explicit Connection(const std::string& file) : path(file) {}
  ~Connection() {
    sqlite3_finalize(select);
    sqlite3_finalize(insert);
    sqlite3_close_v2(db);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  [[noreturn]] void fail(const std::string& doing) const {
    std::string reason = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    throw CacheFileError(path, "the result cache file '" + path + "': " + doing + ": " + reason);
  }

  void exec(const std::string& sql) {
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      fail("cannot run '" + sql + "'");
  }

  // Once the table exists.
  void prepare() {
    if (sqlite3_prepare_v3(db,
                           "SELECT outputs FROM ember_xcs_results WHERE identity = ?1 AND inputs = ?2",
                           -1, SQLITE_PREPARE_PERSISTENT, &select, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v3(db,
                           "INSERT OR REPLACE INTO ember_xcs_results (identity, inputs, outputs) "
                           "VALUES (?1, ?2, ?3)",
                           -1, SQLITE_PREPARE_PERSISTENT, &insert, nullptr) != SQLITE_OK)
      fail("cannot prepare its statements");
  }
};

// A connection borrowed from the pool, returned when the lease ends.
class SqliteStore::Lease {
public:
  explicit Lease(SqliteStore& store) : store_(store) {
    {
      std::lock_guard lock{store_.mutex_};
      if (!store_.idle_.empty()) {
        connection_ = std::move(store_.idle_.back());
        store_.idle_.pop_back();
      }
    }
    if (!connection_) {
      connection_ = store_.open_connection();
      connection_->prepare();
    }
  }
  ~Lease() {
    std::lock_guard lock{store_.mutex_};
    try {
      store_.idle_.push_back(std::move(connection_));
    } catch (const std::bad_alloc&) {
      // The connection closes instead of going back.
    }
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  Connection& operator*() const { return *connection_; }
  Connection* operator->() const { return connection_.get(); }

private:
  SqliteStore& store_;
  std::unique_ptr<Connection> connection_;
};

std::unique_ptr<SqliteStore::Connection> SqliteStore::open_connection() const {
  auto c = std::make_unique<Connection>(path_);
  if (sqlite3_open_v2(path_.c_str(), &c->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK)
    c->fail("cannot open it");
  // Another process may hold the write lock for a moment: wait for it.
  sqlite3_busy_timeout(c->db, 10'000);
  c->exec("PRAGMA synchronous = NORMAL");
  c->exec("PRAGMA mmap_size = 268435456");
  return c;
}

SqliteStore::SqliteStore(std::string path) : path_(std::move(path)) {
  auto c = open_connection();
  // The first read of the header: a file that is not SQLite fails here.
  bool ok = false;
  auto id = pragma_number(c->db, "PRAGMA application_id", ok);
  if (!ok)
    c->fail("cannot read it");
  auto tables = pragma_number(
      c->db, "SELECT count(*) FROM sqlite_master WHERE name <> 'ember_xcs_results'", ok);
  if (!ok)
    c->fail("cannot read its schema");
  if (id != application_id && (id != 0 || tables != 0))
    throw CacheFileError(path_, "the result cache file '" + path_ +
                                    "' is not an ember-xcs cache (it holds another "
                                    "application's data); give a new path");
  c->exec("PRAGMA journal_mode = WAL");
  c->exec("BEGIN IMMEDIATE");
  c->exec("CREATE TABLE IF NOT EXISTS ember_xcs_results ("
          "identity TEXT NOT NULL, inputs BLOB NOT NULL, outputs BLOB NOT NULL, "
          "PRIMARY KEY (identity, inputs)) WITHOUT ROWID");
  auto version = pragma_number(c->db, "PRAGMA user_version", ok);
  if (!ok)
    c->fail("cannot read its version");
  if (version > layout_version)
    throw CacheFileError(path_, "the result cache file '" + path_ + "' has layout version " +
                                    std::to_string(version) + ", newer than this ember-xcs reads (" +
                                    std::to_string(layout_version) + ")");
  c->exec("PRAGMA application_id = " + std::to_string(application_id));
  c->exec("PRAGMA user_version = " + std::to_string(layout_version));
  c->exec("COMMIT");
  c->prepare();
  idle_.push_back(std::move(c));
}

SqliteStore::~SqliteStore() = default;

std::optional<Record> SqliteStore::get(const std::string& identity, std::string_view inputs) {
  std::vector<char> bytes;
  {
    Lease c{*this};
    Reset reset{c->select};
    sqlite3_bind_text(c->select, 1, identity.data(), static_cast<int>(identity.size()), SQLITE_STATIC);
    sqlite3_bind_blob64(c->select, 2, inputs.data(), inputs.size(), SQLITE_STATIC);
    int step = sqlite3_step(c->select);
    if (step == SQLITE_DONE)
      return std::nullopt;
    if (step != SQLITE_ROW)
      c->fail("cannot read a result of '" + identity + "'");
    const auto* data = static_cast<const char*>(sqlite3_column_blob(c->select, 0));
    bytes.assign(data, data + sqlite3_column_bytes(c->select, 0));
  }
  Record outputs;
  caf::binary_deserializer source{nullptr, bytes};
  auto error = source(outputs);
  if (error || source.remaining() != 0)
    throw CacheFileError(path_, "the result cache file '" + path_ + "' holds a result of '" +
                                    identity + "' that cannot be read (" +
                                    (error ? caf::to_string(error) : "bytes left over") +
                                    "): the file is damaged; delete it or give a new path");
  return outputs;
}

void SqliteStore::put(const std::string& identity, std::string_view inputs, const Record& outputs) {
  std::vector<char> bytes;
  caf::binary_serializer sink{nullptr, bytes};
  Record copy = outputs;
  if (auto error = sink(copy))
    throw CacheFileError(path_, "a result of '" + identity + "' cannot be written to '" + path_ +
                                    "': " + caf::to_string(error));
  Lease c{*this};
  Reset reset{c->insert};
  sqlite3_bind_text(c->insert, 1, identity.data(), static_cast<int>(identity.size()), SQLITE_STATIC);
  sqlite3_bind_blob64(c->insert, 2, inputs.data(), inputs.size(), SQLITE_STATIC);
  sqlite3_bind_blob64(c->insert, 3, bytes.data(), bytes.size(), SQLITE_STATIC);
  if (sqlite3_step(c->insert) != SQLITE_DONE)
    c->fail("cannot store a result of '" + identity + "'");
}

} // namespace ember::xcs::detail
