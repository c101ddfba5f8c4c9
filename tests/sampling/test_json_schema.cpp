// JSON Schema -> grammar: exact number-range languages checked against
// every value in a window, decimal parsing, and refusals that name the
// keyword. (Random samples validated with the `jsonschema` package:
// tests/py/test_json_schema_grammar.py.)
#include <gtest/gtest.h>

#include "sampling/grammar.h"
#include "sampling/grammar_matcher.h"
#include "sampling/json_schema.h"

using namespace f8::sampling;

namespace {

std::shared_ptr<const Grammar> compile_expr(const std::string& expr) {
  auto g = std::make_shared<Grammar>();
  std::string e = parse_grammar("root ::= " + expr, "root", g.get());
  EXPECT_EQ(e, "") << expr;
  return e.empty() ? g : nullptr;
}

bool matches(GrammarMatcher& m, const std::string& s) {
  m.reset();
  return m.advance(s) && m.accepting(m.state());
}

}  // namespace

TEST(JsonSchemaNumbers, IntegerRangesExact) {
  struct Case {
    std::optional<int64_t> lo, hi;
  };
  std::vector<Case> cases = {{0, 0},       {0, 9},     {1, 100},    {-5, 5},      {-100, -7}, {17, 4321},
                             {-999, 1000}, {5, {}},    {{}, -3},    {{}, {}},     {-1, 0},    {99, 101},
                             {123, 123},   {-40, -40}, {10, 19},    {1000, 9999}, {-1, {}},   {{}, 0}};
  for (const Case& c : cases) {
    std::string expr = integer_range_gbnf(c.lo, c.hi);
    auto g = compile_expr(expr);
    ASSERT_TRUE(g);
    GrammarMatcher m(g);
    for (int64_t v = -1200; v <= 12000; ++v) {
      bool want = (!c.lo || v >= *c.lo) && (!c.hi || v <= *c.hi);
      ASSERT_EQ(matches(m, std::to_string(v)), want) << v << " in " << expr;
    }
    EXPECT_FALSE(matches(m, "-0"));
    EXPECT_FALSE(matches(m, "007"));
  }
  EXPECT_EQ(integer_range_gbnf(5, 4), "");
}

TEST(JsonSchemaNumbers, DecimalParse) {
  auto d = Decimal::parse("1e-07");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->int_part, "0");
  EXPECT_EQ(d->frac, "0000001");
  d = Decimal::parse("-2.50E+2");
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->neg);
  EXPECT_EQ(d->int_part, "250");
  EXPECT_EQ(d->frac, "");
  d = Decimal::parse("-0.0");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->neg);
  EXPECT_TRUE(d->is_zero());
  EXPECT_FALSE(Decimal::parse("1.2.3"));
  EXPECT_FALSE(Decimal::parse("abc"));
  EXPECT_LT(compare(*Decimal::parse("-1.5"), *Decimal::parse("-1.25")), 0);
  EXPECT_EQ(compare(*Decimal::parse("2.50"), *Decimal::parse("2.5")), 0);
}

