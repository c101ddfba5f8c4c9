// Tool calls against tests/goldens/tool_calls/cases.json (each template's own
// rendering of an assistant turn with tool_calls, by jinja2:
// scripts/gen_tool_call_goldens.py): the template's format is detected, the
// output parses back into the same calls and content, streaming in random
// chunks gives the same calls, and the grammar for required calls accepts
// the template's layout. Plus: random texts of each format's grammar parse
// into valid calls; malformed calls stay content; partial markers are held.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "sampling/grammar.h"
#include "sampling/grammar_matcher.h"
#include "sampling/json_schema.h"
#include "server/tool_calls.h"

using json = nlohmann::ordered_json;  // keeps the order of schema properties
using namespace f8srv;

namespace {

json load_cases() {
  std::ifstream f(std::string(F8_SOURCE_DIR) + "/tests/goldens/tool_calls/cases.json");
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str());
}

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<ToolSpec> tools_of(const json& tools) {
  std::vector<ToolSpec> out;
  for (const json& t : tools) out.push_back({t["function"]["name"], t["function"]["description"], t["function"]["parameters"].dump()});
  return out;
}

ToolParseOptions options_of(const json& tools) {
  ToolParseOptions o;
  for (const json& t : tools)
    for (auto it = t["function"]["parameters"]["properties"].begin(); it != t["function"]["parameters"]["properties"].end(); ++it)
      o.param_types[t["function"]["name"]][it.key()] = it.value().value("type", "");
  return o;
}

ToolFormat format_named(const std::string& name) {
  for (int i = 0; i <= int(ToolFormat::SeedOss); ++i)  // the last format
    if (name == tool_format_name(ToolFormat(i))) return ToolFormat(i);
  ADD_FAILURE() << "unknown format " << name;
  return ToolFormat::Hermes;
}

// Control tokens of the formats' models, with made-up ids (a test has no model).
const std::vector<std::string> kControl = {
    "[TOOL_CALLS]", "[ARGS]", "[CALL_ID]", "<|START_ACTION|>", "<|END_ACTION|>", "<|tool_call|>", "<|channel|>",
    "<|constrain|>", "<|message|>", "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>", "<|tool_call_begin|>",
    "<|tool_call_argument_begin|>", "<|tool_call_end|>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "begin\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "end\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "begin\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "end\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81sep\xEF\xBD\x9C>", "<seed:tool_call>", "</seed:tool_call>"};

std::string marker(const std::string& m) {
  for (size_t i = 0; i < kControl.size(); ++i)
    if (kControl[i] == m) return "<[" + std::to_string(1000 + i) + "]>";
  std::string s = "\"";
  for (char c : m) s += c == '"' ? std::string("\\\"") : c == '\\' ? std::string("\\\\") : c == '\n' ? std::string("\\n") : std::string(1, c);
  return s + "\"";
}

// The text with control-token markers in the grammar's byte spelling.
std::string spell_controls(std::string t) {
  for (size_t i = 0; i < kControl.size(); ++i) {
    std::string bytes = f8::sampling::control_token_bytes(int32_t(1000 + i));
    for (size_t p = 0; (p = t.find(kControl[i], p)) != std::string::npos; p += bytes.size()) t.replace(p, kControl[i].size(), bytes);
  }
  return t;
}
std::string unspell_controls(std::string t) {
  for (size_t i = 0; i < kControl.size(); ++i) {
    std::string bytes = f8::sampling::control_token_bytes(int32_t(1000 + i));
    for (size_t p = 0; (p = t.find(bytes, p)) != std::string::npos; p += kControl[i].size()) t.replace(p, bytes.size(), kControl[i]);
  }
  return t;
}

bool schema_to_gbnf(const std::string& schema, const std::string& root, std::string* gbnf, std::string* err) {
  f8::sampling::SchemaError e;
  if (f8::sampling::json_schema_to_gbnf(schema, root, gbnf, &e)) return true;
  *err = e.message;
  return false;
}

