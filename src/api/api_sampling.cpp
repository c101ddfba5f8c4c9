// api_sampling.cpp — the sampling section of f8.h over f8::sampling.
#include <cstring>
#include <random>
#include <string>

#include "api/api_error.h"
#include "api/grammar_handle.h"
#include "api/model_handle.h"
#include "api/sampler_handle.h"
#include "sampling/sampler.h"
#include "sampling/stop.h"

using f8api::guarded;
using f8api::set_error;


struct f8_stopper {
  f8::sampling::Stopper impl;
  std::string out;  // last chunk handed out
};

namespace {

f8_sampler_params read_params(const f8_sampler_params* p) {
  f8_sampler_params out = f8_sampler_default_params();
  if (p && p->struct_size >= sizeof(size_t)) std::memcpy(&out, p, std::min(p->struct_size, sizeof(out)));
  out.struct_size = sizeof(out);
  return out;
}

}  // namespace

extern "C" {

f8_sampler_params f8_sampler_default_params(void) {
  f8_sampler_params p;
  std::memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  f8::sampling::Params d;
  p.temperature = d.temperature;
  p.top_k = d.top_k;
  p.top_p = d.top_p;
  p.min_p = d.min_p;
  p.repeat_penalty = d.repeat_penalty;
  p.frequency_penalty = d.frequency_penalty;
  p.presence_penalty = d.presence_penalty;
  p.penalty_last_n = d.penalty_last_n;
  p.seed = F8_SEED_RANDOM;
  p.logit_bias = nullptr;
  p.n_logit_bias = 0;
  return p;
}

f8_status f8_sampler_new(const f8_sampler_params* params, int32_t n_vocab, f8_sampler** out) {
  return guarded("f8_sampler_new", [&]() -> f8_status {
    if (!out) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_new: out is NULL");
    *out = nullptr;
    f8_sampler_params c = read_params(params);
    if (!c.logit_bias && c.n_logit_bias)
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_new: logit_bias is NULL but n_logit_bias > 0");
    f8::sampling::Params p;
    p.temperature = c.temperature;
    p.top_k = c.top_k;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    p.repeat_penalty = c.repeat_penalty;
    p.frequency_penalty = c.frequency_penalty;
    p.presence_penalty = c.presence_penalty;
    p.penalty_last_n = c.penalty_last_n;
    p.seed = c.seed;
    if (c.seed == F8_SEED_RANDOM) {
      std::random_device rd;
      p.seed = (uint64_t(rd()) << 32) ^ uint64_t(rd());
    }
    for (size_t i = 0; i < c.n_logit_bias; ++i) p.logit_bias.push_back({c.logit_bias[i].token, c.logit_bias[i].bias});
    std::string err = f8::sampling::Sampler::validate(p, n_vocab);
    if (!err.empty()) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_new: " + err);
    *out = new f8_sampler{f8::sampling::Sampler(p, n_vocab), p.seed, nullptr, false};
    return F8_OK;
  });
}

void f8_sampler_free(f8_sampler* s) { delete s; }

f8_status f8_sampler_sample(f8_sampler* s, const float* logits, int32_t n_vocab, int32_t* token) {
  return guarded("f8_sampler_sample", [&]() -> f8_status {
    if (!s || !logits || !token) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_sample: NULL argument");
    if (n_vocab != s->impl.n_vocab())
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_sample: n_vocab " + std::to_string(n_vocab) +
                                                    " does not match the sampler's " + std::to_string(s->impl.n_vocab()));
    const uint64_t* mask = s->grammar ? s->grammar->mask() : nullptr;
    std::string err = s->impl.sample(logits, token, mask);
    if (!err.empty()) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_sample: " + err);
    s->sampled = true;
    if (s->grammar && !s->grammar->accept(*token))  // cannot happen: the mask allowed it
      return set_error(F8_ERR_INTERNAL, "f8_sampler_sample: the grammar refused token " + std::to_string(*token));
    return F8_OK;
  });
}

f8_status f8_sampler_accept(f8_sampler* s, int32_t token) {
  return guarded("f8_sampler_accept", [&]() -> f8_status {
    if (!s) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_accept: sampler is NULL");
    if (token < 0 || token >= s->impl.n_vocab())
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_accept: token " + std::to_string(token) +
                                                    " is outside the vocabulary");
    s->impl.accept(token);
    return F8_OK;
  });
}

void f8_sampler_reset(f8_sampler* s) {
  if (!s) return;
  s->impl.reset();
  if (s->grammar) s->grammar->reset();
}

