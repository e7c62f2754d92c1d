// with_fallbacks: models tried in order until one answers, stopped at the
// call's deadline, every failure named when none answers.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/models/errors.hpp"
#include "ember/models/fallback.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/transforms/vmap.hpp"

using namespace ember;
using namespace ember::xcs;
using ember::models::ModelConfigError;
using ember::models::ModelRequestError;
using ember::models::with_fallbacks;

namespace {

// A model stub: answers with its name, or fails with a provider error, or
// never answers (until its stop, which it honours by failing).
class Stub final : public AsyncOperator {
public:
  enum class Mode { answer, fail, hang };
  Stub(std::string name, Mode mode) : AsyncOperator(std::move(name), {}, OperatorKind::io), mode_(mode) {}

  void start(const Record& inputs, Completion done) const override {
    ++calls;
    switch (mode_) {
    case Mode::answer:
      return done.succeed(Record{{"text", name() + ": " + inputs.get<std::string>("prompt")}});
    case Mode::fail:
      return done.fail(std::make_exception_ptr(
          ModelRequestError(name(), 503, "overloaded", "model '" + name() + "': 503 overloaded")));
    case Mode::hang: {
      std::lock_guard lock{mutex};
      hanging.push_back(done);
      return;
    }
    }
  }

  /// The completion of the one call that hangs, once it has started.
  std::optional<Completion> hung() const {
    std::lock_guard lock{mutex};
    if (hanging.size() != 1)
      return std::nullopt;
    return hanging.front();
  }

  mutable std::atomic<int> calls{0};
  mutable std::mutex mutex;
  mutable std::vector<Completion> hanging; // guarded by mutex

private:
  Mode mode_;
};

std::shared_ptr<Stub> stub(std::string name, Stub::Mode mode) {
  return std::make_shared<Stub>(std::move(name), mode);
}

} // namespace

TEST_CASE("a failed model hands the call to the next one in order", "[models][fallback]") {
  auto first = stub("a", Stub::Mode::fail);
  auto second = stub("b", Stub::Mode::answer);
  auto third = stub("c", Stub::Mode::answer);
  auto chain = with_fallbacks({OperatorRef{first}, OperatorRef{second}, OperatorRef{third}});
  CHECK(chain.name() == "Fallback(a -> b -> c)");
  CHECK(chain(Record{{"prompt", "hi"}}) == Record{{"text", "b: hi"}});
  CHECK(first->calls == 1);
  CHECK(second->calls == 1);
  CHECK(third->calls == 0);
}

TEST_CASE("when every model fails the error names each one and keeps the last status",
          "[models][fallback][failures]") {
  auto chain = with_fallbacks({OperatorRef{stub("a", Stub::Mode::fail)},
                               OperatorRef{stub("b", Stub::Mode::fail)}});
  try {
    chain(Record{{"prompt", "hi"}});
    FAIL("no error");
  } catch (const ModelRequestError& e) {
    CHECK(e.status() == 503);
    CHECK(e.model() == "Fallback(a -> b)");
    CHECK_THAT(std::string{e.what()}, Catch::Contains("every model failed") &&
                                          Catch::Contains("model 'a'") && Catch::Contains("model 'b'"));
  }
}

TEST_CASE("a deadline stops a fallback chain without trying the next model",
          "[models][fallback][timeout]") {
  // Repeated while the deadline passed before the first model had the call
  // (a loaded machine): the case under test is a model that was waiting.
  std::optional<Completion> hung;
  std::shared_ptr<Stub> spare;
  for (int attempt = 0; attempt < 20 && !hung; ++attempt) {
    auto stuck = stub("stuck", Stub::Mode::hang);
    spare = stub("spare", Stub::Mode::answer);
    auto chain = with_fallbacks({OperatorRef{stuck}, OperatorRef{spare}});
    {
      auto scope = execution_options({.timeout_seconds = 0.05});
      CHECK_THROWS_AS(chain(Record{{"prompt", "hi"}}), TimeoutError);
    }
    hung = stuck->hung();
  }
  REQUIRE(hung);
  // The hung model now fails (as a cut request does): the chain must not go on.
  CHECK(hung->stop_requested());
  hung->fail(std::make_exception_ptr(std::runtime_error("cut")));
  CHECK(spare->calls == 0);
}

TEST_CASE("with_fallbacks refuses no models, an empty one or a synchronous one naming it",
          "[models][fallback][bad_input]") {
  CHECK_THROWS_AS(with_fallbacks({}), ModelConfigError);
  CHECK_THROWS_WITH(with_fallbacks({OperatorRef{stub("a", Stub::Mode::answer)}, OperatorRef{}}),
                    Catch::Contains("model 1 is empty"));
  auto sync = function_operator("Sync", [](const Record& in) { return in; });
  CHECK_THROWS_WITH(with_fallbacks({sync}),
                    Catch::Contains("model 0") && Catch::Contains("'Sync'") &&
                        Catch::Contains("not asynchronous"));
}

TEST_CASE("a fallback chain under vmap answers every item from the model that works",
          "[models][fallback][vmap]") {
  auto broken = stub("broken", Stub::Mode::fail);
  auto good = stub("good", Stub::Mode::answer);
  auto chain = with_fallbacks({OperatorRef{broken}, OperatorRef{good}});
  List prompts;
  for (int i = 0; i < 100; ++i)
    prompts.emplace_back("q" + std::to_string(i));
  auto scope = execution_options({.max_workers = 16});
  auto out = vmap(chain)(Record{{"prompt", prompts}});
  const auto& texts = out.get<List>("text");
  REQUIRE(texts.size() == 100);
  for (int i = 0; i < 100; ++i)
    REQUIRE(texts[i].as_string() == "good: q" + std::to_string(i));
  CHECK(broken->calls == 100);
  CHECK(good->calls == 100);
}
