// Prompt templates: {field} placeholders filled from an operator's inputs.
#include <catch2/catch.hpp>

#include <stdexcept>

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/prompt_template.hpp"
#include "ember/core/registry/specification.hpp"

using namespace ember;
using Catch::Matchers::Contains;

TEST_CASE("a prompt template fills its fields: strings as they are, lists one per line, others as JSON") {
  PromptTemplate prompt{"Q: {query}\n{responses}\nn={n} {{literal}} {query}"};
  CHECK(prompt.fields() == std::vector<std::string>{"query", "responses", "n"});
  Record inputs{{"query", "why?"}, {"responses", List{"a", "b", 3}}, {"n", 2}};
  CHECK(prompt.render("Judge", inputs) == "Q: why?\na\nb\n3\nn=2 {literal} why?");
}

TEST_CASE("a malformed prompt template is refused with the offset and what is wrong") {
  CHECK_THROWS_WITH(PromptTemplate{"ask {query"}, Contains("unclosed '{' at offset 4"));
  CHECK_THROWS_WITH(PromptTemplate{"a } b"}, Contains("a lone '}' at offset 2"));
  CHECK_THROWS_WITH(PromptTemplate{"x {} y"}, Contains("the placeholder {}"));
  CHECK_THROWS_WITH(PromptTemplate{"x {a b} y"}, Contains("the placeholder {a b}, which is not a field name"));
}

TEST_CASE("rendering without an input the template names is a ValidationError naming it") {
  PromptTemplate prompt{"{query} / {context}"};
  try {
    (void)prompt.render("Judge", Record{{"query", "q"}});
    FAIL("no error");
  } catch (const ValidationError& error) {
    CHECK(error.field() == "context");
    CHECK_THAT(error.what(), Contains("operator 'Judge'") && Contains("'context' is missing"));
  }
}

TEST_CASE("a specification refuses a prompt naming a field it does not declare") {
  Specification spec{{Field::required_field("query", FieldType::string),
                      Field::required_field("responses", FieldType::list)},
                     {}};
  CHECK_THROWS_WITH(spec.with_prompt(PromptTemplate{"{question}"}),
                    Contains("{question}") && Contains("query, responses"));
  auto with = spec.with_prompt(PromptTemplate{"{query}"});
  REQUIRE(with.prompt());
  CHECK(with.prompt()->text() == "{query}");
  CHECK_FALSE(spec.prompt());
  // No declared inputs: any field may be named.
  CHECK(Specification{}.with_prompt(PromptTemplate{"{anything}"}).prompt());
}
