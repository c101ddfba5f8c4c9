// Chat renders against jinja2 goldens (scripts/gen_chat_goldens.py ->
// tests/goldens/chat/renders.json): every real template x conversation x
// add_generation_prompt, through the Jinja interpreter AND (for the
// recognized families) the built-in renderer; plus feature snippets.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "chat/chat.h"

using nlohmann::ordered_json;
namespace fc = f8::chat;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// F8_CHAT_RENDERS=FILE runs another render set (gen_chat_goldens.py --probe
// writes one for every template of a directory, for vetting new templates).
const ordered_json& goldens() {
  static ordered_json j = [] {
    const char* alt = std::getenv("F8_CHAT_RENDERS");
    return ordered_json::parse(slurp(alt && *alt ? alt : F8_SOURCE_DIR "/tests/goldens/chat/renders.json"));
  }();
  return j;
}

bool probing() {
  const char* alt = std::getenv("F8_CHAT_RENDERS");
  return alt && *alt;
}

std::string tmpl_text(const std::string& name) {
  std::string f = goldens()["templates"][name]["file"].get<std::string>();
  return slurp(f[0] == '/' ? f : std::string(F8_SOURCE_DIR "/") + f);
}

// The conversation as render_json takes it: {"messages", "tools",
// "documents", "chat_template_kwargs"} (the variables of the case).
std::string conversation_json(const ordered_json& c) {
  ordered_json conv = {{"messages", goldens()["conversations"][c["conversation"].get<std::string>()]}};
  if (c.contains("kwargs")) {
    ordered_json rest = ordered_json::object();
    for (const auto& [k, v] : c["kwargs"].items()) {
      if (k == "tools" || k == "documents") conv[k] = v;
      else rest[k] = v;
    }
    if (!rest.empty()) conv["chat_template_kwargs"] = rest;
  }
  return conv.dump();
}

// The families whose published templates the built-in renderers reproduce.
const std::map<std::string, fc::Family> kFamilies = {
    {"smollm2", fc::Family::ChatML},         {"qwen2", fc::Family::ChatML},
    {"chatml", fc::Family::ChatML},          {"llama2-chat", fc::Family::Llama2},
    {"llama3-instruct", fc::Family::Llama3}, {"mistral-instruct-v0.1", fc::Family::Mistral},
    {"mistral-instruct-v0.2", fc::Family::Mistral},
};

struct Tally {
  int compared = 0, builtin = 0;
};

void check_case(const ordered_json& c, fc::Engine engine, Tally* t) {
  std::string name = c["template"], conv = c["conversation"];
  const auto& tinfo = goldens()["templates"][name];
  fc::Options opt;
  opt.add_generation_prompt = c["add_generation_prompt"];
  opt.bos_token = tinfo["bos_token"];
  opt.eos_token = tinfo["eos_token"];
  opt.now = goldens().value("now", int64_t(-1));
  fc::Result r = fc::render_json(tmpl_text(name), conversation_json(c), opt, engine);
  std::string label = name + " / " + conv + " / agp=" + (opt.add_generation_prompt ? "1" : "0") + " / " +
                      fc::engine_name(engine);
  if (engine == fc::Engine::Builtin && r.error_kind == fc::ErrorKind::Unsupported) return;  // non-plain messages
  if (c.contains("error")) {
    EXPECT_FALSE(r.ok()) << label << ": jinja2 failed (" << c["error"] << ") but f8 rendered";
    std::string jerr = c["error"];
    if (jerr.rfind("TemplateError: ", 0) == 0) {  // raise_exception(): same message
      EXPECT_NE(r.error.find(jerr.substr(15)), std::string::npos) << label << ": " << r.error;
    }
  } else {
    ASSERT_TRUE(r.ok()) << label << ": " << r.error;
    EXPECT_EQ(r.text, c["output"].get<std::string>()) << label;
    if (engine == fc::Engine::Builtin) EXPECT_EQ(r.engine, fc::Engine::Builtin) << label;
  }
  ++t->compared;
  if (r.engine == fc::Engine::Builtin) ++t->builtin;
}

}  // namespace

