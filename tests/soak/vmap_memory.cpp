// vmap over 1,000,000 small items must not take more than the README's bound
// of peak memory per item: from the resident size just before the call to the
// peak during it (VmRSS and VmHWM of /proc/self/status, the peak reset through
// /proc/self/clear_refs). bench/vmap_memory measures the same figure.
// Sanitizers inflate every allocation, so under them the check is skipped
// (exit code 77, which meson reports as SKIP).
#include <cstdint>
#include <fstream>
#include <iostream>
#include <string>

#include <ember/xcs.hpp>

#include "sanitized.hpp"

using namespace ember;
using namespace ember::xcs;

namespace {

using ember::testing::sanitized;

constexpr std::int64_t items = 1'000'000;
constexpr double bound_per_item = 100; // bytes; the README's documented bound

std::int64_t status_bytes(const std::string& field) {
  std::ifstream status{"/proc/self/status"};
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field + ":", 0) == 0)
      return std::stoll(line.substr(field.size() + 1)) * 1024;
  return -1;
}

// Exit codes: 0 within the bound, 1 over it (or a wrong output), 77 skipped.
int measure() {
  if (sanitized) {
    std::cout << "skipped: sanitizers inflate memory, the bound holds for plain builds\n";
    return 77;
  }
  auto op = vmap(function_operator("Small", [](const Record& in) {
    return Record{{"y", in.get<std::int64_t>("x") + 1}};
  }));
  List xs;
  for (std::int64_t i = 0; i < items; ++i)
    xs.emplace_back(i);
  Record input{{"x", Value{std::move(xs)}}};
  op(Record{{"x", List{0}}}); // the runtime's threads exist before the measure

  auto before = status_bytes("VmRSS");
  if (!std::ofstream{"/proc/self/clear_refs"}.write("5", 1)) {
    std::cout << "skipped: /proc/self/clear_refs cannot reset the peak here\n";
    return 77;
  }
  Record out = op(input);
  auto peak = status_bytes("VmHWM");
  const auto& ys = out.get<List>("y");
  if (static_cast<std::int64_t>(ys.size()) != items || ys.back().as_integer() != items) {
    std::cerr << "vmap returned a wrong output\n";
    return 1;
  }
  double per_item = static_cast<double>(peak - before) / items;
  std::cout << "vmap over " << items << " items: peak " << (peak - before) << " bytes above the "
            << "level before the call, " << per_item << " bytes per item (bound " << bound_per_item
            << ")\n";
  return per_item <= bound_per_item ? 0 : 1;
}

} // namespace

int main() {
  try {
    return measure();
  } catch (const std::exception& e) {
    std::cerr << "vmap_memory: " << e.what() << "\n";
    return 1;
  }
}
