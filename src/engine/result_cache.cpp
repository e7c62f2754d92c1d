#include <ember/xcs/engine/result_cache.hpp>

#include <ember/core/exceptions.hpp>
#include <ember/core/registry/operator/base/operator_base.hpp>

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <future>
#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/sqlite_store.hpp"

namespace ember::xcs {
namespace {

void append_u64(std::string& out, std::uint64_t x) {
  for (int shift = 0; shift < 64; shift += 8)
    out.push_back(static_cast<char>((x >> shift) & 0xffU));
}

void append_bytes(std::string& out, std::string_view bytes) {
  append_u64(out, bytes.size());
  out.append(bytes);
}

// One list or record whose members are still to be encoded.
struct Pending {
  const Record::Entry* entry = nullptr;
  const Record::Entry* entries_end = nullptr;
  const Value* element = nullptr;
  const Value* elements_end = nullptr;
};

// Writes `value`'s kind and scalar payload; a list or record also gets its
// size and is queued on `pending` for its members.
void encode_head(std::string& out, const Value& value, std::vector<Pending>& pending) {
  out.push_back(static_cast<char>(value.kind()));
  switch (value.kind()) {
  case ValueKind::null: break;
  case ValueKind::boolean: out.push_back(value.as_bool() ? '\1' : '\0'); break;
  case ValueKind::integer: append_u64(out, static_cast<std::uint64_t>(value.as_integer())); break;
  case ValueKind::number: append_u64(out, std::bit_cast<std::uint64_t>(value.as_number())); break;
  case ValueKind::string: append_bytes(out, value.as_string()); break;
  case ValueKind::list: {
    const List& list = value.as_list();
    append_u64(out, list.size());
    pending.push_back({.element = list.data(), .elements_end = list.data() + list.size()});
    break;
  }
  case ValueKind::record: {
    const Record& record = value.as_record();
    append_u64(out, record.size());
    pending.push_back({.entry = record.begin(), .entries_end = record.end()});
    break;
  }
  }
}

// An exact, prefix-free encoding of `record`: a kind byte per value, sizes
// before strings, lists and records, doubles as their bit pattern. Distinct
// records encode differently (except NaNs that differ only in payload bits are
// still distinct, which only costs a miss). Iterative, so no nesting depth can
// exhaust the stack; never throws except std::bad_alloc. Reading through raw
// pointers is safe: `record` is immutable and holds every nested value alive.
std::string encode(const Record& record) {
  std::string out;
  std::vector<Pending> pending;
  encode_head(out, Value{record}, pending);
  while (!pending.empty()) {
    Pending& top = pending.back();
    const Value* next = nullptr;
    if (top.entry != top.entries_end) {
      append_bytes(out, top.entry->first);
      next = &top.entry->second;
      ++top.entry;
    } else if (top.element != top.elements_end) {
      next = top.element;
      ++top.element;
    } else {
      pending.pop_back();
      continue;
    }
    // May grow `pending`; `top` is not used past this point.
    encode_head(out, *next, pending);
  }
  return out;
}

// What a lookup compares: the operator's address and the encoded inputs. The
// text is a view into the entry or flight that owns it (list nodes and flights
// never move), or into the caller's local string during a lookup. Matching on
// a key alone is not enough: the owner (weak_ptr) must match too, see same_owner.
struct Key {
  const Operator* op = nullptr;
  std::size_t hash = 0;
  std::string_view text;

