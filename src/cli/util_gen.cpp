// util_gen.cpp — see util_gen.h.
#include "util_gen.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "chat/chat.h"

namespace f8cli {

void add_sampling_flags(ArgParser& p, SamplingFlags* f) {
  p.option("--temp", &f->temp, "X", "temperature (0 = greedy)");
  p.option("--top-k", &f->top_k, "N", "top-k (0 = off)");
  p.option("--top-p", &f->top_p, "X", "top-p nucleus (1 = off)");
  p.option("--min-p", &f->min_p, "X", "min-p (0 = off)");
  p.option("--repeat-penalty", &f->repeat_penalty, "X", "repetition penalty (1 = off)");
  p.option("--repeat-last-n", &f->penalty_last_n, "N", "penalty window in tokens (0 = none, -1 = all)");
  p.option("--presence-penalty", &f->presence_penalty, "X", "presence penalty (0 = off)");
  p.option("--frequency-penalty", &f->frequency_penalty, "X", "frequency penalty (0 = off)");
  p.option("--seed", &f->seed, "N", "random seed (-1 = random)");
}

int make_sampler(const SamplingFlags& f, int32_t n_vocab, f8_sampler** out) {
  f8_sampler_params sp = f8_sampler_default_params();
  if (f.top_k < 0 || f.top_k > (1 << 24)) return fail(2, "--top-k " + std::to_string(f.top_k) + ": expected 0..16777216");
  if (f.penalty_last_n < -1 || f.penalty_last_n > (1 << 24))
    return fail(2, "--repeat-last-n: expected -1..16777216");
  if (f.seed < -1) return fail(2, "--seed: expected -1 or a value >= 0");
  if (!(f.top_p >= 0 && f.top_p <= 1)) return fail(2, "--top-p: expected a value in [0, 1]");
  if (!(f.min_p >= 0 && f.min_p <= 1)) return fail(2, "--min-p: expected a value in [0, 1]");
  sp.temperature = float(f.temp);
  sp.top_k = int32_t(f.top_k);
  sp.top_p = float(f.top_p);
  sp.min_p = float(f.min_p);
  sp.repeat_penalty = float(f.repeat_penalty);
  sp.presence_penalty = float(f.presence_penalty);
  sp.frequency_penalty = float(f.frequency_penalty);
  sp.penalty_last_n = int32_t(f.penalty_last_n);
  sp.seed = f.seed < 0 ? F8_SEED_RANDOM : uint64_t(f.seed);
  f8_status st = f8_sampler_new(&sp, n_vocab, out);
  if (st != F8_OK) return fail(st == F8_ERR_INVALID_ARGUMENT ? 2 : 1, f8_last_error());
  return 0;
}

f8_status Sequence::decode_range(const std::vector<int32_t>& t, size_t from, bool all_logits) {
  const size_t n = t.size() - from;
  if (batch_.capacity < int32_t(n)) {
    f8_batch_free(&batch_);
    f8_status st = f8_batch_init(int32_t(std::max<size_t>(n, 512)), &batch_);
    if (st != F8_OK) return st;
  }
  batch_.n_tokens = 0;
  for (size_t i = from; i < t.size(); ++i)
    f8_batch_add(&batch_, t[i], int32_t(i), 0, all_logits || i + 1 == t.size());
  return f8_decode(ctx_, &batch_);
}

f8_status Sequence::sync(const std::vector<int32_t>& want, bool all_logits) {
  if (want.empty()) {
    clear();
    return F8_OK;
  }
  // What the context's sequence 0 already holds of `want` (the C API's
  // prefix reuse): only the rest is decoded.
  size_t common = size_t(f8_kv_seq_common_prefix(ctx_, 0, want.data(), want.size()));
  if (common == want.size()) --common;  // re-decode the last token for fresh logits
  f8_status st = f8_kv_seq_rm(ctx_, 0, int32_t(common), -1);
  if (st != F8_OK) return st;
  toks_.assign(want.begin(), want.begin() + std::ptrdiff_t(common));
  st = decode_range(want, common, all_logits);
  if (st != F8_OK) return st;
  toks_ = want;
  return F8_OK;
}

f8_status Sequence::push(int32_t token) {
  batch_.n_tokens = 0;
  if (batch_.capacity < 1) {
    f8_status st = f8_batch_init(512, &batch_);
    if (st != F8_OK) return st;
  }
  f8_batch_add(&batch_, token, int32_t(toks_.size()), 0, true);
  f8_status st = f8_decode(ctx_, &batch_);
  if (st == F8_OK) toks_.push_back(token);
  return st;
}

f8_status Sequence::push_all(const std::vector<int32_t>& t) {
  std::vector<int32_t> all = toks_;
  all.insert(all.end(), t.begin(), t.end());
  f8_status st = decode_range(all, toks_.size(), true);
  if (st == F8_OK) toks_ = std::move(all);
  return st;
}

f8_status Sequence::truncate(size_t n) {
  if (n >= toks_.size()) return F8_OK;
  f8_status st = f8_kv_seq_rm(ctx_, 0, int32_t(n), -1);
  if (st == F8_OK) toks_.resize(n);
  return st;
}

void Sequence::clear() {
  f8_kv_seq_rm(ctx_, 0, 0, -1);
  toks_.clear();
}

bool push_ends_loop(f8_status* st, GenStats* g) {
  const bool full = *st == F8_ERR_CONTEXT_FULL, aborted = *st == F8_ERR_ABORTED;
  if (full) g->context_full = true;
  if (aborted) g->interrupted = true;
  if (!full && !aborted) return *st != F8_OK;
  *st = F8_OK;
  return true;
}

void finish_text(f8_stopper* stopper, f8_detok_stream* ds, f8_stop_reason reason,
                 const std::function<void(const char*, size_t)>& on_text) {
  if (reason != F8_STOP_STRING && reason != F8_STOP_EOS) {
    const char* text = nullptr;
    size_t tlen = 0;
    if (f8_stopper_flush(stopper, &text, &tlen) == F8_OK && tlen) on_text(text, tlen);
    if (f8_detok_stream_flush(ds, &text, &tlen) == F8_OK && tlen) on_text(text, tlen);
  }
  f8_detok_stream_free(ds);
}

f8_status generate(f8_model* model, int32_t n_vocab, Sequence& seq, f8_sampler* sampler, f8_stopper* stopper,
                   const std::function<void(const char*, size_t)>& on_text, volatile std::sig_atomic_t* stop_flag,
                   GenStats* out) {
  GenStats g;
  f8_detok_stream* ds = nullptr;
  f8_status st = f8_detok_stream_new(model, false, false, &ds);
  if (st != F8_OK) return st;
  const double t0 = now_ms();
  for (;;) {
    if (stop_flag && *stop_flag) {
      g.interrupted = true;
      break;
    }
    const float* logits = nullptr;
    st = f8_get_logits_ith(seq.ctx(), -1, &logits);
    if (st != F8_OK) break;
    int32_t tok = 0;
    st = f8_sampler_sample(sampler, logits, n_vocab, &tok);
    if (st != F8_OK) break;
    g.tokens.push_back(tok);
    ++g.n_gen;
    const char* piece = "";
    size_t plen = 0;
    st = f8_detok_stream_push(ds, tok, &piece, &plen);
    if (st != F8_OK) break;
    const char* text = nullptr;
    size_t tlen = 0;
    st = f8_stopper_push(stopper, tok, piece, plen, &text, &tlen, &g.reason);
    if (st != F8_OK) break;
    if (tlen) on_text(text, tlen);
    if (g.reason != F8_STOP_NONE) break;
    st = seq.push(tok);
    if (push_ends_loop(&st, &g)) break;
  }
  finish_text(stopper, ds, g.reason, on_text);
  g.ms = now_ms() - t0;
  *out = g;
  return st;
}

void print_summary(int64_t n_prompt, double prompt_ms, const GenStats& g, const f8_model_info& info,
                   double load_ms) {
  const double pps = prompt_ms > 0 ? double(n_prompt) * 1000.0 / prompt_ms : 0;
  const double gps = g.ms > 0 ? double(g.n_gen) * 1000.0 / g.ms : 0;
  std::fprintf(stderr, "prompt %lld tok %.0f tok/s | gen %lld tok %.1f tok/s %.1f GB/s | load %.0f ms\n",
               (long long)n_prompt, pps, (long long)g.n_gen, gps, gps * double(info.weight_bytes) / 1e9, load_ms);
  if (g.n_steps > 0)
    std::fprintf(stderr, "speculative: %lld forwards, %.2f tok/forward | drafted %lld, accepted %lld (%.1f%%)\n",
                 (long long)g.n_steps, double(g.n_gen) / double(g.n_steps), (long long)g.n_drafted,
                 (long long)g.n_accepted, g.n_drafted ? 100.0 * double(g.n_accepted) / double(g.n_drafted) : 0.0);
}

bool resolve_template(const std::string& name_or_file, std::string* out, std::string* err) {
  if (const char* b = f8_chat_builtin_template(name_or_file.c_str())) {
    *out = b;
    return true;
  }
  std::ifstream in(name_or_file, std::ios::binary);
  if (!in) {
    *err = "--chat-template '" + name_or_file +
           "': neither a built-in template (chatml, smollm2, qwen2, llama2, llama3, mistral) nor a readable file";
    return false;
  }
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

bool check_template_kwargs(const std::string& json_object, std::string* err) {
  f8::chat::jinja::Dict vars;
  if (f8::chat::parse_template_kwargs(json_object, &vars, err)) return true;
  const std::string prefix = "chat template kwargs: ";
  if (err->rfind(prefix, 0) == 0) err->erase(0, prefix.size());
  *err = "--chat-template-kwargs: " + *err;
  return false;
}

std::string with_template_kwargs(const std::string& conversation_json, const std::string& kwargs_json) {
  if (kwargs_json.empty()) return conversation_json;
  nlohmann::ordered_json conv = nlohmann::ordered_json::parse(conversation_json, nullptr, false);
  nlohmann::ordered_json kw = nlohmann::ordered_json::parse(kwargs_json, nullptr, false);
  if (conv.is_discarded() || kw.is_discarded() || !kw.is_object()) return conversation_json;
  if (conv.is_array()) conv = nlohmann::ordered_json{{"messages", conv}};
  if (!conv.is_object()) return conversation_json;
  auto& dst = conv["chat_template_kwargs"];
  if (!dst.is_object()) dst = nlohmann::ordered_json::object();
  for (auto it = kw.begin(); it != kw.end(); ++it) dst[it.key()] = it.value();
  return conv.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace f8cli
