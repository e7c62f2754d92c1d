// Scopes, global settings and merging of execution options.
#include <ember/xcs/engine/execution_options.hpp>

#include <ember/core/exceptions.hpp>

#include <catch2/catch.hpp>

#include "global_defaults.hpp"

#include <latch>
#include <limits>
#include <stdexcept>
#include <thread>

using namespace ember::xcs;
using ember::testing::GlobalDefaultsOnExit;

namespace {

std::string error_text(const ExecutionOptionsUpdate& update) {
  try {
    (void)merge(ExecutionOptions{}, update);
  } catch (const ember::ExecutionOptionError& error) {
    return error.what();
  }
  return "no error";
}

} // namespace

TEST_CASE("defaults are the guide's table", "[options][defaults]") {
  const ExecutionOptions options = get_execution_options();
  CHECK(options.use_parallel);
  CHECK_FALSE(options.max_workers);
  CHECK(options.device_strategy == "auto");
  CHECK_FALSE(options.enable_caching);
  CHECK_FALSE(options.trace_execution);
  CHECK_FALSE(options.timeout_seconds);
  CHECK_FALSE(options.scheduler);
  CHECK(options == ExecutionOptions{});
}

TEST_CASE("merge replaces only the fields the update names", "[options][merge]") {
  ExecutionOptions base;
  base.max_workers = 8;
  base.enable_caching = true;
  const auto merged = merge(base, {.use_parallel = false, .timeout_seconds = 2.5});
  CHECK_FALSE(merged.use_parallel);
  CHECK(merged.timeout_seconds == 2.5);
  CHECK(merged.max_workers == 8);
  CHECK(merged.enable_caching);
  CHECK(merged.device_strategy == "auto");
}

TEST_CASE("an engaged empty optional sets a field back to unset", "[options][merge]") {
  ExecutionOptions base;
  base.max_workers = 8;
  base.timeout_seconds = 3.0;
  base.scheduler = "parallel";
  const auto merged = merge(base, {.max_workers = std::optional<int>{},
                                   .timeout_seconds = std::optional<double>{},
                                   .scheduler = std::optional<std::string>{}});
  CHECK_FALSE(merged.max_workers);
  CHECK_FALSE(merged.timeout_seconds);
  CHECK_FALSE(merged.scheduler);
}

TEST_CASE("merge rejects values outside what each option allows", "[options][merge][errors]") {
  CHECK(error_text({.max_workers = 0}) ==
        "Invalid value for execution option 'max_workers': 0 (allowed: a positive integer, or none)");
  CHECK(error_text({.max_workers = -3}) ==
        "Invalid value for execution option 'max_workers': -3 (allowed: a positive integer, or none)");
  CHECK(error_text({.timeout_seconds = 0.0}) ==
        "Invalid value for execution option 'timeout_seconds': 0 (allowed: a positive number of "
        "seconds, or none)");
  CHECK(error_text({.timeout_seconds = -1.5}).find("-1.5") != std::string::npos);
  CHECK(error_text({.timeout_seconds = std::numeric_limits<double>::quiet_NaN()}) != "no error");
  CHECK(error_text({.timeout_seconds = std::numeric_limits<double>::infinity()}) != "no error");
  CHECK(error_text({.device_strategy = "tpu"}) ==
        "Invalid value for execution option 'device_strategy': \"tpu\" (allowed: auto, cpu, io or "
        "gpu)");
  CHECK(error_text({.scheduler = "fifo"}) ==
        "Invalid value for execution option 'scheduler': \"fifo\" (allowed: sequential, parallel, "
        "auto, or none)");
}

TEST_CASE("the error for a bad value names the option", "[options][errors]") {
  try {
    (void)merge(ExecutionOptions{}, {.device_strategy = "tpu"});
    FAIL("no error");
  } catch (const std::invalid_argument& error) {
    const auto* option_error = dynamic_cast<const ember::ExecutionOptionError*>(&error);
    REQUIRE(option_error != nullptr);
    CHECK(option_error->option() == "device_strategy");
  }
}

TEST_CASE("every known device strategy is accepted including gpu", "[options][merge]") {
  for (const char* strategy : {"auto", "cpu", "io", "gpu"}) {
    CHECK(merge(ExecutionOptions{}, {.device_strategy = strategy}).device_strategy == strategy);
  }
}

TEST_CASE("legacy scheduler sequential turns parallel execution off", "[options][legacy]") {
  CHECK_FALSE(merge(ExecutionOptions{}, {.scheduler = "sequential"}).use_parallel);
  CHECK(merge(ExecutionOptions{}, {.scheduler = "sequential"}).scheduler == "sequential");
  CHECK(merge(ExecutionOptions{}, {.use_parallel = true, .scheduler = "sequential"}).use_parallel);
  ExecutionOptions sequential;
  sequential.use_parallel = false;
  CHECK_FALSE(merge(sequential, {.scheduler = "parallel"}).use_parallel);
  CHECK(merge(ExecutionOptions{}, {.scheduler = "auto"}).use_parallel);
}