// Every decimal with up to 2 fraction digits in [-12, 12] against the bounds.
TEST(JsonSchemaNumbers, DecimalRangesExact) {
  auto nb = [](const char* v, bool incl) { return NumBound{*Decimal::parse(v), incl}; };
  struct Case {
    std::optional<NumBound> lo, hi;
  };
  std::vector<Case> cases = {
      {nb("0", true), nb("1", true)},      {nb("0", false), nb("1", false)},   {nb("-1.5", true), nb("2.25", false)},
      {nb("0.5", true), {}},               {{}, nb("-0.75", true)},           {nb("-3", false), nb("-2.5", true)},
      {nb("1.05", true), nb("1.5", true)}, {nb("-0.01", true), nb("0.01", true)}, {nb("10", false), {}},
      {{}, nb("0", false)},                {nb("2.5", true), nb("2.5", true)}, {nb("-7", true), nb("11", true)},
  };
  for (const Case& c : cases) {
    std::string expr = number_range_gbnf(c.lo, c.hi);
    auto g = compile_expr(expr);
    ASSERT_TRUE(g);
    GrammarMatcher m(g);
    for (int v = -1200; v <= 1200; ++v) {
      // v / 100 written with 0, 1 and 2 fraction digits where exact.
      std::string ip = std::to_string(std::abs(v) / 100);
      int f = std::abs(v) % 100;
      std::vector<std::string> forms;
      char buf[32];
      snprintf(buf, sizeof buf, "%s%s.%02d", v < 0 ? "-" : "", ip.c_str(), f);
      forms.push_back(buf);
      if (f % 10 == 0) {
        snprintf(buf, sizeof buf, "%s%s.%d", v < 0 ? "-" : "", ip.c_str(), f / 10);
        forms.push_back(buf);
      }
      if (f == 0 && v != 0) forms.push_back((v < 0 ? "-" : "") + ip);
      if (v == 0) forms.push_back("0");
      Decimal x = *Decimal::parse(forms[0]);
      bool want = true;
      if (c.lo) want &= c.lo->inclusive ? compare(x, c.lo->value) >= 0 : compare(x, c.lo->value) > 0;
      if (c.hi) want &= c.hi->inclusive ? compare(x, c.hi->value) <= 0 : compare(x, c.hi->value) < 0;
      for (const std::string& s : forms) {
        bool neg_zero = s[0] == '-' && x.is_zero();
        ASSERT_EQ(matches(m, s), want && !neg_zero) << s << " with " << expr;
      }
    }
  }
}

TEST(JsonSchema, RefusalsNameTheKeyword) {
  struct Case {
    const char* schema;
    const char* needle;
    bool unsupported;
  };
  Case cases[] = {
      {R"J({"type":"number","multipleOf":3})J", "'multipleOf' is not supported", true},
      {R"J({"type":"object","properties":{"a":{"type":"string","pattern":"(?=x)"}}})J", "at '/properties/a/pattern'", true},
      {R"J({"type":"string","format":"hostname"})J", "format 'hostname' is not supported", true},
      {R"J({"type":"array","uniqueItems":true})J", "'uniqueItems' is not supported", true},
      {R"J({"type":"object","properties":{"x":{"frobnicate":1}}})J", "unknown keyword 'frobnicate'", true},
      {R"J({"$ref":"#/$defs/missing"})J", "does not resolve", false},
      {R"J({"$ref":"https://example.com/s.json"})J", "only local references", true},
      {R"J({"type":"wat"})J", "unknown type 'wat'", false},
      {R"J({"type":"integer","minimum":5,"maximum":4})J", "no number satisfies", false},
      {R"J(false)J", "can never be satisfied", false},
      {R"J({"allOf":[{"type":"string"},{"maxLength":3}]})J", "'allOf' with more than one schema", true},
      {R"J({"anyOf":[{"type":"string"}],"type":"string"})J", "'anyOf' together with 'type'", true},
      {R"J({"type":"string","maxLength":100000})J", "'maxLength' above", true},
      {R"J({not json)J", "not valid JSON", false},
  };
  for (const Case& c : cases) {
    std::string gbnf;
    SchemaError err;
    EXPECT_FALSE(json_schema_to_gbnf(c.schema, "root", &gbnf, &err)) << c.schema;
    EXPECT_NE(err.message.find(c.needle), std::string::npos) << c.schema << " -> " << err.message;
    EXPECT_EQ(err.unsupported, c.unsupported) << c.schema << " -> " << err.message;
  }
}

TEST(JsonSchema, PrefixedRulesCombine) {
  std::string a, b;
  SchemaError err;
  ASSERT_TRUE(json_schema_to_gbnf(R"({"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]})",
                                  "args-f", &a, &err))
      << err.message;
  ASSERT_TRUE(json_schema_to_gbnf(R"({"type":"object","properties":{"x":{"type":"string"}},"required":["x"]})",
                                  "args-g", &b, &err))
      << err.message;
  auto g = std::make_shared<Grammar>();
  ASSERT_EQ(parse_grammar("root ::= \"f\" args-f | \"g\" args-g\n" + a + b, "root", g.get()), "");
  GrammarMatcher m(g);
  EXPECT_TRUE(matches(m, "f{\"x\": 1}"));
  EXPECT_TRUE(matches(m, "g{\"x\": \"1\"}"));
  EXPECT_FALSE(matches(m, "g{\"x\": 1}"));
}