f8_status f8_sampler_set_grammar(f8_sampler* s, const f8_grammar* g) {
  return guarded("f8_sampler_set_grammar", [&]() -> f8_status {
    if (!s) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_set_grammar: sampler is NULL");
    if (!g) {
      s->grammar.reset();
      return F8_OK;
    }
    if (s->impl.n_vocab() > g->trie->n_logits())
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_set_grammar: the sampler's n_vocab " +
                                                    std::to_string(s->impl.n_vocab()) + " exceeds the model's " +
                                                    std::to_string(g->trie->n_logits()) + " logits");
    s->grammar = std::make_unique<f8::sampling::GrammarConstraint>(g->grammar, g->trie);
    return F8_OK;
  });
}

f8_grammar_state f8_sampler_grammar_state(const f8_sampler* s) {
  if (!s || !s->grammar) return F8_GRAMMAR_NONE;
  if (s->grammar->done()) return F8_GRAMMAR_DONE;
  return s->grammar->accepting() ? F8_GRAMMAR_CAN_END : F8_GRAMMAR_RUNNING;
}

f8_status f8_sampler_last_logprobs(const f8_sampler* s, float* chosen, f8_token_logprob* top, size_t n, size_t* n_top) {
  return guarded("f8_sampler_last_logprobs", [&]() -> f8_status {
    if (!s || !chosen || !n_top || (!top && n))
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_last_logprobs: NULL argument");
    *n_top = 0;
    if (!s->sampled) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_last_logprobs: nothing sampled yet");
    std::vector<std::pair<int32_t, float>> t;
    s->impl.last_logprobs(int32_t(std::min<size_t>(n, size_t(1) << 20)), chosen, &t);
    for (size_t i = 0; i < t.size(); ++i) top[i] = {t[i].first, t[i].second};
    *n_top = t.size();
    return F8_OK;
  });
}

uint64_t f8_sampler_seed(const f8_sampler* s) { return s ? s->seed : 0; }

f8_status f8_stopper_new(const f8_model* model, const char* const* stop_strings, size_t n_stop, const int32_t* eos_ids,
                         size_t n_eos, int64_t max_tokens, f8_stopper** out) {
  return guarded("f8_stopper_new", [&]() -> f8_status {
    if (!out) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_stopper_new: out is NULL");
    *out = nullptr;
    if (!stop_strings && n_stop) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_stopper_new: stop_strings is NULL");
    std::vector<std::string> stops;
    for (size_t i = 0; i < n_stop; ++i) {
      if (!stop_strings[i]) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_stopper_new: stop string " + std::to_string(i) + " is NULL");
      stops.emplace_back(stop_strings[i]);
    }
    std::vector<int32_t> eos;
    if (eos_ids) eos.assign(eos_ids, eos_ids + n_eos);
    else if (n_eos) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_stopper_new: eos_ids is NULL but n_eos > 0");
    else if (model) eos = model->eog_ids;
    *out = new f8_stopper{f8::sampling::Stopper(std::move(stops), std::move(eos), max_tokens), {}};
    return F8_OK;
  });
}

f8_status f8_stopper_push(f8_stopper* s, int32_t token, const char* piece, size_t piece_len, const char** text,
                          size_t* len, f8_stop_reason* reason) {
  return guarded("f8_stopper_push", [&]() -> f8_status {
    if (!s || !text || !len || !reason || (!piece && piece_len))
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_stopper_push: NULL argument");
    s->out.clear();
    auto r = s->impl.push(token, std::string(piece ? piece : "", piece_len), &s->out);
    *text = s->out.c_str();
    *len = s->out.size();
    *reason = r == f8::sampling::StopReason::Eos          ? F8_STOP_EOS
              : r == f8::sampling::StopReason::StopString ? F8_STOP_STRING
              : r == f8::sampling::StopReason::MaxTokens  ? F8_STOP_MAX_TOKENS
                                                          : F8_STOP_NONE;
    return F8_OK;
  });
}

f8_status f8_stopper_flush(f8_stopper* s, const char** text, size_t* len) {
  return guarded("f8_stopper_flush", [&]() -> f8_status {
    if (!s || !text || !len) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_stopper_flush: NULL argument");
    s->out.clear();
    s->impl.finish(&s->out);
    *text = s->out.c_str();
    *len = s->out.size();
    return F8_OK;
  });
}

void f8_stopper_free(f8_stopper* s) { delete s; }

}  // extern "C"
