// The execution options guide's basic usage, legacy support and exception
// handling snippets, in C++.
#include <iostream>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;

int main() {
  auto op = function_operator("Probe", [](const Record& in) {
    auto options = get_execution_options(); // what is in force where the body runs
    return in.with("max_workers", options.max_workers ? Value{*options.max_workers} : Value{})
        .with("use_parallel", options.use_parallel);
  });

  // Context manager (recommended): only this scope sees the options.
  {
    auto scope = execution_options({.use_parallel = true, .max_workers = 4});
    std::cout << "scoped:     " << to_json(op(Record{})) << "\n";
  }
  {
    auto scope = execution_options({.use_parallel = false});
    std::cout << "sequential: " << to_json(op(Record{})) << "\n";
  }

  // Global settings.
  set_execution_options({.use_parallel = true, .max_workers = 8});
  std::cout << "global:     " << to_json(op(Record{})) << "\n";

  // Legacy: scheduler="sequential" turns parallelism off.
  {
    auto scope = execution_options({.scheduler = "sequential"});
    std::cout << "legacy:     " << to_json(op(Record{})) << "\n";
  }

  // The string-keyed form (config files, command line, environment) checks names.
  try {
    auto scope = execution_options({{"invalid_option", "true"}});
  } catch (const std::invalid_argument& e) {
    std::cout << "Configuration error: " << e.what() << "\n";
  }
}
