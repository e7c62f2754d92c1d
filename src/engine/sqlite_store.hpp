// The file behind the persistent result cache: one SQLite database in WAL
// mode, so several processes can share it. Private to the engine.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ember/core/types/record.hpp"

namespace ember::xcs::detail {

/// Results by (operator identity, exact input encoding). Thread safe: each
/// get or put borrows a connection from a small pool (one per thread using
/// the file at once), so threads read the file in parallel, as SQLite's WAL
/// mode allows, and never wait for each other's disk I/O. Every failure is a
/// CacheFileError naming the file.
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
  struct Connection;
  class Lease;

  std::unique_ptr<Connection> open_connection() const;

  std::string path_;
  std::mutex mutex_; // guards idle_ only
  std::vector<std::unique_ptr<Connection>> idle_;
};

} // namespace ember::xcs::detail
