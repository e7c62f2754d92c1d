// A model operator for NON tests: answers through a script and records every
// request it got, on any thread.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "ember/core/registry/operator/base/operator_ref.hpp"

namespace ember::testing {

class ScriptedModel final : public Operator {
public:
  using Script = std::function<std::string(const Record& request)>;

  ScriptedModel(std::string name, Script script)
      : Operator(std::move(name), {}, OperatorKind::io), script_(std::move(script)) {}

  Record forward(const Record& request) const override {
    {
      std::lock_guard lock{mutex_};
      requests_.push_back(request);
    }
    return Record{{"text", script_(request)}};
  }

  std::vector<Record> requests() const {
    std::lock_guard lock{mutex_};
    return requests_;
  }

private:
  Script script_;
  mutable std::mutex mutex_;
  mutable std::vector<Record> requests_;
};

/// A model and the handle to its requests.
struct Model {
  std::shared_ptr<const ScriptedModel> stub;
  OperatorRef ref;
};

inline Model scripted_model(std::string name, ScriptedModel::Script script) {
  auto stub = std::make_shared<const ScriptedModel>(std::move(name), std::move(script));
  return Model{stub, OperatorRef{stub}};
}

/// A model that answers `text` whatever it is asked.
inline Model constant_model(std::string name, std::string text) {
  return scripted_model(std::move(name), [text = std::move(text)](const Record&) { return text; });
}

} // namespace ember::testing
