// cmd_generate.cpp — `f8 generate -m M.f8 -p TEXT`: one-shot completion.
// The prompt is one batched decode; generated text streams to stdout; the
// summary line (prompt tok/s, gen tok/s, GB/s of weights, load time) goes to
// stderr. --chat wraps the prompt as a user message with the model's chat
// template. --json-schema / --grammar constrain the output (f8_grammar).
// --dump-logits writes the prompt's logits as .npy (for checks against
// reference implementations).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "args.h"
#include "command.h"
#include "f8.h"
#include "util_gen.h"
#include "util_pull.h"
#include "util_run.h"
#include "util_spec.h"

namespace f8cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_sigint(int) { g_stop = 1; }

bool write_npy(const std::string& path, const std::vector<float>& data, size_t rows, size_t cols) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return false;
  std::string hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                    std::to_string(cols) + "), }";
  while ((10 + hdr.size() + 1) % 64 != 0) hdr += ' ';
  hdr += '\n';
  const uint16_t hl = uint16_t(hdr.size());
  f.write("\x93NUMPY\x01\x00", 8);
  f.write(reinterpret_cast<const char*>(&hl), 2);
  f.write(hdr.data(), std::streamsize(hdr.size()));
  f.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size() * sizeof(float)));
  return bool(f);
}

