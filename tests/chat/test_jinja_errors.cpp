// Bad templates and hostile inputs: every failure is a clear error naming
// line/column, never a crash, hang or unbounded allocation.
#include <gtest/gtest.h>

#include "chat/chat.h"

namespace fc = f8::chat;

static fc::Result jr(const std::string& t, const std::string& msgs = "[]") {
  return fc::render_json(t, msgs, {}, fc::Engine::Jinja);
}

TEST(JinjaErrors, OutsideSubsetNamesLineAndColumn) {
  fc::Result r = jr("hello\n  {% macro m() %}x{% endmacro %}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error_kind, fc::ErrorKind::Template);
  EXPECT_NE(r.error.find("line 2"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("'macro' is outside f8's Jinja subset"), std::string::npos) << r.error;
  for (const char* t : {"{% include 'x' %}", "{% extends 'x' %}", "{% call f() %}{% endcall %}",
                        "{% filter upper %}x{% endfilter %}", "{% do x %}", "{{ x|nosuchfilter }}",
                        "{{ x is nosuchtest }}", "{{ f(*a) }}", "{% for x in y recursive %}{% endfor %}"}) {
    fc::Result e = jr(t);
    EXPECT_FALSE(e.ok()) << t;
    EXPECT_NE(e.error.find("line 1"), std::string::npos) << t << ": " << e.error;
  }
}

TEST(JinjaErrors, SyntaxErrors) {
  for (const char* t : {"{% if x %}", "{% for x in y %}", "{{ x ", "{# unclosed", "{% if %}{% endif %}",
                        "{{ 'unterminated }}", "{{ (1, 2 }}", "{{ [1, 2 }}", "{% endif %}", "{% set %}",
                        "{{ x. }}", "{{ 1 + }}", "{% raw %}no end", "{{ } }}", "{{ x $ y }}", "{% else %}",
                        "{% for x in %}{% endfor %}", "{{ 99999999999999999999 }}"}) {
    fc::Result r = jr(t);
    EXPECT_FALSE(r.ok()) << t;
    EXPECT_EQ(r.error_kind, fc::ErrorKind::Template) << t;
    EXPECT_NE(r.error.find("line "), std::string::npos) << t << ": " << r.error;
  }
}

TEST(JinjaErrors, RuntimeErrors) {
  EXPECT_FALSE(jr("{{ x.y }}").ok());
  EXPECT_FALSE(jr("{{ 1 / 0 }}").ok());
  EXPECT_FALSE(jr("{{ 1 // 0 }}").ok());
  EXPECT_FALSE(jr("{{ 'a' < 1 }}").ok());
  EXPECT_FALSE(jr("{% set x = 1 %}{% set x.y = 2 %}").ok());
  EXPECT_FALSE(jr("{{ 9223372036854775807 + 1 }}").ok());
  EXPECT_FALSE(jr("{{ range(1000000) }}").ok());  // the sandbox's MAX_RANGE
  EXPECT_FALSE(jr("{{ x() }}").ok());
  EXPECT_FALSE(jr("{{ [1].append(2) }}").ok());   // immutable sandbox
  EXPECT_FALSE(jr("{{ ''.__class__ }}").ok());    // unsafe attribute
  fc::Result r = jr("{{ raise_exception('boom') }}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("boom"), std::string::npos);
}

TEST(JinjaErrors, LimitsStopHostileTemplates) {
  // Exponential string growth hits the size limit, not the allocator.
  fc::Result r = jr("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("size limit"), std::string::npos) << r.error;
  // Output flood (a 1 MiB cap keeps the test quick).
  f8::chat::Options small;
  small.limits.max_output = 1 << 20;
  r = fc::render_json("{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}{% endfor %}",
                      "[]", small, fc::Engine::Jinja);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("size limit"), std::string::npos) << r.error;
  // Deep nesting is rejected by the parser, not by a stack overflow.
  std::string deep(5000, '(');
  r = jr("{{ " + deep + "1" + std::string(5000, ')') + " }}");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("nested too deeply"), std::string::npos) << r.error;
  std::string deep_if;
  for (int i = 0; i < 1000; ++i) deep_if += "{% if true %}";
  for (int i = 0; i < 1000; ++i) deep_if += "{% endif %}";
  EXPECT_FALSE(jr(deep_if).ok());
  // Step limit.
  f8::chat::Options opt;
  opt.limits.max_steps = 10000;
  r = fc::render_json("{% for i in range(100000) %}{% endfor %}", "[]", opt, fc::Engine::Jinja);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("step limit"), std::string::npos) << r.error;
}

TEST(JinjaErrors, BadConversationJson) {
  const char* t = "{{ messages }}";
  for (const char* j : {"", "{", "[1]", "{\"msgs\": []}", "[{\"content\": \"x\"}]", "\"str\"", "[{\"role\": 1}]"}) {
    fc::Result r = fc::render_json(t, j, {});
    EXPECT_FALSE(r.ok()) << j;
    EXPECT_EQ(r.error_kind, fc::ErrorKind::InvalidArgument) << j;
  }
  std::string deep(100000, '[');
  EXPECT_FALSE(fc::render_json(t, deep, {}).ok());
  EXPECT_TRUE(fc::render_json(t, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", {}).ok());
}

TEST(JinjaErrors, BuiltinEngineRefusesUnknownTemplates) {
  fc::Result r = fc::render("{{ messages }}", {{"user", "x"}}, {}, fc::Engine::Builtin);
  EXPECT_EQ(r.error_kind, fc::ErrorKind::Unsupported);
}

TEST(JinjaErrors, InvalidUtf8InContentDoesNotCrash) {
  std::vector<fc::Message> m = {{"user", std::string("\xff\xfe bad \xc3", 9)}};
  for (const char* name : {"llama3", "llama2", "smollm2", "mistral"}) {
    fc::Result a = fc::render(fc::builtin_template(name), m, {}, fc::Engine::Builtin);
    fc::Result b = fc::render(fc::builtin_template(name), m, {}, fc::Engine::Jinja);
    EXPECT_TRUE(a.ok()) << name << a.error;
    EXPECT_TRUE(b.ok()) << name << b.error;
  }
}
