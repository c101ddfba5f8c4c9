// Bad templates and hostile inputs: every failure is a clear error naming
// line/column, never a crash, hang or unbounded allocation.
#include <gtest/gtest.h>

#include "chat/chat.h"

namespace fc = f8::chat;

static fc::Result jr(const std::string& t, const std::string& msgs = "[]") {
  return fc::render_json(t, msgs, {}, fc::Engine::Jinja);
}

TEST(JinjaErrors, OutsideSubsetNamesLineAndColumn) {
  fc::Result r = jr("hello\n  {% include 'other.jinja' %}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error_kind, fc::ErrorKind::Template);
  EXPECT_NE(r.error.find("line 2"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("'include' is outside f8's Jinja subset"), std::string::npos) << r.error;
  for (const char* t : {"{% include 'x' %}", "{% extends 'x' %}", "{% import 'x' as y %}", "{% block b %}{% endblock %}",
                        "{% do x %}", "{{ x|nosuchfilter }}", "{{ x is nosuchtest }}", "{{ f(*a) }}",
                        "{% for x in y recursive %}{% endfor %}", "{{ '{:>8}'.format(1) }}", "{{ {1.5: 2} }}",
                        "{{ {none: 2} }}", "{{ {(1, 2): 2} }}"}) {
    fc::Result e = jr(t);
    EXPECT_FALSE(e.ok()) << t;
    EXPECT_NE(e.error.find("line 1"), std::string::npos) << t << ": " << e.error;
  }
}

TEST(JinjaErrors, DictKeysOtherThanStringsAndIntegersAreNamed) {
  fc::Result r = jr("{% set d = {'a': 1,\n 2.5: 2} %}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("line 2"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("dict keys other than strings and integers are outside f8's Jinja subset"),
            std::string::npos)
      << r.error;
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

// Macro and call-block misuse: one error naming the macro and the line.
TEST(JinjaErrors, MacroMisuse) {
  struct Case {
    const char* tmpl;
    const char* want;
  } cases[] = {
      {"{% macro m(a) %}{% endmacro %}\n{{ m(1, 2) }}", "macro 'm' takes not more than 1 argument(s)"},
      {"{% macro m(a) %}{% endmacro %}\n{{ m(b=1) }}", "macro 'm' takes no keyword argument 'b'"},
      {"{% macro m(a) %}{% endmacro %}\n{{ m(1, a=2) }}", "got multiple values for argument 'a'"},
      {"{% macro m() %}{{ caller() }}{% endmacro %}\n{{ m() }}", "No caller defined"},
      {"{% macro m() %}x{% endmacro %}\n{% call m() %}y{% endcall %}", "takes no keyword argument 'caller'"},
      {"{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}\n{{ r(0) }}", "nested deeper than 100 calls"},
      {"{% set m = 1 %}\n{% call m() %}y{% endcall %}", "not callable"},
      {"{% macro m(a=1, b) %}{% endmacro %}", "non-default argument follows default argument"},
      {"{% macro m(a, a) %}{% endmacro %}", "duplicate parameter 'a'"},
      {"{% macro m %}{% endmacro %}", "expected '('"},
      {"{% macro m() %}x", "missing '{% endmacro %}'"},
      {"{% call x %}{% endcall %}", "expected a call expression"},
      {"{% filter %}x{% endfilter %}", "expected a name"},
  };
  for (const auto& c : cases) {
    fc::Result r = jr(c.tmpl);
    ASSERT_FALSE(r.ok()) << c.tmpl;
    EXPECT_EQ(r.error_kind, fc::ErrorKind::Template) << c.tmpl;
    EXPECT_NE(r.error.find(c.want), std::string::npos) << c.tmpl << ": " << r.error;
    EXPECT_NE(r.error.find("line "), std::string::npos) << c.tmpl << ": " << r.error;
  }
  // Mutual recursion through a call block's caller is bounded too.
  fc::Result r = jr("{% macro a() %}{% call a() %}x{% endcall %}{% endmacro %}{{ a() }}");
  EXPECT_FALSE(r.ok());
  // Exponential fan-out hits the step limit, not the clock.
  fc::Options opt;
  opt.limits.max_steps = 100000;
  r = fc::render_json("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
                      "[]", opt, fc::Engine::Jinja);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("step limit"), std::string::npos) << r.error;
}

// Template variables from JSON: tools/documents/chat_template_kwargs.
TEST(JinjaErrors, TemplateKwargs) {
  const char* t = "{{ enable_thinking }}|{{ tools|length }}|{{ documents is none }}";
  fc::Result r = fc::render_json(
      t, R"({"messages": [], "tools": [{"a": 1}], "chat_template_kwargs": {"enable_thinking": false}})", {});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.text, "False|1|True");
  for (const char* bad : {R"({"messages": [], "chat_template_kwargs": [1]})",
                          R"({"messages": [], "chat_template_kwargs": "x"})",
                          R"({"messages": [], "tools": {"a": 1}})",
                          R"({"messages": [], "documents": 3})",
                          R"({"messages": [], "chat_template_kwargs": {"messages": []}})",
                          R"({"messages": [], "chat_template_kwargs": {"add_generation_prompt": true}})"}) {
    fc::Result e = fc::render_json(t, bad, {});
    EXPECT_EQ(e.error_kind, fc::ErrorKind::InvalidArgument) << bad;
  }
  f8::chat::jinja::Dict vars;
  std::string err;
  EXPECT_TRUE(fc::parse_template_kwargs(R"({"reasoning_effort": "high"})", &vars, &err)) << err;
  EXPECT_FALSE(fc::parse_template_kwargs("[1]", &vars, &err));
  EXPECT_NE(err.find("expected a JSON object"), std::string::npos) << err;
  EXPECT_FALSE(fc::parse_template_kwargs("{bad", &vars, &err));
  EXPECT_NE(err.find("invalid JSON"), std::string::npos) << err;
  // Variables send a recognized family to the interpreter (the built-in
  // renderers read none), and Engine::Builtin refuses them.
  fc::Options opt;
  opt.vars = vars;
  r = fc::render(fc::builtin_template("chatml"), {{"user", "x"}}, opt, fc::Engine::Auto);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.engine, fc::Engine::Jinja);
  EXPECT_EQ(fc::render(fc::builtin_template("chatml"), {{"user", "x"}}, opt, fc::Engine::Builtin).error_kind,
            fc::ErrorKind::Unsupported);
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