TEST_CASE("legacy scheduler in a scope gives way to use_parallel in an inner scope",
          "[options][legacy][scope]") {
  auto outer = execution_options({.scheduler = "sequential"});
  CHECK_FALSE(get_execution_options().use_parallel);
  auto inner = execution_options({.use_parallel = true});
  CHECK(get_execution_options().use_parallel);
}

TEST_CASE("a scope overrides only the fields it names and restores them on exit",
          "[options][scope]") {
  GlobalDefaultsOnExit reset;
  set_execution_options({.enable_caching = true});
  {
    auto scope = execution_options({.use_parallel = true, .max_workers = 4});
    const auto options = get_execution_options();
    CHECK(options.max_workers == 4);
    CHECK(options.use_parallel);
    CHECK(options.enable_caching);
  }
  const auto after = get_execution_options();
  CHECK_FALSE(after.max_workers);
  CHECK(after.enable_caching);
}

TEST_CASE("scopes nest with the inner one merged over the outer one", "[options][scope]") {
  auto outer = execution_options({.max_workers = 4, .timeout_seconds = 10.0});
  {
    auto inner = execution_options({.max_workers = 2, .device_strategy = "io"});
    const auto options = get_execution_options();
    CHECK(options.max_workers == 2);
    CHECK(options.device_strategy == "io");
    CHECK(options.timeout_seconds == 10.0);
  }
  const auto options = get_execution_options();
  CHECK(options.max_workers == 4);
  CHECK(options.device_strategy == "auto");
}

TEST_CASE("a scope is restored when an exception leaves it", "[options][scope]") {
  try {
    auto scope = execution_options({.use_parallel = false});
    throw std::runtime_error("body failed");
  } catch (const std::runtime_error&) {
  }
  CHECK(get_execution_options().use_parallel);
}

TEST_CASE("a scope on one thread is invisible on another", "[options][scope][threads]") {
  std::latch scope_open(1);
  std::latch other_looked(1);
  std::optional<ExecutionOptions> seen_on_other;
  std::thread other([&] {
    scope_open.wait();
    seen_on_other = get_execution_options();
    other_looked.count_down();
  });
  {
    auto scope = execution_options({.max_workers = 3});
    scope_open.count_down();
    other_looked.wait();
    CHECK(get_execution_options().max_workers == 3);
  }
  other.join();
  REQUIRE(seen_on_other);
  CHECK_FALSE(seen_on_other->max_workers);
}

TEST_CASE("a global change shows through an open scope for the fields it does not name",
          "[options][scope][global]") {
  GlobalDefaultsOnExit reset;
  auto scope = execution_options({.max_workers = 2});
  set_execution_options({.max_workers = 16, .enable_caching = true});
  const auto options = get_execution_options();
  CHECK(options.enable_caching);
  CHECK(options.max_workers == 2);
}

TEST_CASE("the global settings are seen by every thread", "[options][global][threads]") {
  GlobalDefaultsOnExit reset;
  set_execution_options({.use_parallel = true, .max_workers = 8});
  std::optional<ExecutionOptions> seen;
  std::thread([&] { seen = get_execution_options(); }).join();
  REQUIRE(seen);
  CHECK(seen->max_workers == 8);
}

TEST_CASE("an unknown option name in a scope throws invalid_argument naming it",
          "[options][errors][guide]") {
  try {
    auto scope = execution_options({{"invalid_option", "true"}});
    FAIL("no error");
  } catch (const std::invalid_argument& error) {
    CHECK(std::string(error.what()) == "Invalid execution option: invalid_option");
  }
}

TEST_CASE("one bad value among good ones changes nothing", "[options][errors][atomic]") {
  GlobalDefaultsOnExit reset;
  const StringOptions options{{"use_parallel", "false"},
                              {"max_workers", "0"},
                              {"enable_caching", "true"}};
  CHECK_THROWS_AS(set_execution_options(options), ember::ExecutionOptionError);
  CHECK(get_execution_options() == ExecutionOptions{});
  CHECK_THROWS_AS(execution_options(options), ember::ExecutionOptionError);
  CHECK(get_execution_options() == ExecutionOptions{});
  CHECK_THROWS_AS(set_execution_options({.use_parallel = false, .max_workers = 0}),
                  ember::ExecutionOptionError);
  CHECK(get_execution_options() == ExecutionOptions{});
}

TEST_CASE("a scope whose update is bad leaves the scope stack as it was",
          "[options][errors][scope]") {
  auto outer = execution_options({.max_workers = 4});
  CHECK_THROWS_AS(execution_options({.enable_caching = true, .scheduler = "fifo"}),
                  ember::ExecutionOptionError);
  const auto options = get_execution_options();
  CHECK(options.max_workers == 4);
  CHECK_FALSE(options.enable_caching);
}

TEST_CASE("string keyed scopes and global settings take the same values as typed ones",
          "[options][scope][strings]") {
  GlobalDefaultsOnExit reset;
  set_execution_options(StringOptions{{"device_strategy", "cpu"}});
  auto scope = execution_options({{"use_parallel", "false"}, {"max_workers", "4"}});
  const auto options = get_execution_options();
  CHECK_FALSE(options.use_parallel);
  CHECK(options.max_workers == 4);
  CHECK(options.device_strategy == "cpu");
}
