// cmd_template.cpp — `f8 template -m M.f8 -f CONVERSATION.json`: the prompt
// text the model's chat template makes of a conversation, for debugging
// prompts and checking f8's renders from outside the test suite.
//
// CONVERSATION.json: OpenAI-style {"messages": [{"role", "content"}, ...]}
// (optionally with "tools", "documents", "chat_template_kwargs") or a bare
// list of messages ('-' = stdin). The rendered prompt goes to
// stdout exactly (no added newline); with -v, the family/engine to stderr.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "args.h"
#include "command.h"
#include "f8.h"
#include "util_gen.h"
#include "util_io.h"

namespace {

int cmd_template(int argc, char** argv) {
  using namespace f8cli;
  std::string model_path, conv_path, tmpl_arg, engine = "auto", bos, eos, kwargs;
  bool no_gen = false, verbose = false;
  ArgParser p("f8 template", "-m M.f8 -f CONVERSATION.json [options]",
              "Print the prompt the chat template renders for a conversation.");
  p.option("-m,--model", &model_path, "FILE", "the .f8 model (its chat.template, bos/eos tokens)");
  p.option("-f,--file", &conv_path, "FILE", "conversation JSON: {\"messages\": [...]} or a list ('-' = stdin)", true);
  p.option("--chat-template", &tmpl_arg, "NAME|FILE",
           "override the template: a built-in name (chatml, smollm2, qwen2, llama2, llama2-default, llama3, "
           "mistral, mistral-v0.1) or a Jinja file");
  p.flag("--no-generation-prompt", &no_gen, "do not end with the assistant turn header");
  p.option("--chat-template-kwargs", &kwargs, "JSON",
           "extra template variables, e.g. '{\"enable_thinking\": false}' (over the file's chat_template_kwargs)");
  p.option("--engine", &engine, "auto|builtin|jinja", "renderer: built-in family renderer or the Jinja interpreter");
  p.option("--bos", &bos, "TEXT", "bos_token seen by the template (default: the model's chat.bos_token)");
  p.option("--eos", &eos, "TEXT", "eos_token seen by the template (default: the model's chat.eos_token)");
  p.flag("-v,--verbose", &verbose, "print the recognized family and engine to stderr");
  p.epilog("Examples:\n  f8 template -m smollm2.f8 -f conv.json\n"
           "  f8 template --chat-template llama3 --bos '<|begin_of_text|>' -f conv.json --no-generation-prompt");
  int rc;
  if (!p.parse(argc, argv, &rc)) return rc;
  if (model_path.empty() && tmpl_arg.empty())
    return fail(2, "f8 template: give -m M.f8 or --chat-template NAME|FILE");
  f8_chat_params cp = f8_chat_default_params();
  if (engine == "auto") cp.engine = F8_CHAT_ENGINE_AUTO;
  else if (engine == "builtin") cp.engine = F8_CHAT_ENGINE_BUILTIN;
  else if (engine == "jinja") cp.engine = F8_CHAT_ENGINE_JINJA;
  else return fail(2, "f8 template: --engine must be auto, builtin or jinja, not '" + engine + "'");
  cp.add_generation_prompt = !no_gen;
  if (p.given("--bos")) cp.bos_token = bos.c_str();
  if (p.given("--eos")) cp.eos_token = eos.c_str();

  std::string conv, err;
  if (!kwargs.empty() && !check_template_kwargs(kwargs, &err)) return fail(2, err);
  if (!read_file(conv_path, &conv)) return fail(1, "cannot read " + conv_path);
  conv = with_template_kwargs(conv, kwargs);
  std::string tmpl_text;
  const char* tmpl = nullptr;
  if (!tmpl_arg.empty()) {
    tmpl = f8_chat_builtin_template(tmpl_arg.c_str());
    if (!tmpl) {
      if (!read_file(tmpl_arg, &tmpl_text))
        return fail(1, "--chat-template " + tmpl_arg + ": neither a built-in name nor a readable file");
      tmpl = tmpl_text.c_str();
    }
  }

  f8_model* model = nullptr;
  if (!model_path.empty()) {
    f8_model_params mp = f8_model_default_params();
    mp.vocab_only = true;
    if (f8_model_load(model_path.c_str(), &mp, &model) != F8_OK) return fail(1, f8_last_error());
  }
  if (verbose) {
    const char* t = tmpl ? tmpl : f8_model_chat_template(model);
    const char* fam = t ? f8_chat_template_family(t) : "";
    std::fprintf(stderr, "f8 template: family %s, engine %s\n", *fam ? fam : "(none: Jinja interpreter)",
                 engine.c_str());
  }
  size_t len = 0;
  std::string out(4096, '\0');
  f8_status s = f8_chat_render_json(model, tmpl, conv.c_str(), &cp, out.data(), out.size(), &len);
  if (s == F8_ERR_BUFFER_TOO_SMALL) {
    out.resize(len + 1);
    s = f8_chat_render_json(model, tmpl, conv.c_str(), &cp, out.data(), out.size(), &len);
  }
  err = s == F8_OK ? "" : f8_last_error();
  f8_model_free(model);
  if (s != F8_OK) return fail(s == F8_ERR_INVALID_ARGUMENT ? 2 : 1, err);
  std::fwrite(out.data(), 1, len, stdout);
  return 0;
}

}  // namespace

F8_COMMAND("template", "print the rendered chat prompt for a conversation", cmd_template);
