// Proves an installed or wrapped ember-xcs is usable: builds an operator from a
// function, calls it and checks what it returns.
#include <ember/core/registry/operator/base/function_operator.hpp>

#include <iostream>
#include <string>

int main() {
  ember::OperatorRef shout = ember::function_operator("shout", [](const ember::Record& in) {
    return ember::Record{{"text", in.get<std::string>("text") + "!"}};
  });
  const ember::Record out = shout(ember::Record{{"text", "hi"}});
  if (out.get<std::string>("text") != "hi!") {
    std::cerr << "consumer: expected \"hi!\", got \"" << out.get<std::string>("text") << "\"\n";
    return 1;
  }
  std::cout << "consumer: ok\n";
  return 0;
}
