// The file behind the persistent result cache: one SQLite database in WAL
// mode, so several processes can share it. Private to the engine.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "ember/core/types/record.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace ember::xcs::detail {

/// Results by (operator identity, exact input encoding). Thread safe: one
/// connection, used under its own lock (never the cache's), so disk I/O does
/// not stall calls that only touch memory. Every failure is a CacheFileError
/// naming the file.
class SqliteStore {
public:
  /// Opens or creates the file. Refuses a file that is not SQLite, is
  /// corrupt, cannot be written, or holds another application's tables.
  explicit SqliteStore(std::string path);
  ~SqliteStore();
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  const std::string& path() const noexcept { return path_; }

  /// The stored outputs, or nullopt. A stored value that does not decode is
  /// an error, never a silent miss.
  std::optional<Record> get(const std::string& identity, std::string_view inputs);
  /// Stores (or replaces) the outputs.
  void put(const std::string& identity, std::string_view inputs, const Record& outputs);

private:
  [[noreturn]] void fail(const std::string& doing) const;
  void exec(const char* sql);

  std::string path_;
  std::mutex mutex_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* select_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
};

} // namespace ember::xcs::detail
