#include "ember/xcs/runtime/runtime.hpp"

#include <caf/all.hpp>

#include <cstdlib>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "ember/xcs/runtime/operator_actor.hpp"
#include "runtime/call_context.hpp"
#include "runtime/executors.hpp"
#include "runtime/runtime_core.hpp"

namespace ember::xcs::detail {
namespace {

thread_local bool scheduler_thread = false;

// CAF calls thread_started on every thread it starts for the system; the
// flag lets the synchronous facade refuse to block one of them.
class MarkSchedulerThreads final : public caf::thread_hook {
public:
  void init(caf::actor_system&) override {}
  void thread_started() override { scheduler_thread = true; }
  void thread_terminates() override { scheduler_thread = false; }
};

std::size_t default_scheduler_threads() {
  return core_count();
}

// The process-wide runtime slot. Leaked on purpose: program exit runs
// shutdown through ExitGuard below while this stays valid for late callers.
struct Registry {
  std::mutex mutex;
  RuntimeConfig config = runtime_config_from_environment();
  caf::actor_system* attached = nullptr;
  std::shared_ptr<RuntimeCore> core;
};

Registry& registry() {
  static auto* instance = new Registry;
  return *instance;
}

// CAF 0.17 destroys an actor system only after every thread that spawned
// actors from outside the system has ended (it keeps a reference in that
// thread's state). An explicit shutdown from such a thread (typically main)
// hands the owner thread over here; the exit handler, which runs after main's
// thread state is gone, finishes it.
struct Lingering {
  std::jthread owner;
  std::shared_future<void> destroyed;
};

std::mutex lingering_mutex;
std::vector<Lingering> lingering;

void finish_lingering() {
  std::vector<Lingering> owners;
  {
    std::lock_guard lock{lingering_mutex};
    owners.swap(lingering);
  }
  for (auto& entry : owners) {
    if (entry.destroyed.wait_for(std::chrono::seconds{1}) == std::future_status::ready)
      entry.owner.join();
    else
      entry.owner.detach(); // exit stays bounded; the OS reclaims the system
  }
}

} // namespace

RuntimeCore::RuntimeCore(const RuntimeConfig& config, caf::actor_system* attached)
    : config_(config), system_(attached),
      pool_("ember-io", config.blocking_threads, std::chrono::seconds{2}),
      cpu_pool_("ember-cpu", default_scheduler_threads(), std::chrono::seconds{2}) {
  if (system_ != nullptr)
    return;
  std::promise<caf::actor_system*> started;
  auto ready = started.get_future();
  std::promise<void> destroyed;
  destroyed_ = destroyed.get_future();
  owner_ = std::jthread{[this, &started, released = release_.get_future(),
                         destroyed = std::move(destroyed)]() mutable {
    caf::actor_system_config caf_config;
    prepare_actor_system_config(caf_config);
    caf_config.set("scheduler.max-threads",
                   config_.scheduler_threads.value_or(default_scheduler_threads()));
    caf_config.set("work-stealing.moderate-poll-attempts", 10);
    std::optional<caf::actor_system> system;
    try {
      system.emplace(caf_config);
    } catch (...) {
      started.set_exception(std::current_exception());
      return;
    }
    started.set_value(&*system);
    released.wait();
    system.reset();
    destroyed.set_value();
  }};
  system_ = ready.get();
}

RuntimeCore::~RuntimeCore() { shutdown(); }

void RuntimeCore::linger(std::jthread owner, std::future<void> destroyed) {
  std::lock_guard lock{lingering_mutex};
  lingering.push_back(Lingering{std::move(owner), destroyed.share()});
}

IoService& RuntimeCore::io() {
  std::call_once(io_started_, [this] { io_ = std::make_unique<IoService>(); });
  return *io_;
}

void RuntimeCore::track(const caf::actor_addr& actor) {
  std::lock_guard lock{spawned_mutex_};
  // Forget actors that are gone, so a long-running program that spawns many
  // short-lived operator actors does not grow this list.
  if (spawned_.size() >= 2 * spawned_live_estimate_) {
    std::erase_if(spawned_, [](const caf::actor_addr& a) {
      return caf::actor_cast<caf::strong_actor_ptr>(a) == nullptr;
    });
    spawned_live_estimate_ = std::max<std::size_t>(spawned_.size(), 16);
  }
  spawned_.push_back(actor);
}

bool RuntimeCore::if_open(const std::function<void()>& deliver) {
  std::shared_lock lock{gate_};
  if (!open_)
    return false;
  deliver();
  return true;
}

bool RuntimeCore::shutdown() {
  {
    std::unique_lock lock{gate_};
    if (!open_)
      return true;
    open_ = false;
  }
  // Both pools share one grace period: the compute pool gets what is left.
  auto deadline = std::chrono::steady_clock::now() + config_.shutdown_grace;
  bool finished = pool_.shutdown(config_.shutdown_grace);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  finished = cpu_pool_.shutdown(std::max(left, std::chrono::milliseconds{0})) && finished;
  // Stopping the I/O thread destroys pending handlers, whose completions then
  // report an error to any batch still waiting for them.
  std::call_once(io_started_, [] {});
  if (io_)
    io_->stop();
  // CAF's system waits for every running actor before it goes; operator
  // actors live as long as a handle to them does, so end them explicitly.
  std::vector<caf::actor_addr> spawned;
  {
    std::lock_guard lock{spawned_mutex_};
    spawned.swap(spawned_);
  }
  for (const auto& actor : spawned)
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  if (owner_.joinable()) {
    release_.set_value();
    auto bound = std::max(config_.shutdown_grace, std::chrono::milliseconds{200});
    if (destroyed_.wait_for(bound) == std::future_status::ready)
      owner_.join();
    else
      linger(std::move(owner_), std::move(destroyed_));
  }
  return finished;
}

std::shared_ptr<RuntimeCore> runtime_core() {
  auto& reg = registry();
  std::lock_guard lock{reg.mutex};
  if (!reg.core) {
    reg.core = std::make_shared<RuntimeCore>(reg.config, reg.attached);
    // Bounded shutdown at program exit. Registered after the first actor
    // system exists, so it runs before CAF's own statics are destroyed
    // (exit handlers and static destructors run in reverse order of setup).
    static const bool exit_handler = std::atexit([] {
      shutdown_runtime();
      finish_lingering();
    }) == 0;
    (void)exit_handler;
  }
  return reg.core;
}

bool on_scheduler_thread() noexcept { return scheduler_thread; }

} // namespace ember::xcs::detail