void expect_calls(const ToolParse& p, const json& c, const std::string& where) {
  ASSERT_EQ(p.calls.size(), c["tool_calls"].size()) << where << "\ncontent: " << p.content;
  for (size_t i = 0; i < p.calls.size(); ++i) {
    EXPECT_EQ(p.calls[i].name, c["tool_calls"][i]["name"].get<std::string>()) << where;
    // Compared as values (member order aside).
    nlohmann::json args = nlohmann::json::parse(p.calls[i].arguments, nullptr, false);
    EXPECT_EQ(args, nlohmann::json::parse(c["tool_calls"][i]["arguments"].dump())) << where << ": " << p.calls[i].arguments;
  }
  // gpt-oss puts text next to a call in its analysis channel.
  std::string content = p.content.empty() ? p.reasoning : p.content;
  EXPECT_EQ(content, c["content"].get<std::string>()) << where;
}

}  // namespace

TEST(ToolCallGoldens, DetectParseAndStream) {
  json doc = load_cases();
  ToolParseOptions opt = options_of(doc["tools"]);
  ASSERT_GE(doc["cases"].size(), 70u);
  std::mt19937 rng(11);
  for (const json& c : doc["cases"]) {
    std::string where = c["template"].get<std::string>() + " / " + c["case"].get<std::string>();
    std::string tmpl = read(std::string(F8_SOURCE_DIR) + "/tests/goldens/chat/templates/" + c["template"].get<std::string>() + ".jinja");
    ToolFormat f = detect_tool_format(tmpl);
    EXPECT_STREQ(tool_format_name(f), c["format"].get<std::string>().c_str()) << where;
    EXPECT_TRUE(tool_format_recognized(tmpl)) << where;
    f = format_named(c["format"]);
    const std::string out = c["output"];
    expect_calls(parse_tool_output(f, out, true, opt), c, where);
    // Streamed in random pieces (and one byte at a time).
    for (int run = 0; run < 4; ++run) {
      ToolStreamParser sp(f, opt, [](int i) { return "call_" + std::to_string(i); });
      std::string content;
      std::vector<std::pair<std::string, std::string>> calls;  // name, arguments
      auto take = [&](const std::vector<ToolDelta>& ds) {
        for (const ToolDelta& d : ds) {
          content += d.content;
          if (d.call_index < 0) continue;
          ASSERT_LE(size_t(d.call_index), calls.size()) << where;
          if (size_t(d.call_index) == calls.size()) {
            ASSERT_FALSE(d.name.empty()) << where << ": a call's first delta carries its name";
            EXPECT_EQ(d.id, "call_" + std::to_string(d.call_index));
            calls.push_back({d.name, ""});
          }
          calls[size_t(d.call_index)].second += d.arguments;
        }
      };
      for (size_t p = 0; p < out.size();) {
        size_t n = run == 0 ? 1 : 1 + rng() % 12;
        take(sp.feed(out.substr(p, n)));
        p += n;
      }
      take(sp.finish());
      ASSERT_EQ(calls.size(), c["tool_calls"].size()) << where << " (streamed)";
      for (size_t i = 0; i < calls.size(); ++i) {
        EXPECT_EQ(calls[i].first, c["tool_calls"][i]["name"].get<std::string>()) << where;
        EXPECT_EQ(nlohmann::json::parse(calls[i].second, nullptr, false), nlohmann::json::parse(c["tool_calls"][i]["arguments"].dump()))
            << where << " (streamed): " << calls[i].second;
      }
      if (c["format"] != "gpt-oss") {
        EXPECT_EQ(content, c["content"].get<std::string>()) << where << " (streamed)";
      }
    }
  }
}

