// runtime.h — what the scheduler needs from an inference runtime.
//
// The product implementation (runtime_f8.cpp) is a thin layer over the C API
// (include/f8.h): one f8_context whose KV cache is shared by all slots, one
// sequence id per slot. With `f8 serve --draft-model` a second Runtime over
// the draft model's own context drafts tokens (draft_model.h); it uses
// decode/logits/seq_clear/seq_trim and samplers like the target's. The interface exists so the scheduler's slot logic
// can be unit-tested with a scripted runtime (tests/server) and so that all
// model calls are in one file.
//
// Threading: decode/logits/seq_clear and the samplers/streams are used only
// by the scheduler thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/request.h"

namespace f8srv {

struct BatchEntry {
  int32_t token;
  int32_t pos;     // position within its sequence
  int32_t seq;     // sequence id = slot index
  bool logits;     // want the logits of this entry
};

// One sampled token's log-probability and the most likely alternatives.
struct TokenLogprob {
  int32_t token = -1;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // most likely first
};

// Chooses the next token of one sequence.
class TokenSampler {
 public:
  virtual ~TokenSampler() = default;
  // logits: n_vocab floats. Returns false with *err when they are unusable.
  virtual bool sample(const float* logits, int32_t* token, std::string* err) = 0;
  // Adds a prompt token to the penalty history (as `f8 generate` does).
  virtual void accept(int32_t token) = 0;
  // Log-probabilities of the last sample (the distribution it was drawn
  // from) with n alternatives; false when unavailable.
  virtual bool logprobs(int32_t /*n*/, TokenLogprob* /*out*/) { return false; }
  // The output is a complete match of the sampler's grammar that nothing
  // can extend (the next token would be end-of-generation).
  virtual bool grammar_done() const { return false; }
  // Speculative decoding (f8_sampler_verify): rows[i] are the logits that
  // predict draft[i], rows[draft.size()] the row after the last draft;
  // q: empty when every draft is a point mass (prompt lookup, a greedy draft
  // model), else q[i] is the distribution draft[i] was drawn from (the
  // target's logits width). *out = the accepted drafts and one token drawn
  // by the target (each accepted into the history and grammar). False with
  // *err when unusable.
  virtual bool verify(const std::vector<const float*>& /*rows*/, const std::vector<int32_t>& /*draft*/,
                      const std::vector<const float*>& /*q*/, std::vector<int32_t>* /*out*/, std::string* err) {
    *err = "this runtime cannot verify drafts";
    return false;
  }
  // A draft model's sampler (f8_sampler_sample_probs): samples like
  // sample() and writes the distribution it drew from to *probs (resized to
  // the sampler's logits width). False with *err when unusable.
  virtual bool sample_probs(const float* /*logits*/, int32_t* /*token*/, std::vector<float>* /*probs*/,
                            std::string* err) {
    *err = "this runtime cannot sample draft distributions";
    return false;
  }
};

// Generated ids -> complete UTF-8 text (held back inside a character).
class TextStream {
 public:
  virtual ~TextStream() = default;
  virtual std::string push(int32_t token) = 0;
  virtual std::string flush() = 0;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  // Runs one batch. Entries of several sequences; on failure the cache is as
  // before and *err says why.
  virtual bool decode(const std::vector<BatchEntry>& batch, std::string* err) = 0;
  // Logits of entry i of the last decode (only for entries with logits set).
  virtual const float* logits(int32_t i) = 0;
  // Forgets every position of a sequence.
  virtual void seq_clear(int32_t seq) = 0;
  // Makes src's positions [p0, p1) visible to dst too (shared cells, no
  // copy); false when the runtime cannot (then dst decodes them itself).
  virtual bool seq_cp(int32_t /*src*/, int32_t /*dst*/, int32_t /*p0*/, int32_t /*p1*/) { return false; }
  // Cells of the KV pool no sequence sees (-1: unknown). The prefix cache
  // drops entries while this is below what the next batch needs.
  virtual int32_t kv_free() const { return -1; }
  // Forgets positions >= p0 of a sequence (rejected drafts); false when the
  // runtime cannot.
  virtual bool seq_trim(int32_t /*seq*/, int32_t /*p0*/) { return false; }
  // Prompt-lookup draft (f8_draft_lookup): up to n tokens to follow
  // `history`; empty when nothing matches.
  virtual std::vector<int32_t> draft_lookup(const std::vector<int32_t>& /*history*/, int32_t /*ngram_min*/,
                                            int32_t /*ngram_max*/, int32_t /*n*/) {
    return {};
  }
  virtual bool is_eog(int32_t token) const = 0;
  virtual std::unique_ptr<TokenSampler> new_sampler(const GenParams& p, uint64_t seed,
                                                    std::string* err) = 0;
  // special: control tokens print their text (tool-call markers).
  virtual std::unique_ptr<TextStream> new_text_stream(bool special) = 0;
};

}  // namespace f8srv
