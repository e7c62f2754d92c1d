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

SqliteStore::SqliteStore(std::string path) : path_(std::move(path)) {
  int opened = sqlite3_open_v2(path_.c_str(), &db_,
                               SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                               nullptr);
  try {
    if (opened != SQLITE_OK)
      fail("cannot open it");
    // Another process may hold the write lock for a moment: wait for it.
    sqlite3_busy_timeout(db_, 10'000);
    // The first read of the header: a file that is not SQLite fails here.
    bool ok = false;
    auto id = pragma_number(db_, "PRAGMA application_id", ok);
    if (!ok)
      fail("cannot read it");
    auto tables = pragma_number(
        db_, "SELECT count(*) FROM sqlite_master WHERE name <> 'ember_xcs_results'", ok);
    if (!ok)
      fail("cannot read its schema");
    if (id != application_id && (id != 0 || tables != 0))
      throw CacheFileError(path_, "the result cache file '" + path_ +
                                      "' is not an ember-xcs cache (it holds another "
                                      "application's data); give a new path");
    exec("PRAGMA journal_mode = WAL");
    exec("PRAGMA synchronous = NORMAL");
    exec("BEGIN IMMEDIATE");
    exec("CREATE TABLE IF NOT EXISTS ember_xcs_results ("
         "identity TEXT NOT NULL, inputs BLOB NOT NULL, outputs BLOB NOT NULL, "
         "PRIMARY KEY (identity, inputs)) WITHOUT ROWID");
    auto version = pragma_number(db_, "PRAGMA user_version", ok);
    if (!ok)
      fail("cannot read its version");
    if (version > layout_version) {
      exec("ROLLBACK");
      throw CacheFileError(path_, "the result cache file '" + path_ + "' has layout version " +
                                      std::to_string(version) + ", newer than this ember-xcs reads (" +
                                      std::to_string(layout_version) + ")");
    }
    exec(("PRAGMA application_id = " + std::to_string(application_id)).c_str());
    exec(("PRAGMA user_version = " + std::to_string(layout_version)).c_str());
    exec("COMMIT");
    if (sqlite3_prepare_v3(db_, "SELECT outputs FROM ember_xcs_results WHERE identity = ?1 AND inputs = ?2",
                           -1, SQLITE_PREPARE_PERSISTENT, &select_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v3(db_,
                           "INSERT OR REPLACE INTO ember_xcs_results (identity, inputs, outputs) "
                           "VALUES (?1, ?2, ?3)",
                           -1, SQLITE_PREPARE_PERSISTENT, &insert_, nullptr) != SQLITE_OK)
      fail("cannot prepare its statements");
  } catch (...) {
    sqlite3_finalize(select_);
    sqlite3_finalize(insert_);
    sqlite3_close_v2(db_);
    throw;
  }
}

SqliteStore::~SqliteStore() {
  sqlite3_finalize(select_);
  sqlite3_finalize(insert_);
  sqlite3_close_v2(db_);
}

void SqliteStore::fail(const std::string& doing) const {
  std::string reason = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
  throw CacheFileError(path_, "the result cache file '" + path_ + "': " + doing + ": " + reason);
}

void SqliteStore::exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
    fail(std::string{"cannot run '"} + sql + "'");
}

std::optional<Record> SqliteStore::get(const std::string& identity, std::string_view inputs) {
  std::vector<char> bytes;
  {
    std::lock_guard lock{mutex_};
    Reset reset{select_};
    sqlite3_bind_text(select_, 1, identity.data(), static_cast<int>(identity.size()), SQLITE_STATIC);
    sqlite3_bind_blob64(select_, 2, inputs.data(), inputs.size(), SQLITE_STATIC);
    int step = sqlite3_step(select_);
    if (step == SQLITE_DONE)
      return std::nullopt;
    if (step != SQLITE_ROW)
      fail("cannot read a result of '" + identity + "'");
    const auto* data = static_cast<const char*>(sqlite3_column_blob(select_, 0));
    bytes.assign(data, data + sqlite3_column_bytes(select_, 0));
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
  std::lock_guard lock{mutex_};
  Reset reset{insert_};
  sqlite3_bind_text(insert_, 1, identity.data(), static_cast<int>(identity.size()), SQLITE_STATIC);
  sqlite3_bind_blob64(insert_, 2, inputs.data(), inputs.size(), SQLITE_STATIC);
  sqlite3_bind_blob64(insert_, 3, bytes.data(), bytes.size(), SQLITE_STATIC);
  if (sqlite3_step(insert_) != SQLITE_DONE)
    fail("cannot store a result of '" + identity + "'");
}

} // namespace ember::xcs::detail
