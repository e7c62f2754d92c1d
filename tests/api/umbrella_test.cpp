// The umbrella header alone is enough to write and run an operator with
// options: the public API is self-contained.
#include <catch2/catch.hpp>

#include <ember/xcs.hpp>

TEST_CASE("the umbrella header alone builds and runs an operator call", "[api]") {
  auto op = ember::function_operator("Twice", [](const ember::Record& in) {
    return ember::Record{{"y", in.get<std::int64_t>("x") * 2}};
  });
  auto scope = ember::xcs::execution_options({.timeout_seconds = 5.0});
  CHECK(op(ember::Record{{"x", 21}}).get<std::int64_t>("y") == 42);
}