// The grammar for required calls accepts the template's own layout of the
// call (where the layouts agree), so forcing a call does not force the model
// off what it learned.
TEST(ToolCallGoldens, RequiredGrammarAcceptsTheTemplateLayout) {
  json doc = load_cases();
  std::vector<ToolSpec> tools = tools_of(doc["tools"]);
  int checked = 0;
  for (const json& c : doc["cases"]) {
    std::string fmt = c["format"];
    // gpt-oss: the template's header order differs from what the model
    // writes (harmony: channel, then recipient); qwen3-coder / glm / seed-oss
    // are forced into JSON arguments; calls after content are not "required" output.
    if (fmt == "gpt-oss" || fmt == "qwen3-coder" || fmt == "glm" || fmt == "seed-oss" ||
        !c["content"].get<std::string>().empty())
      continue;
    std::string where = c["template"].get<std::string>() + " / " + c["case"].get<std::string>();
    std::string out = c["output"];
    size_t th = out.find("</think>");
    if (th != std::string::npos) out = out.substr(th + 8);
    out = out.substr(out.find_first_not_of(" \n"));
    out = out.substr(0, out.find_last_not_of(" \n") + 1);
    std::string gbnf, err;
    ASSERT_TRUE(tool_call_grammar(format_named(fmt), tools, "", true, marker, schema_to_gbnf, &gbnf, &err)) << err;
    auto g = std::make_shared<f8::sampling::Grammar>();
    ASSERT_EQ(f8::sampling::parse_grammar(gbnf, "root", g.get()), "") << gbnf;
    f8::sampling::GrammarMatcher m(g);
    std::string bytes = spell_controls(out);
    EXPECT_TRUE(m.advance(bytes) && m.accepting(m.state())) << where << "\n" << out << "\n" << gbnf;
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

// Random texts of each format's grammar (named and required) parse into
// calls of the right tools with JSON-object arguments and nothing else.
TEST(ToolCallGrammar, SamplesParseIntoCalls) {
  json doc = load_cases();
  std::vector<ToolSpec> tools = tools_of(doc["tools"]);
  ToolParseOptions opt = options_of(doc["tools"]);
  std::mt19937 rng(5);
  for (int fi = 0; fi <= int(ToolFormat::SeedOss); ++fi) {  // every format
    ToolFormat f = ToolFormat(fi);
    for (std::string only : {std::string(), std::string("search_docs")}) {
      std::string gbnf, err;
      ASSERT_TRUE(tool_call_grammar(f, tools, only, true, marker, schema_to_gbnf, &gbnf, &err)) << err;
      auto g = std::make_shared<f8::sampling::Grammar>();
      ASSERT_EQ(f8::sampling::parse_grammar(gbnf, "root", g.get()), "") << gbnf;
      f8::sampling::GrammarMatcher m(g);
      for (int k = 0; k < 25; ++k) {
        m.reset();
        std::string text;
        while (!(m.accepting(m.state()) && (!m.can_continue(m.state()) || rng() % 3 == 0 || text.size() > 300))) {
          std::vector<int> ok;
          // Prefer printable ASCII so samples finish; any allowed byte otherwise.
          for (int b = 0; b < 256; ++b)
            if (m.step(m.state(), uint8_t(b)) != f8::sampling::GrammarMatcher::kDead && (b >= 0x20 || b == '\n' || text.size() > 200)) ok.push_back(b);
          if (ok.empty())
            for (int b = 0; b < 256; ++b)
              if (m.step(m.state(), uint8_t(b)) != f8::sampling::GrammarMatcher::kDead) ok.push_back(b);
          ASSERT_FALSE(ok.empty());
          // Past 300 bytes, favour closing characters.
          int b = ok[rng() % ok.size()];
          if (text.size() > 300)
            for (int pref : {'"', '}', ']', '0', '>'})
              if (std::find(ok.begin(), ok.end(), pref) != ok.end()) {
                b = pref;
                break;
              }
          m.advance(std::string(1, char(b)));
          text += char(b);
          ASSERT_LT(text.size(), 20000u) << tool_format_name(f) << ": ..." << text.substr(text.size() - 200);
        }
        ToolParse p = parse_tool_output(f, unspell_controls(text), true, opt);
        ASSERT_FALSE(p.calls.empty()) << tool_format_name(f) << ": " << text;
        EXPECT_EQ(p.content, "") << tool_format_name(f) << ": " << text;
        for (const ToolCallOut& c : p.calls) {
          EXPECT_TRUE(c.name == "get_weather" || c.name == "search_docs") << c.name;
          if (!only.empty()) {
            EXPECT_EQ(c.name, only);
          }
          EXPECT_TRUE(json::parse(c.arguments, nullptr, false).is_object()) << tool_format_name(f) << ": " << c.arguments;
        }
      }
    }
  }
}

TEST(ToolCalls, MalformedCallsStayContentAndMarkersAreHeld) {
  ToolParseOptions opt;
  ToolParse p = parse_tool_output(ToolFormat::Hermes, "Sure.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }\n</tool_call>", true, opt);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_NE(p.content.find("<tool_call>"), std::string::npos);
  p = parse_tool_output(ToolFormat::Hermes, "Hello <tool", false, opt);
  EXPECT_EQ(p.content, "Hello");  // "<tool" may begin a call: held back (and the space before it)
  p = parse_tool_output(ToolFormat::Hermes, "Hello <tool", true, opt);
  EXPECT_EQ(p.content, "Hello <tool");
  p = parse_tool_output(ToolFormat::Llama3, "{\"answer\": 42}", true, opt);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, "{\"answer\": 42}");
  p = parse_tool_output(ToolFormat::Llama3, "{\"name\": \"f\", \"parameters\": {\"x\": ", false, opt);
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].name, "f");
  EXPECT_EQ(p.calls[0].arguments, "{\"x\":");
  EXPECT_EQ(p.content, "");
  // Two calls, parallel off: only the first.
  opt.parallel = false;
  p = parse_tool_output(ToolFormat::Hermes,
                        "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>",
                        true, opt);
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].name, "a");
  // SmolLM2 writes a list inside <tool_call>.
  p = parse_tool_output(ToolFormat::Hermes,
                        "<tool_call>[{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": \"b\", \"arguments\": {}}]</tool_call>",
                        true, ToolParseOptions{});
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_EQ(p.calls[1].name, "b");
  EXPECT_EQ(p.content, "");
  // Quoted arguments are decoded.
  p = parse_tool_output(ToolFormat::Llama3, "{\"name\": \"f\", \"parameters\": \"{\\\"q\\\": 1}\"}", true, opt);
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].arguments, "{\"q\": 1}");
}