  friend bool operator==(const Key& a, const Key& b) noexcept {
    return a.op == b.op && a.hash == b.hash && a.text == b.text;
  }
};

struct KeyHash {
  std::size_t operator()(const Key& key) const noexcept { return key.hash; }
};

Key make_key(const Operator& op, std::string_view text) {
  const std::size_t text_hash = std::hash<std::string_view>{}(text);
  const std::size_t op_hash = std::hash<const void*>{}(&op);
  // boost::hash_combine's mixing.
  return {&op, text_hash ^ (op_hash + 0x9e3779b97f4a7c15ULL + (text_hash << 6) + (text_hash >> 2)),
          text};
}

using OperatorHandle = std::weak_ptr<const Operator>;

// True when `a` and `b` share one control block: the same operator object for
// its whole life. An expired weak_ptr keeps its control block, so a new
// operator at the old one's address never compares equal to it.
bool same_owner(const OperatorHandle& a, const OperatorHandle& b) noexcept {
  return !a.owner_before(b) && !b.owner_before(a);
}

struct Entry {
  // The key, minus the text view: see key_of.
  const Operator* op = nullptr;
  std::size_t hash = 0;
  std::string text;
  OperatorHandle owner;
  std::string operator_name; // for diagnostics (a debugger, a future dump)
  Record outputs;
};

Key key_of(const Entry& entry) noexcept {
  return {entry.op, entry.hash, entry.text};
}

// One computation in progress and the calls waiting for it.
struct Flight {
  std::string text;
  OperatorHandle owner;
  std::thread::id computing_thread = std::this_thread::get_id();
  std::promise<Record> promise;
  std::shared_future<Record> result = promise.get_future().share();
  // clear() bumps the cache's generation; a flight from an older one is not stored.
  std::uint64_t generation = 0;
  // Asynchronous calls that joined this flight; guarded by the cache's mutex
  // and taken out, once, by whoever ends the flight.
  std::vector<ResultCache::Done> joined;
  std::atomic<bool> ended{false};
  // The operator's persistent identity and the cache file of its call, when
  // both exist; from_file when the result was read there (not written back).
  std::string identity;
  std::shared_ptr<detail::SqliteStore> file;
  bool from_file = false;
};

} // namespace

struct ResultCache::State {
  mutable std::mutex mutex;
  // Everything below is guarded by `mutex`. Entries most recently used first;
  // `index` and `flights` keys view text owned by their entry or flight.
  std::list<Entry> entries;
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index;
  std::unordered_map<Key, std::shared_ptr<Flight>, KeyHash> flights;
  std::size_t capacity = 0;
  std::uint64_t generation = 0;
  CacheStats counters;
  // The cache file; or, when EMBER_XCS_CACHE_PATH named one that failed, why.
  // `persisting` mirrors "either is set" for a lock-free check, so calls
  // without a file never ask an operator for its persistent identity.
  std::atomic<bool> persisting{false};
  std::shared_ptr<detail::SqliteStore> file;
  std::string file_failure_path;
  std::string file_failure;
  std::string last_write_error;

  // Called under the lock for a flight about to compute: attaches the cache
  // file when the operator has a persistent identity; or the error of a file
  // from EMBER_XCS_CACHE_PATH that could not be opened (the caller delivers
  // it outside the lock).
  std::exception_ptr attach_file(Flight& flight) {
    if (flight.identity.empty())
      return nullptr;
    if (!file_failure.empty())
      return std::make_exception_ptr(CacheFileError(file_failure_path, file_failure));
    flight.file = file;
    return nullptr;
  }

  // The flight's result from the cache file, if it is there. Outside the lock.
  std::optional<Record> read_file(Flight& flight) {
    if (!flight.file)
      return std::nullopt;
    auto stored = flight.file->get(flight.identity, flight.text);
    flight.from_file = stored.has_value(); // counted when the flight ends
    return stored;
  }

  void erase(std::unordered_map<Key, std::list<Entry>::iterator, KeyHash>::iterator at) {
    auto entry = at->second;
    index.erase(at);
    entries.erase(entry);
  }

  void evict_to_capacity() {
    while (entries.size() > capacity) {
      index.erase(key_of(entries.back()));
      entries.pop_back();
      ++counters.evictions;
    }
  }

  // The stored entry for `key` owned by `owner`, moved to the front; or
  // nullptr. An entry under the same key but another owner belongs to a
  // destroyed operator whose address was reused: it can never hit, so it goes.
  const Entry* find_stored(const Key& key, const OperatorHandle& owner) {
    auto at = index.find(key);
    if (at == index.end())
      return nullptr;
    if (!same_owner(at->second->owner, owner)) {
      erase(at);
      return nullptr;
    }
    entries.splice(entries.begin(), entries, at->second);
    return &*at->second;
  }

  // `key` may view `text`: `text` is moved from only once `key` is no longer used.
  void store(const Key& key, const OperatorHandle& owner, const std::string& operator_name,
             std::string&& text, const Record& outputs) {
    if (capacity == 0)
      return;
    if (auto at = index.find(key); at != index.end())
      erase(at);
    entries.push_front(Entry{key.op, key.hash, std::move(text), owner, operator_name, outputs});
    try {
      index.emplace(key_of(entries.front()), entries.begin());
    } catch (...) {
      entries.pop_front();
      throw;
    }
    evict_to_capacity();
  }

