#include "runtime/inline_body.hpp"

namespace ember::xcs::detail {
namespace {

thread_local bool inline_body = false;
thread_local bool refused_here = false;
thread_local std::uint64_t calls = 0;

} // namespace

InlineBodyScope::InlineBodyScope() noexcept {
  inline_body = true;
  refused_here = false;
}

InlineBodyScope::~InlineBodyScope() { inline_body = false; }

bool InlineBodyScope::refused() const noexcept { return refused_here; }

void before_nested_call() {
  ++calls;
  if (inline_body) {
    refused_here = true;
    throw InlineBodyRefused{};
  }
}

std::uint64_t operator_calls() noexcept { return calls; }

} // namespace ember::xcs::detail
