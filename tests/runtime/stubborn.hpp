// The adversary of a deadline: operator bodies that block on a gate only the
// test opens and never look at their stop token. Shared by the deadline tests.
#pragma once

#include <atomic>
#include <string>

#include "ember/core/registry/operator/base/function_operator.hpp"
#include "support.hpp"

namespace ember::testing {

struct Stubborn {
  Gate gate;
  std::atomic<int> started{0};
  std::atomic<int> ended{0};

  OperatorRef op(std::string name = "NeverPolls", OperatorKind kind = OperatorKind::cpu) {
    return function_operator(std::move(name), [this](const Record& in) {
      ++started;
      gate.wait();
      ++ended;
      return in;
    }, {}, kind);
  }

  /// Lets the bodies end; returns whether every started body did.
  bool release() {
    gate.open();
    return eventually([&] { return ended.load() == started.load(); });
  }
};

} // namespace ember::testing
