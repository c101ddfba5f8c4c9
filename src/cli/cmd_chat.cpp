// cmd_chat.cpp — `f8 chat -m M.f8`: an interactive REPL over the model's chat
// template. Each turn renders the whole conversation, tokenizes it and
// decodes only what the KV cache does not already hold (the common prefix is
// reused), then streams the answer. Line editing and history via libedit
// when built with it (history in $F8_CACHE/chat_history).
//
// Input: a line; a line ending in '\' continues on the next; '"""' alone
// starts/ends a multi-line block. Commands: /system TEXT, /reset,
// /save FILE, /load FILE (JSON [{"role","content"}...]), /help, /quit.
// Ctrl-C stops the current answer (the partial answer stays in the
// conversation); Ctrl-D quits.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#if defined(F8_HAVE_LIBEDIT)
#include <editline/readline.h>
#endif

#include "args.h"
#include "command.h"
#include "f8.h"
#include "util_gen.h"
#include "util_spec.h"
#include "util_pull.h"
#include "util_run.h"

namespace f8cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_sigint(int) { g_stop = 1; }

struct Msg {
  std::string role, content;
};

std::string history_path() {
  const char* c = std::getenv("F8_CACHE");
  std::string dir = c && *c ? c : std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/f8";
  return dir + "/chat_history";
}

bool read_line(const char* prompt, std::string* out) {
#if defined(F8_HAVE_LIBEDIT)
  char* l = readline(prompt);
  if (!l) return false;
  *out = l;
  if (*l) add_history(l);
  std::free(l);
  return true;
#else
  std::fputs(prompt, stdout);
  std::fflush(stdout);
  return bool(std::getline(std::cin, *out));
#endif
}

// One user input, possibly multi-line. False on end of input.
bool read_input(std::string* out) {
  std::string line;
  g_stop = 0;
  if (!read_line("> ", &line)) return false;
  if (line == "\"\"\"") {
    std::string acc;
    while (read_line("... ", &line) && line != "\"\"\"") acc += (acc.empty() ? "" : "\n") + line;
    *out = acc;
    return true;
  }
  std::string acc;
  while (!line.empty() && line.back() == '\\') {
    line.pop_back();
    acc += line + "\n";
    if (!read_line("... ", &line)) break;
  }
  *out = acc + line;
  return true;
}