namespace ember::xcs {

void configure_runtime(const RuntimeConfig& config) {
  auto check_threads = [](const char* name, std::size_t value, std::size_t most) {
    if (value == 0 || value > most)
      throw std::invalid_argument("Invalid value for runtime option '" + std::string{name} +
                                  "': " + std::to_string(value) + " (allowed: 1 to " +
                                  std::to_string(most) + ")");
  };
  check_threads("blocking_threads", config.blocking_threads, max_blocking_threads);
  if (config.scheduler_threads)
    check_threads("scheduler_threads", *config.scheduler_threads, max_scheduler_threads);
  // Shutdown adds the grace to now: past longest_timeout the clock overflows.
  const auto longest_grace =
      std::chrono::duration_cast<std::chrono::milliseconds>(detail::longest_timeout);
  if (config.shutdown_grace < std::chrono::milliseconds::zero() ||
      config.shutdown_grace > longest_grace)
    throw std::invalid_argument("Invalid value for runtime option 'shutdown_grace': " +
                                std::to_string(config.shutdown_grace.count()) +
                                " ms (allowed: 0 to " + std::to_string(longest_grace.count()) +
                                " ms)");
  auto& reg = detail::registry();
  std::lock_guard lock{reg.mutex};
  if (reg.core)
    throw std::logic_error("configure_runtime: the runtime has already started; configure it "
                           "before the first call, or after shutdown_runtime()");
  reg.config = config;
}

RuntimeConfig runtime_config() {
  auto& reg = detail::registry();
  std::lock_guard lock{reg.mutex};
  return reg.core ? reg.core->config() : reg.config;
}

void prepare_actor_system_config(caf::actor_system_config& config) {
  config.add_message_types<caf::id_block::ember_xcs>();
  config.add_thread_hook<detail::MarkSchedulerThreads>();
  config.add_error_category(
      error_category(), [](std::uint8_t code, caf::atom_value, const caf::message& context) {
        return "ember(" + to_string(static_cast<ErrorCode>(code)) + ", " +
               caf::to_string(context) + ")";
      });
}

void attach_actor_system(caf::actor_system& system) {
  auto& reg = detail::registry();
  std::lock_guard lock{reg.mutex};
  if (reg.core && &reg.core->system() != &system)
    throw std::logic_error("attach_actor_system: the runtime already runs on another actor "
                           "system; call shutdown_runtime() first");
  reg.attached = &system;
}

caf::actor_system& actor_system() { return detail::runtime_core()->system(); }

bool shutdown_runtime() {
  std::shared_ptr<detail::RuntimeCore> core;
  {
    auto& reg = detail::registry();
    std::lock_guard lock{reg.mutex};
    core = std::move(reg.core);
    reg.attached = nullptr;
  }
  return core ? core->shutdown() : true;
}

std::size_t blocking_thread_count() {
  auto& reg = detail::registry();
  std::lock_guard lock{reg.mutex};
  return reg.core ? reg.core->pool().thread_count() +
                       reg.core->executor(detail::Device::cpu).thread_count()
                 : 0;
}

} // namespace ember::xcs
