// The guide's "Nested Parallelism" snippet: pmap distributes shards of a large
// batch, vmap handles the items of each shard; one max_workers budget covers
// both levels.
#include <iostream>

#include <ember/xcs.hpp>

using namespace ember;
using namespace ember::xcs;

class ImageProcessor final : public Operator {
public:
  explicit ImageProcessor(std::string model_name, std::string resolution = "high")
      : Operator("ImageProcessor"), model_name_(std::move(model_name)),
        resolution_(std::move(resolution)) {}

  Record forward(const Record& inputs) const override {
    const auto& image_data = inputs.get<std::string>("image");
    return Record{{"processed", "Processed(" + model_name_ + ", " + resolution_ + "): " +
                                    image_data.substr(0, 10) + "..."},
                  {"metadata", Record{{"format", "png"},
                                      {"size", static_cast<std::int64_t>(image_data.size())}}}};
  }

private:
  std::string model_name_;
  std::string resolution_;
};

int main() {
  auto processor = make_operator<ImageProcessor>("image-model-v2", "medium");
  auto vectorized_processor = vmap(processor);
  auto distributed_processor = pmap(vectorized_processor, 4);

  List images;
  for (int i = 0; i < 100; ++i)
    images.emplace_back("image_data_" + std::to_string(i));
  Record large_batch{{"image", images}, {"options", Record{{"format", "json"}}}};

  auto scope = execution_options(
      {.device_strategy = "auto", .enable_caching = true, .timeout_seconds = 30.0});
  Record results = distributed_processor(large_batch);
  const auto& processed = results.get<List>("processed");
  std::cout << processed.size() << " images processed; first: " << processed.front() << "\n"
            << "last metadata: " << results.get<List>("metadata").back() << "\n";
}
