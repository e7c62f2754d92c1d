// The guide's structural_jit snippet: a composite operator whose forward calls
// the sub-operators it holds, run through structural_jit.
#include <iostream>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;

class ExtractorOperator final : public Operator {
public:
  explicit ExtractorOperator(std::string extractor_type = "entities")
      : Operator("ExtractorOperator"), extractor_type_(std::move(extractor_type)) {}
  Record forward(const Record& inputs) const override {
    auto text = inputs.find("text") ? inputs.get<std::string>("text") : std::string{};
    return Record{{"extracted", "Extracted " + extractor_type_ + " from: " + text}};
  }

private:
  std::string extractor_type_;
};

class ClassifierOperator final : public Operator {
public:
  explicit ClassifierOperator(std::string model_name, double threshold = 0.5)
      : Operator("ClassifierOperator"), model_name_(std::move(model_name)), threshold_(threshold) {}
  Record forward(const Record& inputs) const override {
    return Record{{"classification",
                   "Classified with " + model_name_ + ": " + inputs.get<std::string>("extracted")}};
  }

private:
  std::string model_name_;
  double threshold_;
};

class NLPPipeline final : public Operator {
public:
  explicit NLPPipeline(const std::string& model_name = "default")
      : Operator("NLPPipeline"), extractor_(make_operator<ExtractorOperator>("entities")),
        classifier_(make_operator<ClassifierOperator>(model_name)) {}
  Record forward(const Record& inputs) const override {
    auto extracted = extractor_(inputs);
    return classifier_(extracted);
  }

private:
  OperatorRef extractor_;
  OperatorRef classifier_;
};

int main() {
  auto pipeline = structural_jit(make_operator<NLPPipeline>("advanced-classifier"));
  auto scope = execution_options({.use_parallel = true, .max_workers = 8});
  Record result = pipeline(Record{{"text", "Sample document text for analysis"}});
  std::cout << to_json(result) << "\n" << jit_plan_dot(pipeline);
}
