#include "ember/models/fallback.hpp"

#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "ember/core/registry/operator/base/async_operator.hpp"
#include "ember/models/errors.hpp"

namespace ember::models {
namespace {

std::string chain_name(const std::vector<OperatorRef>& models) {
  if (models.empty())
    throw ModelConfigError("with_fallbacks: no models; allowed: one or more model operators");
  std::string name = "Fallback(";
  for (std::size_t i = 0; i < models.size(); ++i) {
    if (!models[i])
      throw ModelConfigError("with_fallbacks: model " + std::to_string(i) + " is empty");
    if (!models[i]->is_async())
      throw ModelConfigError("with_fallbacks: model " + std::to_string(i) + " ('" +
                             models[i].name() +
                             "') is not asynchronous; allowed: AsyncOperators such as "
                             "ModelRegistry::model gives");
    name += (i == 0 ? "" : " -> ") + models[i].name();
  }
  return name + ")";
}

std::string describe(const std::exception_ptr& error, int& status) {
  try {
    std::rethrow_exception(error);
  } catch (const ModelRequestError& e) {
    status = e.status();
    return e.what();
  } catch (const std::exception& e) {
    status = 0;
    return e.what();
  } catch (...) {
    status = 0;
    return "a non-standard exception";
  }
}

class Fallback final : public AsyncOperator {
public:
  // `name` is chain_name(models): the models are checked.
  Fallback(std::string name, std::vector<OperatorRef> models)
      : AsyncOperator(std::move(name), models.front()->specification(), OperatorKind::io),
        models_(std::move(models)) {}

  void start(const Record& inputs, Completion done) const override {
    auto call = std::make_shared<Call>(Call{models_, inputs, std::move(done), name(), {}, 0});
    try_model(call, 0);
  }

private:
  // One call's way down the list.
  struct Call {
    std::vector<OperatorRef> models;
    Record inputs;
    Completion done;
    std::string name;
    std::string failures;
    int last_status;
  };

  static void try_model(const std::shared_ptr<Call>& call, std::size_t index) {
    if (call->done.stop_requested())
      return call->done.fail(nullptr); // discarded: the stop answered the caller
    const auto& model = call->models[index];
    Completion next{[call, index](Record* outputs, std::exception_ptr error) {
                      if (outputs != nullptr)
                        return call->done.succeed(std::move(*outputs));
                      call->failures += (call->failures.empty() ? "" : "; ") +
                                        call->models[index].name() + ": " +
                                        describe(error, call->last_status);
                      if (index + 1 < call->models.size() && !call->done.stop_requested())
                        return try_model(call, index + 1);
                      call->done.fail(std::make_exception_ptr(ModelRequestError(
                          call->name, call->last_status, {},
                          call->name + ": every model failed: " + call->failures)));
                    },
                    call->done.stop_token()};
    // The error leaves the catch block before it is delivered (see ModelCall).
    std::exception_ptr error;
    try {
      auto checked = model->specification().validate_inputs(model.name(), call->inputs);
      static_cast<const AsyncOperator&>(*model).start(checked, next);
    } catch (...) {
      error = std::current_exception();
    }
    if (error)
      next.fail(std::move(error));
  }

  std::vector<OperatorRef> models_;
};

} // namespace

OperatorRef with_fallbacks(std::vector<OperatorRef> models) {
  auto name = chain_name(models);
  return make_operator<Fallback>(std::move(name), std::move(models));
}

} // namespace ember::models
