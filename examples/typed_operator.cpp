// Typed operators: C++ structs in and out, records at the boundary.
#include <iostream>

#include <ember/xcs.hpp>

using namespace ember;

struct Question {
  std::string text;
  std::int64_t max_length = 100;
  std::optional<std::string> model;
};
BOOST_DESCRIBE_STRUCT(Question, (), (text, max_length, model))

struct Answer {
  std::string text;
  std::int64_t length = 0;
};
BOOST_DESCRIBE_STRUCT(Answer, (), (text, length))

class Truncate final : public TypedOperator<Question, Answer> {
public:
  Truncate() : TypedOperator("Truncate") {}

protected:
  Answer run(const Question& q) const override {
    auto text = q.text.substr(0, static_cast<std::size_t>(q.max_length));
    return {text, static_cast<std::int64_t>(text.size())};
  }
};

int main() {
  auto truncate = make_operator<Truncate>();
  Answer a = call<Answer>(truncate, Question{"hello world", 5, std::nullopt});
  std::cout << a.text << " (" << a.length << ")\n";
  std::cout << to_json(to_record(Question{"hi", 2, "gpt"})) << "\n";
  try {
    truncate(Record{{"text", 3}});
  } catch (const ValidationError& e) {
    std::cout << "validation: " << e.what() << "\n";
  }
}
