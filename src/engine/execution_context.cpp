#include <ember/xcs/engine/execution_context.hpp>

#include "engine/option_fields.hpp"
#include "engine/options_state.hpp"

#include <atomic>
#include <cassert>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace ember::xcs {
namespace {

struct GlobalOptions {
  // Guards `options`. Readers take it only when `version` says their
  // thread's copy is stale, so the common path is one atomic load.
  std::mutex mutex;
  ExecutionSnapshot options = std::make_shared<const ExecutionOptions>();
  // Bumped under `mutex` with every change. A reader whose acquire load sees
  // its copy's version may keep using the copy: a set_execution_options that
  // happened-before the read has already bumped the version.
  std::atomic<std::uint64_t> version{0};
};

GlobalOptions& global_options() {
  // A function-local static, so options are usable from other static initialisers.
  static GlobalOptions global;
  return global;
}

// What one thread of control sees: a base (null: the global settings) and the
// scopes opened over it.
struct Frame {
  ExecutionSnapshot base;
  std::vector<ExecutionOptionsUpdate> scopes;
};

struct ThreadOptions {
  Frame current;
  // Frames hidden by active ExecutionContextGuards, innermost last.
  std::vector<Frame> suspended;
  // Bumped whenever `current` changes, so the merged cache knows to rebuild.
  std::uint64_t generation = 0;
  ExecutionSnapshot global_copy;
  std::uint64_t global_copy_version = 0;
  ExecutionSnapshot merged;
  // The base `merged` was built on. Holding it keeps its address from being
  // reused, so comparing pointers cannot mistake a new base for the old one.
  ExecutionSnapshot merged_base;
  std::uint64_t merged_generation = 0;
};

ThreadOptions& thread_options() {
  thread_local ThreadOptions state;
  return state;
}

const ExecutionSnapshot& global_snapshot(ThreadOptions& state) {
  auto& global = global_options();
  if (!state.global_copy ||
      state.global_copy_version != global.version.load(std::memory_order_acquire)) {
    std::lock_guard lock(global.mutex);
    state.global_copy = global.options;
    state.global_copy_version = global.version.load(std::memory_order_relaxed);
  }
  return state.global_copy;
}

ExecutionSnapshot merged_snapshot(ThreadOptions& state) {
  const ExecutionSnapshot& base = state.current.base ? state.current.base : global_snapshot(state);
  if (state.merged && state.merged_generation == state.generation && state.merged_base == base) {
    return state.merged;
  }
  ExecutionOptions merged = *base;
  for (const auto& scope : state.current.scopes) {
    merged = merge(merged, scope);
  }
  state.merged = std::make_shared<const ExecutionOptions>(std::move(merged));
  state.merged_base = base;
  state.merged_generation = state.generation;
  return state.merged;
}

} // namespace

namespace detail {

void update_global_options(const ExecutionOptionsUpdate& update) {
  auto& global = global_options();
  // Merging under the lock keeps two concurrent changes from losing each
  // other's fields.
  std::lock_guard lock(global.mutex);
  global.options = std::make_shared<const ExecutionOptions>(merge(*global.options, update));
  global.version.fetch_add(1, std::memory_order_release);
}

std::size_t push_scope(const ExecutionOptionsUpdate& update) {
  validate_update(update);
  auto& state = thread_options();
  state.current.scopes.push_back(update);
  ++state.generation;
  return state.current.scopes.size();
}

void pop_scope([[maybe_unused]] std::size_t depth) noexcept {
  auto& state = thread_options();
  // Scopes are stack objects that cannot move, so they end innermost first on
  // the thread that opened them; anything else is a misuse worth stopping on.
  assert(state.current.scopes.size() == depth);
  state.current.scopes.pop_back();
  ++state.generation;
}

} // namespace detail

ExecutionSnapshot current_execution_snapshot() {
  auto& state = thread_options();
  if (state.current.scopes.empty()) {
    return state.current.base ? state.current.base : global_snapshot(state);
  }
  return merged_snapshot(state);
}

ExecutionContextGuard::ExecutionContextGuard(ExecutionSnapshot snapshot) {
  if (!snapshot) {
    throw std::invalid_argument("ExecutionContextGuard needs an options snapshot, got null");
  }
  auto& state = thread_options();
  state.suspended.push_back(std::move(state.current));
  state.current = Frame{std::move(snapshot), {}};
  ++state.generation;
}

ExecutionContextGuard::~ExecutionContextGuard() {
  auto& state = thread_options();
  state.current = std::move(state.suspended.back());
  state.suspended.pop_back();
  ++state.generation;
}

} // namespace ember::xcs
