// Proves an installed or wrapped ember-xcs can be included and linked.
#include <ember/core/exceptions.hpp>

#include <iostream>
#include <string>

int main() {
  try {
    throw ember::TimeoutError("deadline passed");
  } catch (const std::runtime_error& error) {
    if (std::string(error.what()) != "deadline passed")
      return 1;
  }
  std::cout << "consumer: ok\n";
  return 0;
}
