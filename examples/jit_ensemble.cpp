// An ensemble written as a plain loop over its members: structural_jit runs
// the members at once, so the call takes about one member's latency, and
// the warm-up call of "Performance Considerations" compiles the plan.
#include <chrono>
#include <iostream>
#include <thread>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;
using Clock = std::chrono::steady_clock;

class Ensemble final : public Operator {
public:
  explicit Ensemble(int size) : Operator("Ensemble", {}, OperatorKind::io) {
    for (int i = 0; i < size; ++i)
      members_.push_back(function_operator(
          "Member" + std::to_string(i),
          [i](const Record&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20)); // a model call
            return Record{{"answer", i % 2}};
          },
          {}, OperatorKind::io));
    judge_ = function_operator("MostCommon", [](const Record& in) {
      std::int64_t ones = 0;
      for (const auto& vote : in.get<List>("answers"))
        ones += vote.as_record().get<std::int64_t>("answer");
      return Record{{"final_answer", 2 * ones >= static_cast<std::int64_t>(in.get<List>("answers").size()) ? 1 : 0}};
    });
  }

  Record forward(const Record& inputs) const override {
    List answers;
    for (const auto& member : members_)
      answers.emplace_back(member(inputs));
    return judge_(Record{{"answers", answers}});
  }

private:
  std::vector<OperatorRef> members_;
  OperatorRef judge_;
};

int main() {
  auto plain = make_operator<Ensemble>(8);
  auto jitted = structural_jit(plain);
  Record question{{"question", "Is this ensemble parallel?"}};

  jitted(question); // warm-up: the first call discovers and caches the plan
  auto begin = Clock::now();
  Record fast = jitted(question);
  auto jit_ms = std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
  begin = Clock::now();
  Record slow = plain(question);
  auto plain_ms = std::chrono::duration<double, std::milli>(Clock::now() - begin).count();

  auto stats = jit_stats(jitted);
  std::cout << "same answer: " << std::boolalpha << (fast == slow) << " " << to_json(fast) << "\n"
            << "jit " << jit_ms << " ms, plain " << plain_ms << " ms\n"
            << "compilations " << stats.compilations << ", cache hits " << stats.cache_hits
            << "\n";
  return fast == slow ? 0 : 1;
}
