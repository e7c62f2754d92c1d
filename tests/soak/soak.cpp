// Soak test (issue 5): thousands of random calls mixing vmap, pmap,
// structural_jit and their nestings, with failing bodies, slow bodies that
// honour cancellation, deadlines, fail_fast on and off, random max_workers,
// use_parallel and device_strategy. Every call is checked against a
// sequential reference computed without ember-xcs's transforms:
//   - fail_fast = false: the output equals the reference, and every item of the
//     call ends as exactly one result or one error (`_errors`);
//   - fail_fast = true: the result equals the reference, or the reference fails
//     and the ExecutionError names an item that fails, caused by a leaf that
//     fails on that input;
//   - with timeout_seconds: the outcome is one of the above or a TimeoutError
//     thrown no earlier than the deadline, and the call returns at most 50 ms
//     after its deadline.
// After the run: no operator body is still running (within 5 s), the process
// is back to its idle thread count (within 10 s: the runtime's pools retire
// threads idle for 2 s) and, under ASan, LeakSanitizer checks the exit.
//
// Usage: soak [--calls N] [--seed S] [--from K] [--max-seconds T]
//   --calls       calls to make (default 2000; 300 under sanitizers)
//   --seed        the run's seed (default 20261127, printed); call K of a
//                 seed is always the same call
//   --from        index of the first call (with --calls 1: replay one call)
//   --max-seconds stop starting calls after T seconds (default 600)
// Long version: soak --calls 100000 --max-seconds 3600
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <ember/xcs.hpp>

#include "structure.hpp"
#include "sanitized.hpp"

using namespace ember;
using namespace ember::xcs;
using namespace ember::soak;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

using ember::testing::sanitized;

constexpr auto max_lateness = 50ms;  // the issue's bound past a call's deadline
constexpr auto call_limit = 60s;     // a call still running after this is a hang
constexpr auto bodies_settle = 5s;   // abandoned bodies poll cancellation every ms
constexpr auto threads_settle = 10s; // idle pool threads retire after 2 s
constexpr int violations_shown = 10;

struct Settings {
  std::uint64_t calls = sanitized ? 300 : 2000;
  std::uint64_t seed = 20261127;
  std::uint64_t from = 0;
  double max_seconds = 600;
};

Settings parse(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc)
      throw std::invalid_argument("soak: " + arg + " needs a value");
    std::string value = argv[++i];
    if (arg == "--calls")
      settings.calls = std::stoull(value);
    else if (arg == "--seed")
      settings.seed = std::stoull(value, nullptr, 0);
    else if (arg == "--from")
      settings.from = std::stoull(value);
    else if (arg == "--max-seconds")
      settings.max_seconds = std::stod(value);
    else
      throw std::invalid_argument("soak: unknown argument " + arg +
                                  " (known: --calls, --seed, --from, --max-seconds)");
  }
  return settings;
}

int os_threads() {
  std::ifstream status{"/proc/self/status"};
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0)
      return std::stoi(line.substr(8));
  return -1;
}

