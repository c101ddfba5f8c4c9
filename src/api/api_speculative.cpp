// api_speculative.cpp — the speculative decoding section of f8.h:
// prompt-lookup drafting and the acceptance rule over f8::sampling.
#include <string>
#include <vector>

#include "api/api_error.h"
#include "api/sampler_handle.h"
#include "sampling/speculative.h"

using f8api::guarded;
using f8api::set_error;

namespace {

f8_status check_vocab(const char* fn, const f8_sampler* s, int32_t n_vocab) {
  if (n_vocab != s->impl.n_vocab())
    return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": n_vocab " + std::to_string(n_vocab) +
                                                  " does not match the sampler's " + std::to_string(s->impl.n_vocab()));
  return F8_OK;
}

}  // namespace

extern "C" {

f8_status f8_draft_lookup(const int32_t* tokens, size_t n_tokens, int32_t ngram_min, int32_t ngram_max, int32_t* draft,
                          size_t capacity, size_t* n_draft) {
  return guarded("f8_draft_lookup", [&]() -> f8_status {
    if (!n_draft || (!tokens && n_tokens) || (!draft && capacity))
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_draft_lookup: NULL argument");
    *n_draft = 0;
    if (ngram_min < 1 || ngram_max < ngram_min || ngram_max > 64)
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_draft_lookup: ngram_min " + std::to_string(ngram_min) +
                                                    ", ngram_max " + std::to_string(ngram_max) +
                                                    ": expected 1 <= ngram_min <= ngram_max <= 64");
    const int32_t cap = int32_t(std::min<size_t>(capacity, size_t(1) << 20));
    std::vector<int32_t> d = f8::sampling::lookup_draft(tokens, n_tokens, ngram_min, ngram_max, cap);
    std::copy(d.begin(), d.end(), draft);
    *n_draft = d.size();
    return F8_OK;
  });
}

f8_status f8_sampler_sample_probs(f8_sampler* s, const float* logits, int32_t n_vocab, int32_t* token, float* probs) {
  return guarded("f8_sampler_sample_probs", [&]() -> f8_status {
    if (!s || !logits || !token || !probs)
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_sample_probs: NULL argument");
    if (f8_status st = check_vocab("f8_sampler_sample_probs", s, n_vocab)) return st;
    const uint64_t* mask = s->grammar ? s->grammar->mask() : nullptr;
    std::string err = s->impl.sample_probs(logits, token, probs, mask);
    if (!err.empty()) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_sample_probs: " + err);
    s->sampled = true;
    if (s->grammar && !s->grammar->accept(*token))  // cannot happen: the mask allowed it
      return set_error(F8_ERR_INTERNAL, "f8_sampler_sample_probs: the grammar refused token " + std::to_string(*token));
    return F8_OK;
  });
}

f8_status f8_sampler_verify(f8_sampler* s, const float* const* logits, int32_t n_vocab, const int32_t* draft,
                            const float* const* draft_probs, size_t n_draft, int32_t* out, size_t* n_out) {
  return guarded("f8_sampler_verify", [&]() -> f8_status {
    if (!s || !logits || !out || !n_out || (!draft && n_draft))
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_verify: NULL argument");
    *n_out = 0;
    if (f8_status st = check_vocab("f8_sampler_verify", s, n_vocab)) return st;
    for (size_t i = 0; i <= n_draft; ++i) {
      if (!logits[i]) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_verify: logits[" + std::to_string(i) + "] is NULL");
      if (i == n_draft) break;
      if (draft[i] < 0 || draft[i] >= n_vocab)
        return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_verify: draft[" + std::to_string(i) + "] = " +
                                                      std::to_string(draft[i]) + " is outside the vocabulary");
      if (draft_probs && !draft_probs[i])
        return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_verify: draft_probs[" + std::to_string(i) + "] is NULL");
    }
    for (size_t i = 0; i <= n_draft; ++i) {
      const uint64_t* mask = s->grammar ? s->grammar->mask() : nullptr;
      int32_t tok = 0;
      bool accepted = false;
      std::string err;
      if (i < n_draft) err = s->impl.verify(logits[i], draft[i], draft_probs ? draft_probs[i] : nullptr, &tok, &accepted, mask);
      else err = s->impl.sample(logits[i], &tok, mask);
      if (!err.empty())
        return set_error(F8_ERR_INVALID_ARGUMENT, "f8_sampler_verify: row " + std::to_string(i) + ": " + err);
      s->sampled = true;
      if (s->grammar && !s->grammar->accept(tok))  // cannot happen: the mask allowed it
        return set_error(F8_ERR_INTERNAL, "f8_sampler_verify: the grammar refused token " + std::to_string(tok));
      out[(*n_out)++] = tok;
      if (i < n_draft && !accepted) break;
    }
    return F8_OK;
  });
}

}  // extern "C"
