// Quick start: write an operator once, call it, and let scoped execution options
// (here a timeout) govern the call.
#include <chrono>
#include <iostream>
#include <thread>

#include <ember/xcs.hpp>

using namespace ember;

// The guide's TextProcessor: a specification, configuration, and a forward.
class TextProcessor final : public Operator {
public:
  explicit TextProcessor(std::string model_name, std::int64_t max_length = 100)
      : Operator("TextProcessor",
                 Specification{{Field::required_field("text", FieldType::string)},
                               {Field::required_field("processed", FieldType::string)}}),
        model_name_(std::move(model_name)), max_length_(max_length) {}

  Record forward(const Record& inputs) const override {
    auto text = inputs.get<std::string>("text").substr(0, static_cast<std::size_t>(max_length_));
    return Record{{"processed", "Processed: " + text}, {"model", model_name_}};
  }

private:
  std::string model_name_;
  std::int64_t max_length_;
};

int main() {
  auto processor = make_operator<TextProcessor>("text-processor", 12);
  Record result = processor(Record{{"text", "Sample text for analysis"}});
  std::cout << to_json(result) << "\n";

  // Options in force for this scope only; a body past the deadline is abandoned
  // and the caller gets a TimeoutError on time.
  auto slow_model = function_operator("SlowModel", [](const Record& in) {
    while (!xcs::this_call::stop_requested())
      std::this_thread::sleep_for(std::chrono::milliseconds(5)); // a polite, cancellable wait
    return in;
  });
  {
    auto scope = xcs::execution_options({.timeout_seconds = 0.2});
    try {
      slow_model(Record{{"prompt", "hello"}});
    } catch (const TimeoutError& e) {
      std::cout << "timeout: " << e.what() << "\n";
    }
  }

  // Bad input gets a clear error naming operator, field and types.
  try {
    processor(Record{{"text", 42}});
  } catch (const ValidationError& e) {
    std::cout << "validation: " << e.what() << "\n";
  }
}
