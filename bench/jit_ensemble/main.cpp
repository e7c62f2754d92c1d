// The 8-member ensemble written as a plain sequential loop: members
// block 20 ms (sleep_for, declared OperatorKind::io), then a trivial combiner.
// structural_jit's wall time against the critical path (one member + the
// combiner, timed in this run) and against the plain forward (8 x 20 ms).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int rounds = 9;
constexpr int members = 8;
constexpr auto member_latency = std::chrono::milliseconds(20);

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

template <class F> double milliseconds(F&& f) {
  auto begin = Clock::now();
  f();
  return std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
}

class Ensemble final : public Operator {
public:
  Ensemble() : Operator("Ensemble", {}, OperatorKind::io) {
    for (int i = 0; i < members; ++i)
      members_.push_back(function_operator(
          "Member" + std::to_string(i),
          [i](const Record&) {
            std::this_thread::sleep_for(member_latency); // a blocking model call
            return Record{{"answer", i % 3}};
          },
          {}, OperatorKind::io));
    combiner_ = function_operator("Combiner", [](const Record& in) {
      std::int64_t sum = 0;
      for (const auto& a : in.get<List>("answers"))
        sum += a.as_record().get<std::int64_t>("answer");
      return Record{{"final_answer", sum}};
    });
  }

  Record forward(const Record& inputs) const override {
    List answers;
    for (const auto& member : members_) // a plain sequential loop
      answers.emplace_back(member(inputs));
    return combiner_(Record{{"answers", answers}});
  }

  const OperatorRef& member(int i) const { return members_[static_cast<std::size_t>(i)]; }
  const OperatorRef& combiner() const { return combiner_; }

private:
  std::vector<OperatorRef> members_;
  OperatorRef combiner_;
};

} // namespace

int main(int argc, char** argv) {
  auto plain = make_operator<Ensemble>();
  const auto& ensemble = dynamic_cast<const Ensemble&>(*plain);
  auto jitted = structural_jit(plain);
  Record question{{"question", "?"}};

  // Warm-up: the first jitted call compiles the plan; threads start.
  auto expected = plain(question);
  if (jitted(question) != expected)
    throw std::runtime_error("the jitted ensemble returned a different answer");

  std::vector<double> s_jit, s_plain, s_critical;
  for (int r = 0; r < rounds; ++r) {
    s_critical.push_back(milliseconds([&] {
      auto one = ensemble.member(0)(question);
      ensemble.combiner()(Record{{"answers", List{one}}});
    }));
    s_jit.push_back(milliseconds([&] {
      if (jitted(question) != expected)
        throw std::runtime_error("the jitted ensemble returned a different answer");
    }));
    s_plain.push_back(milliseconds([&] { plain(question); }));
  }
  double jit = median(s_jit), critical = median(s_critical), sequential = median(s_plain);
  double vs_critical = jit / critical, vs_plain = jit / sequential;

  std::cout << "baseline jit_ensemble.critical_path: " << critical << " ms (one member + combiner)\n";
  std::cout << "baseline jit_ensemble.plain_forward: " << sequential << " ms\n";
  std::cout << "jit_ensemble.jit: " << jit << " ms, " << vs_critical << "x the critical path, "
            << vs_plain << "x the plain forward\n";
  std::cout << "target jit_ensemble: <= 1.1x the critical path (" << vs_critical << "x, "
            << (vs_critical <= 1.1 ? "met" : "MISSED") << ")\n";
  boost::json::array results;
  results.push_back({{"name", "jit_ensemble.jit_vs_critical_path"}, {"value", jit}, {"unit", "ms"},
                     {"baseline", "critical_path"}, {"baseline_value", critical},
                     {"ratio", vs_critical}});
  results.push_back({{"name", "jit_ensemble.jit_vs_plain_forward"}, {"value", jit}, {"unit", "ms"},
                     {"baseline", "plain_forward"}, {"baseline_value", sequential},
                     {"ratio", vs_plain}});
  if (argc > 1)
    std::ofstream{argv[1]} << boost::json::serialize(results) << "\n";
  shutdown_runtime();
}
