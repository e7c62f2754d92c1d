// The memo cache behind `enable_caching`: operator results keyed by (operator
// identity, canonical input), least recently used entries evicted first, and
// concurrent identical misses computed once.
#pragma once
#include "ember/config.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <ember/fwd.hpp>

#include "ember/core/types/record.hpp"

namespace ember::xcs {

/// Counters of a ResultCache. `hits + misses` is the number of calls to
/// get_or_compute and lookup.
struct CacheStats {
  /// Calls answered without running their own computation: a stored result,
  /// or (get_or_compute only) the result of an identical call already running.
  std::uint64_t hits = 0;
  /// Calls that found nothing: get_or_compute then ran its computation.
  std::uint64_t misses = 0;
  /// Entries dropped to stay within the capacity (not those dropped by clear).
  std::uint64_t evictions = 0;
  /// Misses answered from the cache file (persist_to) instead of computing.
  std::uint64_t persistent_hits = 0;
  /// Results that could not be written to the cache file (see persist_error).
  std::uint64_t persist_failures = 0;
  /// Entries stored now.
  std::size_t size = 0;
  std::size_t capacity = 0;
};

/// Operator results keyed by operator identity and the exact input record.
///
/// Identity is the operator object itself, tracked through the shared_ptr
/// that owns it (`Operator::weak_from_this`): an entry remembers its operator
/// by a weak_ptr, and only the very same object matches, never a later
/// operator that happens to be allocated at the same address. Entries of a
/// destroyed operator can never hit again; they are dropped when next met or
/// when they reach the end of the LRU list. An operator that no shared_ptr
/// owns (one on the stack) has no stable identity: its calls always run their
/// computation and nothing is stored for it.
///
/// Inputs are keyed by an exact binary encoding of the record (every kind,
/// string byte and double bit pattern distinct), not by its JSON text:
/// to_string's text is lossy (invalid UTF-8 becomes U+FFFD, deep nesting
/// becomes [...]) and to_json throws on NaN. So 1 and 1.0, 0.0 and -0.0, two
/// different invalid byte strings, all key differently; NaN keys like NaN.
///
/// Thread safe. Computations run outside the cache's lock, so a computation
/// may itself use the cache for other keys.
///
/// Persistence: with a cache file (persist_to), results of operators that
/// have a persistent_identity are also kept in that SQLite file, keyed by the
/// identity and the exact input encoding, so a later process finds them. A
/// miss in memory then reads the file before computing; a computed result is
/// written after the callers waiting for it have it. The file is read and
/// written on the calling thread (a local file: microseconds when cached by
/// the OS). Several processes may share one file (WAL mode). A file that
/// cannot be opened, is corrupt or holds something else fails persist_to; a
/// stored result that cannot be read fails the call with CacheFileError: the
/// cache never silently drops what it was given. A failed write does not fail
/// the call (its result is good): it is counted in persist_failures and
/// described by persist_error. clear() empties memory, never the file.
class ResultCache {
public:
  explicit ResultCache(std::size_t capacity = 4096);
  ~ResultCache();
  ResultCache(const ResultCache&) = delete;
  ResultCache& operator=(const ResultCache&) = delete;

  /// The stored output for (`op`, `inputs`), or else the output of `compute`,
  /// stored if the capacity allows.
  ///
  /// Single flight: while one call computes a key, identical calls on other
  /// threads wait for it and return the same result, or rethrow the same
  /// exception. A computation that throws stores nothing, so the next call
  /// computes again. Waiting holds no lock: a computation that calls
  /// get_or_compute for other keys cannot deadlock its waiters. A computation
  /// that asks, on its own thread, for the very key it is computing throws
  /// std::logic_error instead of waiting for itself forever.
  Record get_or_compute(const Operator& op, const Record& inputs,
                        const std::function<Record()>& compute);

  /// How an asynchronous call hears its outcome: the output, or else the
  /// exception (exactly one of the two is set).
  using Done = std::function<void(Record* outputs, std::exception_ptr error)>;

  /// The asynchronous form of get_or_compute, for bodies that end later
  /// (AsyncOperator). `done` hears exactly once: here, at once, for a stored
  /// result; when an identical computation in flight ends (a synchronous or
  /// an asynchronous one), if there is one; otherwise `start` is called here
  /// with the function that ends this computation, which the caller calls
  /// once, from any thread, with the outcome: a result is stored, and `done`
  /// and every call that joined meanwhile hear it. A failure stores nothing.
  /// Nothing waits and no lock is held while the body runs.
  void get_or_start(const Operator& op, const Record& inputs,
                    const std::function<void(Done)>& start, Done done);

  /// The stored output for (`op`, `inputs`), counted as a hit, or nullopt,
  /// counted as a miss. Does not wait for a computation in flight.
  std::optional<Record> lookup(const Operator& op, const Record& inputs);

  /// Drops every entry. Computations in flight still finish and hand their
  /// result to the calls waiting for them, but their result is not stored: it
  /// may be stale by the standard of whoever cleared. A call arriving after
  /// clear() computes afresh instead of joining a computation from before.
  void clear();

  /// Sets how many entries are kept; shrinking evicts least recently used
  /// entries. 0 stores nothing (identical concurrent calls still compute once).
  void set_capacity(std::size_t capacity);

  /// Keeps results of operators with a persistent identity in the SQLite file
  /// at `path` too (created if missing), from now on; replaces a file set
  /// before. Throws CacheFileError naming the file when it cannot be opened or
  /// created, is not SQLite, is damaged, or holds another application's data.
  void persist_to(const std::string& path);
  /// Stops using the cache file (it is closed, never deleted).
  void stop_persisting();
  /// The cache file in use, or empty.
  std::string persistent_path() const;
  /// Why the last write to the cache file failed, or empty.
  std::string persist_error() const;

  CacheStats stats() const;
  /// Zeroes hits, misses and evictions; size and capacity are not counters.
  void reset_stats();

private:
  friend ResultCache& result_cache();
  struct State;
  std::unique_ptr<State> state_;
};

/// The process-wide cache the runtime consults when `enable_caching` is on.
/// Never destroyed, so bodies still running at exit may use it. When the
/// environment variable EMBER_XCS_CACHE_PATH is set at its first use, it
/// persists to that file; if the file cannot be used, every cached call of an
/// operator with a persistent identity fails with that CacheFileError (naming
/// the file and the variable) until persist_to or stop_persisting is called.
ResultCache& result_cache();

} // namespace ember::xcs