bool eventually(const std::function<bool()>& condition, Clock::duration limit) {
  auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Ends the process if one call runs longer than call_limit (a deadlock or a
// lost wake-up), naming the call, instead of letting the test time out mute.
class Watchdog {
public:
  Watchdog() : thread_([this] { watch(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lock{mutex_};
      done_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  void begin(std::uint64_t index) {
    std::lock_guard lock{mutex_};
    index_ = index;
    started_ = Clock::now();
    running_ = true;
  }
  void end() {
    std::lock_guard lock{mutex_};
    running_ = false;
  }

private:
  void watch() {
    std::unique_lock lock{mutex_};
    while (!done_) {
      changed_.wait_for(lock, 1s);
      if (running_ && Clock::now() - started_ > call_limit) {
        std::cerr << "soak: call " << index_ << " still running after " << call_limit.count()
                  << " s: a hang" << std::endl;
        std::_Exit(2);
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  bool done_ = false;
  bool running_ = false;
  std::uint64_t index_ = 0;
  Clock::time_point started_;
  std::thread thread_;
};

struct Totals {
  std::uint64_t calls = 0, returned = 0, failed_fast = 0, timed_out = 0;
  std::uint64_t items = 0, item_errors = 0, violations = 0;
  Clock::duration worst_lateness = Clock::duration::zero();
};

std::vector<std::string> causes(const std::exception& e) {
  std::vector<std::string> chain{e.what()};
  try {
    std::rethrow_if_nested(e);
  } catch (const std::exception& nested) {
    auto rest = causes(nested);
    chain.insert(chain.end(), rest.begin(), rest.end());
  } catch (...) {
    chain.emplace_back("(a non-standard exception)");
  }
  return chain;
}

// fail_fast = false: each item of the root has a result, or one error entry of
// its own, or (a nested batch that reported failures) only entries naming an
// inner item; an error never sits beside a result.
std::string check_items(const Record& out, std::size_t items) {
  const Value* xs = out.find("x");
  std::vector<int> own(items, 0), inner(items, 0);
  for (const auto& entry : out.at("_errors").as_list()) {
    auto index = entry.as_record().get<std::int64_t>("index");
    if (index < 0 || static_cast<std::size_t>(index) >= items)
      return "an error entry names item " + std::to_string(index) + " of " + std::to_string(items);
    ++(entry.as_record().find("inner") ? inner : own)[static_cast<std::size_t>(index)];
  }
  for (std::size_t i = 0; i < items; ++i) {
    bool result = xs != nullptr && !xs->as_list().at(i).is_null();
    bool ok =
        result ? own[i] == 0 : (own[i] == 1 && inner[i] == 0) || (own[i] == 0 && inner[i] > 0);
    if (!ok)
      return "item " + std::to_string(i) + (result ? " has a result" : " has no result") + " and " +
             std::to_string(own[i]) + " error entries of its own";
  }
  return {};
}

const std::regex item_failure{R"(^(vmap|pmap)\(.*?\): item (\d+) of (\d+) failed in operator .*)"};
const std::regex leaf_failure{R"(^Leaf(\d+) failed on x=(\d+)$)"};

// fail_fast = true and the call threw ExecutionError: the named item and the
// innermost cause must be real failures of the reference.
std::string check_fail_fast(const Call& call, const std::vector<std::string>& chain) {
  std::smatch top, leaf;
  if (!std::regex_match(chain.front(), top, item_failure))
    return "the exception does not name an item";
  auto index = std::stoull(top[2]);
  auto count = std::stoull(top[3]);
  const auto& items = call.input.as_list();
  auto expected_count =
      call.root->kind == Node::Kind::vmap
          ? items.size()
          : std::min<std::size_t>(items.size(), call.root->workers
                                                    ? *call.root->workers
                                                    : std::thread::hardware_concurrency());
  if (count != expected_count)
    return "the exception counts " + std::to_string(count) + " items, not " +
           std::to_string(expected_count);
  if (!item_fails(*call.root, call.input, index))
    return "the exception names item " + std::to_string(index) + ", which does not fail";
  if (!std::regex_match(chain.back(), leaf, leaf_failure) ||
      !leaf_fails(*call.root, std::stoi(leaf[1]), std::stoll(leaf[2])))
    return "the innermost cause is not a failing leaf: " + chain.back();
  return {};
}

std::string show(const Expected& expected) {
  if (const auto* failure = std::get_if<Failure>(&expected))
    return "a failure (" + failure->message + ")";
  return to_json(std::get<Record>(expected));
}

void violation(Totals& totals, std::uint64_t seed, std::uint64_t index, const Call& call,
               const std::string& what) {
  if (++totals.violations <= violations_shown)
    std::cerr << "VIOLATION in call " << index << " (replay: soak --seed " << seed << " --from "
              << index << " --calls 1): " << what << "\n  call: " << describe(call) << std::endl;
}

void run_call(const Settings& settings, std::uint64_t index, Totals& totals) {
  auto call = random_call(settings.seed, index);
  auto expected = reference(*call.root, call.input, call.fail_fast);
  auto op = build(*call.root);
  ExecutionOptionsUpdate update{.use_parallel = call.use_parallel,
                                .device_strategy = call.device_strategy,
                                .timeout_seconds = call.timeout_seconds,
                                .fail_fast = call.fail_fast};
  if (call.max_workers)
    update.max_workers = call.max_workers;
  auto scope = execution_options(update);
  auto items = call.input.as_list().size();
  ++totals.calls;
  totals.items += items;

  auto begin = Clock::now();
  std::string problem;
  try {
    Record out = op(Record{{"x", call.input}});
    ++totals.returned;
    if (!call.fail_fast) {
      totals.item_errors += out.at("_errors").as_list().size();
      problem = check_items(out, items);
    }
    if (problem.empty() &&
        !(std::holds_alternative<Record>(expected) && std::get<Record>(expected) == out))
      problem = "returned " + to_json(out) + ", expected " + show(expected);
  } catch (const TimeoutError& e) {
    ++totals.timed_out;
    if (!call.timeout_seconds)
      problem = std::string{"TimeoutError without a timeout: "} + e.what();
    else if (Clock::now() < begin + std::chrono::duration<double>(*call.timeout_seconds))
      problem = std::string{"TimeoutError before the deadline: "} + e.what();
  } catch (const ExecutionError& e) {
    ++totals.failed_fast;
    ++totals.item_errors;
    auto chain = causes(e);
    if (!call.fail_fast)
      problem = "threw with fail_fast = false: " + chain.front();
    else if (!std::holds_alternative<Failure>(expected))
      problem = "threw " + chain.front() + ", expected " + show(expected);
    else if (auto wrong = check_fail_fast(call, chain); !wrong.empty())
      problem = wrong + " (" + chain.front() + " / " + chain.back() + ")";
  } catch (const std::exception& e) {
    problem = std::string{"unexpected exception: "} + e.what();
  }
  if (call.timeout_seconds) {
    auto deadline = begin + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(*call.timeout_seconds));
    auto late = Clock::now() - deadline;
    totals.worst_lateness = std::max(totals.worst_lateness, late);
    if (late > max_lateness && problem.empty())
      problem = "returned " + std::to_string(ms(late)) + " ms after its deadline";
  }
  if (!problem.empty())
    violation(totals, settings.seed, index, call, problem);
}

} // namespace

int main(int argc, char** argv) {
  Settings settings;
  try {
    settings = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << e.what() << std::endl;
    return 2;
  }
  std::cout << "soak: seed " << settings.seed << ", calls " << settings.from << ".."
            << settings.from + settings.calls - 1 << (sanitized ? " (sanitized build)" : "")
            << std::endl;
  Watchdog watchdog;

  // The idle level: the runtime started, its pools drained of idle threads.
  function_operator("Warmup", [](const Record& in) { return in; })(Record{});
  vmap(function_operator("Warmup", [](const Record& in) { return in; }))(Record{{"x", List{1, 2}}});
  eventually([] { return blocking_thread_count() == 0; }, threads_settle);
  const int idle_threads = os_threads();

  Totals totals;
  auto started = Clock::now();
  auto stop_at = started + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(settings.max_seconds));
  for (auto index = settings.from; index < settings.from + settings.calls; ++index) {
    if (Clock::now() > stop_at) {
      std::cout << "soak: --max-seconds reached, stopping after " << totals.calls << " calls"
                << std::endl;
      break;
    }
    watchdog.begin(index);
    run_call(settings, index, totals);
    watchdog.end();
  }
  auto wall = std::chrono::duration<double>(Clock::now() - started).count();

  bool bodies_done = eventually([] { return live_bodies.load() == 0; }, bodies_settle);
  if (!bodies_done)
    std::cerr << "VIOLATION: " << live_bodies.load() << " operator bodies still running "
              << bodies_settle.count() << " s after the last call" << std::endl;
  auto settle_begin = Clock::now();
  bool threads_idle = eventually([&] { return os_threads() <= idle_threads; }, threads_settle);
  if (!threads_idle)
    std::cerr << "VIOLATION: " << os_threads() << " threads " << threads_settle.count()
              << " s after the last call; idle level " << idle_threads << std::endl;

  std::cout << "soak: seed " << settings.seed << ": " << totals.calls << " calls ("
            << totals.returned << " returned, " << totals.failed_fast << " failed fast, "
            << totals.timed_out << " timed out), " << totals.items << " items checked, "
            << totals.item_errors << " errors, max lateness " << ms(totals.worst_lateness)
            << " ms, " << wall << " s; threads back to " << idle_threads << " in "
            << ms(Clock::now() - settle_begin) << " ms; " << totals.violations << " violations"
            << std::endl;
  return totals.violations == 0 && bodies_done && threads_idle ? 0 : 1;
}