TEST(ChatGoldens, FamiliesAreRecognized) {
  if (probing()) GTEST_SKIP();
  for (const auto& [name, fam] : kFamilies) {
    fc::Recognized r = fc::recognize(tmpl_text(name));
    EXPECT_EQ(r.family, fam) << name;
  }
  EXPECT_EQ(fc::recognize(tmpl_text("smollm2")).default_system,
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  EXPECT_EQ(fc::recognize(tmpl_text("qwen2")).default_system, "You are a helpful assistant");
  // Templates of other families are not mistaken for a built-in one.
  for (const auto& [name, info] : goldens()["templates"].items())
    if (!kFamilies.count(name)) EXPECT_EQ(fc::recognize(tmpl_text(name)).family, fc::Family::Unknown) << name;
}

std::string first_difference(const std::string& got, const std::string& want) {
  size_t k = 0;
  while (k < got.size() && k < want.size() && got[k] == want[k]) ++k;
  size_t from = k > 40 ? k - 40 : 0;
  return "at byte " + std::to_string(k) + ": f8 '" + got.substr(from, 80) + "' jinja2 '" + want.substr(from, 80) + "'";
}

// Probe mode: one line per template (cases passed / total, first failure).
TEST(ChatGoldens, ProbeSummary) {
  if (!probing()) GTEST_SKIP();
  std::map<std::string, std::pair<int, int>> tally;
  std::map<std::string, std::string> first_fail;
  for (const auto& c : goldens()["cases"]) {
    std::string name = c["template"];
    const auto& tinfo = goldens()["templates"][name];
    fc::Options opt;
    opt.add_generation_prompt = c["add_generation_prompt"];
    opt.bos_token = tinfo["bos_token"];
    opt.eos_token = tinfo["eos_token"];
    opt.now = goldens().value("now", int64_t(-1));
    fc::Result r = fc::render_json(tmpl_text(name), conversation_json(c), opt, fc::Engine::Jinja);
    bool ok = c.contains("error") ? !r.ok() : (r.ok() && r.text == c["output"].get<std::string>());
    auto& t = tally[name];
    ++t.second;
    if (ok) ++t.first;
    else if (!first_fail.count(name))
      first_fail[name] = c["conversation"].get<std::string>() + ": " +
                         (r.ok() ? (c.contains("error") ? "rendered but jinja2 failed: " + c["error"].get<std::string>()
                                                        : "output differs: " + first_difference(r.text, c["output"]))
                                 : r.error);
  }
  for (const auto& [name, t] : tally)
    std::printf("%-55s %4d/%-4d %s\n", name.c_str(), t.first, t.second,
                first_fail.count(name) ? first_fail[name].substr(0, 400).c_str() : "");
}

TEST(ChatGoldens, JinjaInterpreterMatchesJinja2) {
  if (probing()) GTEST_SKIP();
  Tally t;
  for (const auto& c : goldens()["cases"]) check_case(c, fc::Engine::Jinja, &t);
  EXPECT_EQ(t.compared, int(goldens()["cases"].size()));
  std::printf("jinja engine: %d cases compared with jinja2\n", t.compared);
}

TEST(ChatGoldens, BuiltinRenderersMatchJinja2) {
  if (probing()) GTEST_SKIP();
  Tally t;
  for (const auto& c : goldens()["cases"])
    if (kFamilies.count(c["template"].get<std::string>())) check_case(c, fc::Engine::Builtin, &t);
  EXPECT_GT(t.builtin, 100);
  std::printf("builtin engine: %d cases compared (%d rendered natively)\n", t.compared, t.builtin);
}

TEST(ChatGoldens, AutoEngineMatchesJinja2) {
  if (probing()) GTEST_SKIP();
  Tally t;
  for (const auto& c : goldens()["cases"]) check_case(c, fc::Engine::Auto, &t);
  EXPECT_EQ(t.compared, int(goldens()["cases"].size()));
}

TEST(ChatGoldens, PlainMessagesApiMatches) {
  if (probing()) GTEST_SKIP();
  // render() with std::vector<Message> (the C API path) on plain conversations.
  int n = 0;
  for (const auto& c : goldens()["cases"]) {
    if (c.contains("kwargs")) continue;
    const auto& conv = goldens()["conversations"][c["conversation"].get<std::string>()];
    std::vector<fc::Message> msgs;
    bool plain = true;
    for (const auto& m : conv) {
      if (m.size() != 2 || !m["content"].is_string()) plain = false;
      else msgs.push_back({m["role"], m["content"]});
    }
    if (!plain || c.contains("error")) continue;
    const auto& tinfo = goldens()["templates"][c["template"].get<std::string>()];
    fc::Options opt;
    opt.add_generation_prompt = c["add_generation_prompt"];
    opt.bos_token = tinfo["bos_token"];
    opt.eos_token = tinfo["eos_token"];
    opt.now = goldens().value("now", int64_t(-1));
    for (fc::Engine e : {fc::Engine::Auto, fc::Engine::Jinja}) {
      fc::Result r = fc::render(tmpl_text(c["template"]), msgs, opt, e);
      ASSERT_TRUE(r.ok()) << r.error;
      EXPECT_EQ(r.text, c["output"].get<std::string>()) << c["template"] << " / " << c["conversation"];
    }
    ++n;
  }
  EXPECT_GT(n, 200);
}

TEST(ChatGoldens, BuiltinTemplateNamesAreTheGoldenTexts) {
  if (probing()) GTEST_SKIP();
  std::map<std::string, std::string> files = {{"smollm2", "smollm2"},
                                              {"qwen2", "qwen2"},
                                              {"chatml", "chatml"},
                                              {"llama2-default", "llama2-chat"},
                                              {"llama3", "llama3-instruct"},
                                              {"mistral", "mistral-instruct-v0.2"},
                                              {"mistral-v0.1", "mistral-instruct-v0.1"}};
  for (const auto& [name, file] : files) {
    const char* t = fc::builtin_template(name);
    ASSERT_NE(t, nullptr) << name;
    std::string want = tmpl_text(file);
    if (!want.empty() && want.back() == '\n') want.pop_back();
    EXPECT_EQ(std::string(t), want) << name;
  }
  EXPECT_EQ(fc::recognize(fc::builtin_template("llama2")).family, fc::Family::Llama2);
  EXPECT_EQ(fc::builtin_template("nope"), nullptr);
}

// Feature-by-feature snippets (whitespace control, scoping, filters, tests,
// methods, literals, errors) rendered by jinja2 with fixed variables.
TEST(ChatGoldens, SnippetsMatchJinja2) {
  std::string vars = goldens()["snippet_vars"].dump();
  int n = 0;
  for (const auto& s : goldens()["snippets"]) {
    std::string text = s["template"];
    fc::Result r = fc::render_vars_json(text, vars);
    if (s.contains("error")) {
      EXPECT_FALSE(r.ok()) << text << " rendered " << r.text << " but jinja2 failed: " << s["error"];
    } else {
      ASSERT_TRUE(r.ok()) << text << ": " << r.error;
      EXPECT_EQ(r.text, s["output"].get<std::string>()) << text;
    }
    ++n;
  }
  EXPECT_GT(n, 30);
}
