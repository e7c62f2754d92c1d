// An ensemble of five answers and a judge that synthesizes one, jitted so the
// five model calls go out at once, over a small question set with vmap;
// prints the answers, the tokens used and their cost.
//
// Runs against any OpenAI-compatible endpoint named by the environment:
//   OPENAI_BASE_URL=http://127.0.0.1:8080/v1  (llama.cpp's server, vLLM, Ollama, ...)
//   OPENAI_API_KEY=...                         (any text for a local server that takes none)
//   EMBER_EXAMPLE_MODEL=openai:<model>         (default openai:gpt-4o-mini)
// or a named provider from the file in EMBER_CONFIG (see the README's Models).
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <string>

#include <ember/core/non.hpp>
#include <ember/models/errors.hpp>
#include <ember/models/model_registry.hpp>
#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;

namespace {

constexpr const char* usage_hint =
    "Set the endpoint to ask:\n"
    "  OPENAI_BASE_URL  an OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1\n"
    "  OPENAI_API_KEY   its key (any text for a local server that takes none)\n"
    "  EMBER_EXAMPLE_MODEL  the model id to use, e.g. openai:llama3 (default openai:gpt-4o-mini)\n"
    "or name a provider in a JSON file given by EMBER_CONFIG (README, section Models).\n";

std::string environment_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

} // namespace

int main() {
  const std::string model_id = environment_or("EMBER_EXAMPLE_MODEL", "openai:gpt-4o-mini");
  models::ModelRegistry registry;
  OperatorRef model;
  try {
    registry = models::ModelRegistry::from_environment();
    model = registry.model(model_id, {.temperature = 0.7, .max_tokens = 300});
  } catch (const models::ModelConfigError& e) {
    std::cerr << "ensemble_judge: " << e.what() << "\n\n" << usage_hint;
    return 2;
  }

  // query -> five answers -> one synthesized answer, written as plain calls;
  // structural_jit runs the five ensemble members at once.
  auto ensemble = make_operator<non::UniformEnsemble>(
      model, 5, "Answer briefly, in one sentence: {query}");
  auto judge = make_operator<non::JudgeSynthesis>(model);
  auto pipeline = structural_jit(function_operator(
      "EnsembleJudge",
      [ensemble, judge](const Record& in) {
        auto responses = ensemble(Record{{"query", in.get<std::string>("query")}});
        return judge(Record{{"query", in.get<std::string>("query")},
                            {"responses", responses.get<List>("responses")}});
      },
      {}, OperatorKind::io));

  List questions{"What is the capital of Australia?",
                 "How many bones are in the adult human body?",
                 "Which planet has the shortest day?"};
  Record answers;
  try {
    // Every question at once, each one's failure kept apart from the others.
    auto scope = execution_options({.max_workers = 16, .timeout_seconds = 300, .fail_fast = false});
    answers = vmap(pipeline)(Record{{"query", questions}});
  } catch (const std::exception& e) {
    std::cerr << "ensemble_judge: " << e.what() << "\n\n" << usage_hint;
    return 1;
  }

  const auto& finals = answers.get<List>("final_answer");
  for (std::size_t i = 0; i < questions.size(); ++i)
    std::cout << "Q: " << questions[i].as_string() << "\nA: "
              << (finals[i].kind() == ValueKind::string ? finals[i].as_string() : to_string(finals[i]))
              << "\n\n";
  if (const auto* errors = answers.find("_errors"))
    std::cout << "failed items: " << to_string(*errors) << "\n";

  std::cout << "usage:\n";
  for (const auto& [id, used] : registry.usage())
    std::cout << "  " << id << ": " << used.calls << " calls, " << used.prompt_tokens
              << " prompt + " << used.completion_tokens << " completion tokens, "
              << (used.priced ? "$" + std::to_string(used.cost) : std::string{"no price set"})
              << "\n";
  return 0;
}
