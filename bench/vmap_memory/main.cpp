// Peak memory of vmap over 1,000,000 small items, per item, next to a plain
// loop that builds the same output list: each measured in a child process of
// its own (a freed heap stays resident), from the resident size just before
// the call to the peak during it (/proc/self/status VmRSS and VmHWM, the peak
// reset through /proc/self/clear_refs).
#include <cstdint>
#include <fstream>
#include <iostream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;

namespace {

constexpr std::int64_t items = 1'000'000;

// A field of /proc/self/status in bytes (VmRSS, VmHWM), or -1.
std::int64_t status_bytes(const std::string& field) {
  std::ifstream status{"/proc/self/status"};
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field + ":", 0) == 0)
      return std::stoll(line.substr(field.size() + 1)) * 1024;
  return -1;
}

OperatorRef small_op() {
  return function_operator("Small", [](const Record& in) {
    return Record{{"y", in.get<std::int64_t>("x") + 1}};
  });
}

// Peak resident bytes above the level before `run`, per item.
template <class F>
double peak_per_item(F&& run) {
  auto before = status_bytes("VmRSS");
  std::ofstream{"/proc/self/clear_refs"} << "5"; // VmHWM := VmRSS
  run();
  return static_cast<double>(status_bytes("VmHWM") - before) / items;
}

double plain_loop() {
  auto op = small_op();
  List xs;
  for (std::int64_t i = 0; i < items; ++i)
    xs.emplace_back(i);
  return peak_per_item([&] {
    List ys;
    ys.reserve(xs.size());
    for (const auto& x : xs)
      ys.emplace_back(op->forward(Record{{"x", x}}).at("y"));
    Record out{{"y", Value{std::move(ys)}}};
  });
}

double with_vmap() {
  auto op = vmap(small_op());
  List xs;
  for (std::int64_t i = 0; i < items; ++i)
    xs.emplace_back(i);
  Record input{{"x", Value{std::move(xs)}}};
  op(Record{{"x", List{0}}}); // the runtime's threads and pools exist before the measure
  return peak_per_item([&] { Record out = op(input); });
}

// Runs `measure` in a child process and returns what it reports.
double in_child(double (*measure)()) {
  int pipe_ends[2];
  if (pipe(pipe_ends) != 0)
    throw std::runtime_error("pipe failed");
  pid_t child = fork();
  if (child == 0) {
    double value = measure();
    (void)!write(pipe_ends[1], &value, sizeof value);
    _exit(0);
  }
  double value = -1;
  (void)!read(pipe_ends[0], &value, sizeof value);
  waitpid(child, nullptr, 0);
  close(pipe_ends[0]);
  close(pipe_ends[1]);
  return value;
}

} // namespace

int main(int argc, char** argv) {
  double loop = in_child(plain_loop);
  double mapped = in_child(with_vmap);
  std::cout << "baseline memory.plain_loop_peak: " << loop << " bytes per item\n"
            << "memory.vmap_peak: " << mapped << " bytes per item over " << items << " items, "
            << mapped / loop << "x the plain loop\n";
  boost::json::array results;
  results.push_back({{"name", "memory.vmap_peak_per_item"},
                     {"value", mapped},
                     {"unit", "bytes"},
                     {"baseline", "plain_loop_peak_per_item"},
                     {"baseline_value", loop},
                     {"ratio", mapped / loop}});
  if (argc > 1)
    std::ofstream{argv[1]} << boost::json::serialize(results) << "\n";
}