int run(int argc, char** argv) {
  RunFlags rf;
  SamplingFlags sf;
  SpecFlags spf;
  std::string prompt, file, system, tmpl, dump_logits, dump_tokens, prompt_ids, schema_file, grammar_file;
  std::vector<std::string> stops;
  int64_t n_predict = 256;
  bool chat = false, ignore_eos = false, quiet = false, echo = false;
  ArgParser p("f8 generate", "-m MODEL -p TEXT [options]",
              "One-shot completion: generated text to stdout, a summary line to stderr.");
  add_run_flags(p, &rf);
  p.option("-p,--prompt", &prompt, "TEXT", "the prompt");
  p.option("-f,--file", &file, "FILE", "read the prompt from a file");
  p.option("--prompt-ids", &prompt_ids, "LIST", "the prompt as token ids (comma-separated), not tokenized");
  p.option("-n,--n-predict", &n_predict, "N", "tokens to generate (-1 = until EOS or the context is full)");
  add_sampling_flags(p, &sf);
  add_spec_flags(p, &spf);
  p.option("--json-schema", &schema_file, "FILE",
           "constrain the output to JSON valid against this JSON Schema (docs/grammar.md lists what is supported)");
  p.option("--grammar", &grammar_file, "FILE", "constrain the output to this GBNF grammar (start rule 'root')");
  p.flag("--ignore-eos", &ignore_eos, "keep generating past end-of-generation tokens");
  p.option("--stop", &stops, "TEXT", "stop when TEXT is generated (repeatable)");
  p.flag("--chat", &chat, "format the prompt as a user message with the chat template");
  p.option("-sys,--system", &system, "TEXT", "system message (with --chat)");
  p.option("--chat-template", &tmpl, "NAME|FILE", "override the model's chat template");
  p.flag("--echo", &echo, "print the prompt before the generated text");
  p.option("--dump-logits", &dump_logits, "FILE.npy", "write the logits of every prompt position as float32 .npy");
  p.option("--dump-tokens", &dump_tokens, "FILE", "write prompt and generated token ids (one line each)");
  p.flag("-q,--quiet", &quiet, "no summary line");
  p.epilog("examples:\n  f8 generate -m smollm2.f8 -p 'The capital of France is' -n 32 --temp 0\n"
           "  f8 generate -m smollm2.f8 --chat -p 'Write a haiku about FP8.'\n"
           "  f8 generate -m smollm2.f8 --chat -p 'Describe a cat as JSON.' --json-schema cat.schema.json\n"
           "  f8 generate -m smollm2.f8 --chat -f rewrite.txt --temp 0 --spec-lookup 3   # speculative decoding");
  int rc;
  if (!p.parse(argc, argv, &rc)) return rc;
  if (int e = resolve_model_flag(&rf.model)) return e;  // -m ORG/NAME: the pulled .f8
  if (int(!prompt.empty()) + int(!file.empty()) + int(!prompt_ids.empty()) != 1)
    return fail(2, "give exactly one of -p/--prompt, -f/--file or --prompt-ids");
  if (!prompt_ids.empty() && chat) return fail(2, "--prompt-ids cannot be combined with --chat");
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return fail(1, "cannot read " + file);
    prompt.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (n_predict < -1) return fail(2, "--n-predict: expected -1 or a value >= 0");
  if (!system.empty() && !chat) return fail(2, "--system needs --chat");
  if (!schema_file.empty() && !grammar_file.empty()) return fail(2, "give at most one of --json-schema and --grammar");
  std::string constraint;
  const std::string& cfile = schema_file.empty() ? grammar_file : schema_file;
  if (!cfile.empty()) {
    std::ifstream in(cfile, std::ios::binary);
    if (!in) return fail(1, "cannot read " + cfile);
    constraint.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  Loaded L;
  int e = load_model_and_context(rf, p, &L, quiet);
  if (e) return e;
  const int32_t V = L.info.n_vocab;
  Drafter drafter;
  if ((e = drafter.init(spf, rf, p, sf, L.model, quiet))) return e;
  const f8_context_params cp = f8_context_get_params(L.ctx);

  // Prompt text -> tokens.
  std::string text = prompt;
  if (chat) {
    std::vector<f8_chat_message> msgs;
    if (!system.empty()) msgs.push_back({"system", system.c_str()});
    msgs.push_back({"user", prompt.c_str()});
    std::string t;
    std::string err;
    if (!tmpl.empty() && !resolve_template(tmpl, &t, &err)) return fail(2, err);
    size_t len = 0;
    f8_chat_params chp = f8_chat_default_params();
    auto render = [&](char* buf, size_t cap) {
      return tmpl.empty() ? f8_chat_apply_template(L.model, msgs.data(), msgs.size(), &chp, buf, cap, &len)
                          : f8_chat_template_render(t.c_str(), msgs.data(), msgs.size(), &chp, buf, cap, &len);
    };
    f8_status rs = render(nullptr, 0);
    if (rs != F8_OK && rs != F8_ERR_BUFFER_TOO_SMALL) return fail(1, f8_last_error());
    std::vector<char> buf(len + 1);
    if (render(buf.data(), buf.size()) != F8_OK) return fail(1, f8_last_error());
    text.assign(buf.data(), len);
  }
  std::vector<int32_t> toks;
  f8_status st = F8_OK;
  if (!prompt_ids.empty()) {
    std::string list = prompt_ids;
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(',', start);
      if (end == std::string::npos) end = list.size();
      std::string item = list.substr(start, end - start);
      char* endp = nullptr;
      long long id = std::strtoll(item.c_str(), &endp, 10);
      if (item.empty() || *endp || id < 0 || id >= V)
        return fail(2, "--prompt-ids: '" + item + "' is not a token id in [0, " + std::to_string(V) + ")");
      toks.push_back(int32_t(id));
      start = end + 1;
    }
  } else {
    size_t n_ids = 0;
    // A chat template writes its own BOS text; plain prompts get the model's.
    const bool add_special = !chat;
    st = f8_tokenize(L.model, text.data(), text.size(), add_special, chat, nullptr, 0, &n_ids);
    if (st != F8_OK && st != F8_ERR_BUFFER_TOO_SMALL) return fail(1, f8_last_error());
    toks.resize(n_ids);
    if (f8_tokenize(L.model, text.data(), text.size(), add_special, chat, toks.data(), toks.size(), &n_ids) != F8_OK)
      return fail(1, f8_last_error());
  }
  if (toks.empty()) return fail(2, "the prompt is empty after tokenization");
  if (toks.size() >= cp.n_ctx)
    return fail(1, "prompt is " + std::to_string(toks.size()) + " tokens but the context holds " +
                       std::to_string(cp.n_ctx) + " (F8_ERR_CONTEXT_FULL): shorten the prompt or raise --ctx");

  f8_sampler* sampler = nullptr;
  if ((e = make_sampler(sf, V, &sampler))) return e;
  for (int32_t t : toks) f8_sampler_accept(sampler, t);
  if (!constraint.empty()) {
    f8_grammar* g = nullptr;
    f8_status gs = schema_file.empty() ? f8_grammar_new(L.model, constraint.c_str(), "root", &g)
                                       : f8_grammar_new_json_schema(L.model, constraint.c_str(), &g);
    if (gs == F8_OK) gs = f8_sampler_set_grammar(sampler, g);
    f8_grammar_free(g);
    if (gs != F8_OK) {
      std::string msg = cfile + ": " + f8_last_error();
      f8_sampler_free(sampler);
      return fail(gs == F8_ERR_INVALID_ARGUMENT || gs == F8_ERR_UNSUPPORTED ? 2 : 1, msg);
    }
  }
  std::vector<const char*> stop_ptrs;
  for (auto& s : stops) stop_ptrs.push_back(s.c_str());
  f8_stopper* stopper = nullptr;
  const int32_t no_eos = -1;
  st = f8_stopper_new(ignore_eos ? nullptr : L.model, stop_ptrs.data(), stop_ptrs.size(),
                      ignore_eos ? &no_eos : nullptr, 0, n_predict < 0 ? 0 : n_predict, &stopper);
  if (st != F8_OK) {
    f8_sampler_free(sampler);
    return fail(1, f8_last_error());
  }

  std::signal(SIGINT, on_sigint);
  Sequence seq(L.ctx);
  const double t0 = now_ms();
  st = seq.sync(toks, !dump_logits.empty());
  const double prompt_ms = now_ms() - t0;
  if (st != F8_OK) {
    f8_sampler_free(sampler);
    f8_stopper_free(stopper);
    return fail(1, f8_last_error());
  }
  if (!dump_logits.empty()) {
    std::vector<float> all(toks.size() * size_t(V));
    for (size_t i = 0; i < toks.size(); ++i) {
      const float* lg = nullptr;
      f8_get_logits_ith(L.ctx, int32_t(i), &lg);
      std::memcpy(all.data() + i * size_t(V), lg, size_t(V) * sizeof(float));
    }
    if (!write_npy(dump_logits, all, toks.size(), size_t(V))) return fail(1, "cannot write " + dump_logits);
  }
  if (echo) {
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    std::fflush(stdout);
  }
  GenStats g;
  if (n_predict != 0) {
    auto print = [](const char* t, size_t n) {
      std::fwrite(t, 1, n, stdout);
      std::fflush(stdout);
    };
    st = drafter.enabled() ? generate_speculative(L.model, V, seq, sampler, stopper, drafter, n_predict, print, &g_stop, &g)
                           : generate(L.model, V, seq, sampler, stopper, print, &g_stop, &g);
  }
  std::fputc('\n', stdout);
  std::fflush(stdout);
  f8_sampler_free(sampler);
  f8_stopper_free(stopper);
  if (st != F8_OK) return fail(1, f8_last_error());
  if (!dump_tokens.empty()) {
    std::ofstream f(dump_tokens);
    for (size_t i = 0; i < toks.size(); ++i) f << (i ? " " : "") << toks[i];
    f << "\n";
    for (size_t i = 0; i < g.tokens.size(); ++i) f << (i ? " " : "") << g.tokens[i];
    f << "\n";
  }
  if (g.context_full)
    std::fprintf(stderr, "f8: context full after %lld tokens (--ctx %u)\n", (long long)seq.n_past(), cp.n_ctx);
  if (!quiet) print_summary(int64_t(toks.size()), prompt_ms, g, L.info, L.load_ms);
  return g.interrupted ? 130 : 0;
}

}  // namespace
F8_COMMAND("generate", "one-shot completion, streamed to stdout", run);
}  // namespace f8cli
