// The guide's vmap snippet: a single-item operator run over a batch, with a
// broadcast field, under scoped execution options.
#include <iostream>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;

class TextProcessor final : public Operator {
public:
  explicit TextProcessor(std::string model_name, std::int64_t max_length = 100)
      : Operator("TextProcessor",
                 Specification{{Field::required_field("text", FieldType::string)},
                               {Field::required_field("processed", FieldType::string)}}),
        model_name_(std::move(model_name)), max_length_(max_length) {}

  Record forward(const Record& inputs) const override {
    auto text = inputs.get<std::string>("text").substr(0, static_cast<std::size_t>(max_length_));
    return Record{{"processed", "Processed: " + text}};
  }

private:
  std::string model_name_;
  std::int64_t max_length_;
};

int main() {
  auto processor = make_operator<TextProcessor>("text-processor");
  auto vectorized_processor = vmap(processor);

  auto scope = execution_options({.use_parallel = true, .max_workers = 4});
  Record batch_result = vectorized_processor(Record{
      {"text", List{"Sample text 1", "Sample text 2", "Sample text 3"}},
      {"options", Record{{"format", "plain"}}}, // non-batched: applied to all items
  });
  std::cout << to_json(batch_result) << "\n";
}