  // Ends `flight`, whichever way it was computed: it leaves the table (unless
  // clear() or a replacement took it out already), a result is stored if no
  // clear() came in between, then every waiter hears, outside the lock. Storing
  // is best effort: running out of memory must not cost the callers their result.
  void end_flight(const std::shared_ptr<Flight>& flight, const Key& key,
                  const std::string& operator_name, const Record* outputs,
                  std::exception_ptr error) {
    if (flight->ended.exchange(true))
      return;
    // The key's text moves into the stored entry; the file needs its own copy.
    std::string file_key = outputs != nullptr && flight->file && !flight->from_file
                               ? std::string{key.text}
                               : std::string{};
    std::vector<ResultCache::Done> joined;
    {
      std::lock_guard lock{mutex};
      auto running = flights.find(key);
      if (running != flights.end() && running->second == flight)
        flights.erase(running);
      if (flight->from_file)
        ++counters.persistent_hits;
      if (outputs != nullptr && flight->generation == generation) {
        try {
          store(key, flight->owner, operator_name, std::move(flight->text), *outputs);
        } catch (const std::bad_alloc&) {
        }
      }
      joined.swap(flight->joined);
    }
    if (outputs != nullptr)
      flight->promise.set_value(*outputs);
    else
      flight->promise.set_exception(error);
    for (auto& done : joined) {
      if (outputs != nullptr) {
        Record copy = *outputs;
        done(&copy, nullptr);
      } else {
        done(nullptr, error);
      }
    }
    if (!file_key.empty())
      write_file(*flight, file_key, *outputs);
  }