int run(int argc, char** argv) {
  RunFlags rf;
  SamplingFlags sf;
  SpecFlags spf;
  std::string system, tmpl, kwargs;
  int64_t n_predict = -1;
  ArgParser p("f8 chat", "-m MODEL [options]", "Interactive chat with the model's chat template.");
  add_run_flags(p, &rf);
  add_sampling_flags(p, &sf);
  add_spec_flags(p, &spf);
  p.option("-n,--n-predict", &n_predict, "N", "max tokens per answer (-1 = until EOS or the context is full)");
  p.option("-sys,--system", &system, "TEXT", "system message");
  p.option("--chat-template", &tmpl, "NAME|FILE", "override the model's chat template");
  p.option("--chat-template-kwargs", &kwargs, "JSON",
           "extra template variables, e.g. '{\"enable_thinking\": false}' or '{\"reasoning_effort\": \"low\"}'");
  p.epilog("in the chat: /system TEXT, /reset, /save FILE, /load FILE, /help, /quit; Ctrl-C stops an answer");
  int rc;
  if (!p.parse(argc, argv, &rc)) return rc;
  if (int e = resolve_model_flag(&rf.model)) return e;  // -m ORG/NAME: the pulled .f8
  if (n_predict < -1) return fail(2, "--n-predict: expected -1 or a value >= 0");
  std::string tmpl_text, err;
  if (!tmpl.empty() && !resolve_template(tmpl, &tmpl_text, &err)) return fail(2, err);
  if (!kwargs.empty() && !check_template_kwargs(kwargs, &err)) return fail(2, err);

  Loaded L;
  if (rf.tp_nodes > 1)
    return fail(2, "--tp-nodes: f8 chat reads its input on one node only; use --tp over this node's GPUs");
  int e = load_model_and_context(rf, p, &L);
  if (e) return e;
  if (tmpl.empty() && !*f8_model_chat_template(L.model))
    return fail(1, rf.model + " has no chat template; pass --chat-template NAME|FILE (e.g. chatml)");
  const int32_t V = L.info.n_vocab;
  Drafter drafter;
  if ((e = drafter.init(spf, rf, p, sf, L.model, false))) return e;
  const uint32_t n_ctx = f8_context_get_params(L.ctx).n_ctx;
  f8_sampler* sampler = nullptr;
  if ((e = make_sampler(sf, V, &sampler))) return e;

  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
#if defined(F8_HAVE_LIBEDIT)
  const std::string hist = history_path();
  read_history(hist.c_str());
#endif

  std::vector<Msg> conv;
  if (!system.empty()) conv.push_back({"system", system});
  Sequence seq(L.ctx);
  std::fprintf(stderr, "f8 chat: %s (%s, context %u tokens). /help for commands, Ctrl-D to quit.\n",
               rf.model.c_str(), L.info.arch, n_ctx);

  auto render = [&](std::string* text) -> bool {
    std::vector<f8_chat_message> m;
    for (auto& x : conv) m.push_back({x.role.c_str(), x.content.c_str()});
    f8_chat_params cp = f8_chat_default_params();
    size_t len = 0;
    std::string json;  // with --chat-template-kwargs: the JSON form carries the variables
    if (!kwargs.empty()) {
      nlohmann::json j = nlohmann::json::array();
      for (auto& x : conv) j.push_back({{"role", x.role}, {"content", x.content}});
      json = with_template_kwargs(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kwargs);
    }
    auto go = [&](char* buf, size_t cap) {
      if (!json.empty())
        return f8_chat_render_json(L.model, tmpl_text.empty() ? nullptr : tmpl_text.c_str(), json.c_str(), &cp, buf,
                                   cap, &len);
      return tmpl_text.empty() ? f8_chat_apply_template(L.model, m.data(), m.size(), &cp, buf, cap, &len)
                               : f8_chat_template_render(tmpl_text.c_str(), m.data(), m.size(), &cp, buf, cap, &len);
    };
    f8_status st = go(nullptr, 0);
    if (st != F8_OK && st != F8_ERR_BUFFER_TOO_SMALL) return false;
    std::vector<char> buf(len + 1);
    if (go(buf.data(), buf.size()) != F8_OK) return false;
    text->assign(buf.data(), len);
    return true;
  };

  std::string input;
  while (read_input(&input)) {
    if (input.empty()) continue;
    if (input[0] == '/') {
      std::string cmd = input.substr(0, input.find(' '));
      std::string arg = input.size() > cmd.size() ? input.substr(cmd.size() + 1) : "";
      if (cmd == "/quit" || cmd == "/exit") break;
      if (cmd == "/help") {
        std::printf("/system TEXT  set the system message (starts a new conversation)\n/reset        new conversation\n"
                    "/save FILE    save the conversation as JSON\n/load FILE    load a conversation saved with /save\n"
                    "/quit         leave (or Ctrl-D); Ctrl-C stops an answer\n");
      } else if (cmd == "/reset") {
        conv.clear();
        if (!system.empty()) conv.push_back({"system", system});
        seq.clear();
        std::printf("(new conversation)\n");
      } else if (cmd == "/system") {
        system = arg;
        conv.clear();
        if (!system.empty()) conv.push_back({"system", system});
        seq.clear();
        std::printf("(system message set; new conversation)\n");
      } else if (cmd == "/save") {
        nlohmann::json j = nlohmann::json::array();
        for (auto& m : conv) j.push_back({{"role", m.role}, {"content", m.content}});
        std::ofstream f(arg);
        if (arg.empty() || !(f << j.dump(2) << "\n")) std::printf("(cannot write '%s')\n", arg.c_str());
        else std::printf("(saved %zu messages to %s)\n", conv.size(), arg.c_str());
      } else if (cmd == "/load") {
        std::ifstream f(arg);
        nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
        std::vector<Msg> loaded;
        bool ok = f.good() || f.eof();
        ok = ok && j.is_array();
        if (ok)
          for (auto& m : j) {
            if (!m.is_object() || !m.contains("role") || !m.contains("content") || !m["role"].is_string() ||
                !m["content"].is_string()) {
              ok = false;
              break;
            }
            loaded.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
          }
        if (!ok) {
          std::printf("(cannot load '%s': expected a JSON list of {\"role\", \"content\"})\n", arg.c_str());
        } else {
          conv = loaded;
          std::printf("(loaded %zu messages)\n", conv.size());
        }
      } else {
        std::printf("(unknown command %s; /help lists them)\n", cmd.c_str());
      }
      continue;
    }

    conv.push_back({"user", input});
    std::string text;
    if (!render(&text)) {
      std::printf("(template error: %s)\n", f8_last_error());
      conv.pop_back();
      continue;
    }
    size_t n = 0;
    f8_tokenize(L.model, text.data(), text.size(), false, true, nullptr, 0, &n);
    std::vector<int32_t> toks(n);
    if (f8_tokenize(L.model, text.data(), text.size(), false, true, toks.data(), n, &n) != F8_OK || toks.empty()) {
      std::printf("(tokenizer error: %s)\n", f8_last_error());
      conv.pop_back();
      continue;
    }
    if (toks.size() >= n_ctx) {
      std::printf("(context full: the conversation is %zu tokens, the context holds %u. /reset to start over, "
                  "or restart with a larger --ctx)\n",
                  toks.size(), n_ctx);
      conv.pop_back();
      continue;
    }
    f8_status st = seq.sync(toks);
    if (st != F8_OK) {
      std::printf("(%s)\n", f8_last_error());
      conv.pop_back();
      continue;
    }
    f8_stopper* stopper = nullptr;
    if (f8_stopper_new(L.model, nullptr, 0, nullptr, 0, n_predict < 0 ? 0 : n_predict, &stopper) != F8_OK) {
      std::printf("(%s)\n", f8_last_error());
      conv.pop_back();
      continue;
    }
    std::string answer;
    GenStats g;
    g_stop = 0;
    auto print = [&](const char* t, size_t len) {
      answer.append(t, len);
      std::fwrite(t, 1, len, stdout);
      std::fflush(stdout);
    };
    st = drafter.enabled()
             ? generate_speculative(L.model, V, seq, sampler, stopper, drafter, n_predict, print, &g_stop, &g)
             : generate(L.model, V, seq, sampler, stopper, print, &g_stop, &g);
    f8_stopper_free(stopper);
    std::printf("\n");
    if (st != F8_OK) std::printf("(%s)\n", f8_last_error());
    if (g.interrupted) std::printf("(stopped)\n");
    if (g.context_full)
      std::printf("(context full: the answer was cut at %u tokens. /reset to start over, or restart with a larger "
                  "--ctx)\n",
                  n_ctx);
    conv.push_back({"assistant", answer});
  }
#if defined(F8_HAVE_LIBEDIT)
  write_history(hist.c_str());
#endif
  f8_sampler_free(sampler);
  std::printf("\n");
  return 0;
}

}  // namespace
F8_COMMAND("chat", "interactive chat REPL", run);
}  // namespace f8cli