// XML-parameter formats take a list or dict argument in the form the
// template writes it: JSON, or a Python literal (Seed-OSS renders
// `value | string`: "['a', 'b c']"); typed by the function's schema.
TEST(ToolCalls, XmlArgumentsInPythonForm) {
  ToolParseOptions opt;
  opt.param_types["f"] = {{"l", "array"}, {"d", "object"}, {"s", "string"}, {"n", "integer"}};
  auto args = [&](const std::string& params) {
    const std::string out = "<seed:think>plan</seed:think>\n<seed:tool_call>\n<function=f>\n" + params +
                            "</function>\n</seed:tool_call>";
    ToolParse p = parse_tool_output(ToolFormat::SeedOss, out, true, opt);
    EXPECT_EQ(p.reasoning, "plan");
    EXPECT_EQ(p.content, "");
    return p.calls.size() == 1 ? json::parse(p.calls[0].arguments) : json();
  };
  EXPECT_EQ(args("<parameter=l>(\"x\", 'y\\'s', None, True, 1.5e3, -2)</parameter>\n"),
            json::parse(R"({"l": ["x", "y's", null, true, 1500.0, -2]})"));
  EXPECT_EQ(args("<parameter=d>{'a': [1, 2], \"b\": False, 'c': {}}</parameter>\n"),
            json::parse(R"({"d": {"a": [1, 2], "b": false, "c": {}}})"));
  EXPECT_EQ(args("<parameter=l>[\"json\", 1]</parameter>\n<parameter=s>['kept', 'as text']</parameter>\n"
                 "<parameter=n>7</parameter>\n"),
            json::parse(R"({"l": ["json", 1], "s": "['kept', 'as text']", "n": 7})"));
  // Not a literal, or not the schema's type: the text as it is.
  EXPECT_EQ(args("<parameter=l>['a', </parameter>\n"), json::parse(R"({"l": "['a', "})"));
  EXPECT_EQ(args("<parameter=l>{'a': 1}</parameter>\n"), json::parse(R"({"l": "{'a': 1}"})"));
  EXPECT_EQ(args("<parameter=d>{1: 2}</parameter>\n"), json::parse(R"({"d": "{1: 2}"})"));
  EXPECT_EQ(args("<parameter=l>[x]</parameter>\n"), json::parse(R"({"l": "[x]"})"));
  EXPECT_EQ(detect_tool_format("{{ '<seed:tool_call>' }}<function=<parameter="), ToolFormat::SeedOss);
}