  // A failed write keeps the call's good result and is counted instead.
  void write_file(const Flight& flight, const std::string& file_key, const Record& outputs) {
    try {
      flight.file->put(flight.identity, file_key, outputs);
    } catch (const std::exception& e) {
      std::lock_guard lock{mutex};
      ++counters.persist_failures;
      try {
        last_write_error = e.what();
      } catch (const std::bad_alloc&) {
      }
    }
  }
};

ResultCache::ResultCache(std::size_t capacity) : state_(std::make_unique<State>()) {
  state_->capacity = capacity;
}

ResultCache::~ResultCache() = default;

Record ResultCache::get_or_compute(const Operator& op, const Record& inputs,
                                   const std::function<Record()>& compute) {
  OperatorHandle owner = op.weak_from_this();
  if (owner.expired()) {
    // No shared_ptr owns `op`, so nothing could tell it from a later operator
    // at its address: run uncached.
    {
      std::lock_guard lock{state_->mutex};
      ++state_->counters.misses;
    }
    return compute();
  }

  auto flight = std::make_shared<Flight>();
  flight->text = encode(inputs);
  flight->owner = owner;
  if (state_->persisting.load(std::memory_order_relaxed))
    flight->identity = op.persistent_identity();
  const Key key = make_key(op, flight->text);
  {
    std::unique_lock lock{state_->mutex};
    if (const Entry* stored = state_->find_stored(key, owner)) {
      ++state_->counters.hits;
      return stored->outputs;
    }
    if (auto running = state_->flights.find(key); running != state_->flights.end()) {
      if (same_owner(running->second->owner, owner)) {
        if (running->second->computing_thread == std::this_thread::get_id())
          throw std::logic_error("operator '" + op.name() +
                                 "' asked for its own cached result while computing it: "
                                 "a call with the same inputs inside its own body never ends");
        ++state_->counters.hits;
        // Copy the future and wait without the lock: the computing thread
        // needs the lock to finish, and other keys must stay usable.
        std::shared_future<Record> result = running->second->result;
        lock.unlock();
        return result.get();
      }
      // A flight of a destroyed operator at the same address: ours replaces
      // it in the table; it still completes for its own waiters (see finish).
      state_->flights.erase(running);
    }
    if (auto refused = state_->attach_file(*flight)) {
      lock.unlock();
      std::rethrow_exception(refused);
    }
    ++state_->counters.misses;
    flight->generation = state_->generation;
    state_->flights.emplace(key, flight);
  }

  // The computation runs under no lock. Whatever it does, the flight then
  // ends, or waiters would wait forever.
  Record outputs;
  try {
    if (auto stored = state_->read_file(*flight))
      outputs = std::move(*stored);
    else
      outputs = compute();
  } catch (...) {
    state_->end_flight(flight, key, op.name(), nullptr, std::current_exception());
    throw;
  }
  state_->end_flight(flight, key, op.name(), &outputs, nullptr);
  return outputs;
}

void ResultCache::get_or_start(const Operator& op, const Record& inputs,
                               const std::function<void(Done)>& start, Done done) {
  OperatorHandle owner = op.weak_from_this();
  if (owner.expired()) {
    {
      std::lock_guard lock{state_->mutex};
      ++state_->counters.misses;
    }
    return start(std::move(done));
  }

  auto flight = std::make_shared<Flight>();
  flight->text = encode(inputs);
  flight->owner = owner;
  flight->computing_thread = std::thread::id{}; // no thread computes it
  // `done` hears every failure from here on, also the operator's own
  // persistent_identity throwing; the error leaves its catch block first.
  std::exception_ptr refused;
  try {
    if (state_->persisting.load(std::memory_order_relaxed))
      flight->identity = op.persistent_identity();
  } catch (...) {
    refused = std::current_exception();
  }
  if (refused)
    return done(nullptr, std::move(refused));
  const Key key = make_key(op, flight->text);
  {
    std::unique_lock lock{state_->mutex};
    if (const Entry* stored = state_->find_stored(key, owner)) {
      ++state_->counters.hits;
      Record outputs = stored->outputs;
      lock.unlock();
      return done(&outputs, nullptr);
    }
    if (auto running = state_->flights.find(key); running != state_->flights.end()) {
      if (same_owner(running->second->owner, owner)) {
        ++state_->counters.hits;
        running->second->joined.push_back(std::move(done));
        return;
      }
      state_->flights.erase(running);
    }
    if ((refused = state_->attach_file(*flight))) {
      lock.unlock();
      return done(nullptr, std::move(refused));
    }
    ++state_->counters.misses;
    flight->generation = state_->generation;
    flight->joined.push_back(std::move(done));
    state_->flights.emplace(key, flight);
  }
  // The flight's text is moved into the entry when it is stored: the key
  // views it, so the end keeps its own copy of the key's text.
  auto end = [state = state_.get(), flight, op_ptr = key.op, hash = key.hash,
              name = op.name()](Record* outputs, std::exception_ptr error) {
    std::string text = flight->text;
    state->end_flight(flight, Key{op_ptr, hash, text}, name, outputs, std::move(error));
  };
  try {
    if (auto stored = state_->read_file(*flight))
      return end(&*stored, nullptr);
    start(std::move(end));
  } catch (...) {
    state_->end_flight(flight, key, op.name(), nullptr, std::current_exception());
  }
}

std::optional<Record> ResultCache::lookup(const Operator& op, const Record& inputs) {
  OperatorHandle owner = op.weak_from_this();
  std::string text = owner.expired() ? std::string{} : encode(inputs);
  std::lock_guard lock{state_->mutex};
  if (!owner.expired()) {
    if (const Entry* stored = state_->find_stored(make_key(op, text), owner)) {
      ++state_->counters.hits;
      return stored->outputs;
    }
  }
  ++state_->counters.misses;
  return std::nullopt;
}

void ResultCache::clear() {
  std::lock_guard lock{state_->mutex};
  state_->index.clear();
  state_->entries.clear();
  // Flights keep running for the calls already waiting on them; new calls
  // start afresh, and the old flights will not store (generation differs).
  state_->flights.clear();
  ++state_->generation;
}

void ResultCache::set_capacity(std::size_t capacity) {
  std::lock_guard lock{state_->mutex};
  state_->capacity = capacity;
  state_->evict_to_capacity();
}

void ResultCache::persist_to(const std::string& path) {
  auto file = std::make_shared<detail::SqliteStore>(path);
  std::lock_guard lock{state_->mutex};
  state_->file = std::move(file);
  state_->file_failure.clear();
  state_->file_failure_path.clear();
  state_->persisting = true;
}

void ResultCache::stop_persisting() {
  std::lock_guard lock{state_->mutex};
  state_->file.reset();
  state_->file_failure.clear();
  state_->file_failure_path.clear();
  state_->persisting = false;
}

std::string ResultCache::persistent_path() const {
  std::lock_guard lock{state_->mutex};
  return state_->file ? state_->file->path() : std::string{};
}

std::string ResultCache::persist_error() const {
  std::lock_guard lock{state_->mutex};
  return state_->last_write_error;
}

CacheStats ResultCache::stats() const {
  std::lock_guard lock{state_->mutex};
  CacheStats result = state_->counters;
  result.size = state_->entries.size();
  result.capacity = state_->capacity;
  return result;
}

void ResultCache::reset_stats() {
  std::lock_guard lock{state_->mutex};
  state_->counters = CacheStats{};
  state_->last_write_error.clear();
}

ResultCache& result_cache() {
  // Deliberately leaked: a body still running when main returns may call into
  // the cache after static destructors would have run.
  static ResultCache* const cache = [] {
    auto* made = new ResultCache();
    if (const char* path = std::getenv("EMBER_XCS_CACHE_PATH"); path != nullptr && *path != '\0') {
      try {
        made->persist_to(path);
      } catch (const CacheFileError& e) {
        made->state_->file_failure_path = e.path();
        made->state_->file_failure = std::string{e.what()} + " (from EMBER_XCS_CACHE_PATH)";
        made->state_->persisting = true;
      }
    }
    return made;
  }();
  return *cache;
}

} // namespace ember::xcs
