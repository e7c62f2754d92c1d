// The guide's pmap snippet: an operator that handles a list, sharded over
// workers, under a timeout and caching.
#include <iostream>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;

class DocumentAnalyzer final : public Operator {
public:
  explicit DocumentAnalyzer(std::string analyzer_type = "basic", std::int64_t depth = 3)
      : Operator("DocumentAnalyzer",
                 Specification{{Field::required_field("documents", FieldType::list)},
                               {Field::required_field("analysis", FieldType::list)}}),
        analyzer_type_(std::move(analyzer_type)), depth_(depth) {}

  Record forward(const Record& inputs) const override {
    List analysis;
    for (const auto& doc : inputs.get<List>("documents"))
      analysis.emplace_back("Analysis of " + doc.as_string());
    return Record{{"analysis", analysis}};
  }

private:
  std::string analyzer_type_;
  std::int64_t depth_;
};

int main() {
  auto analyzer = make_operator<DocumentAnalyzer>("comprehensive");
  auto parallelized_analyzer = pmap(analyzer, 4);

  auto scope = execution_options({.enable_caching = true, .timeout_seconds = 10.0});
  Record result =
      parallelized_analyzer(Record{{"documents", List{"doc1.txt", "doc2.txt", "doc3.txt"}}});
  std::cout << to_json(result) << "\n";
}
