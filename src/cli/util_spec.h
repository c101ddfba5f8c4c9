// util_spec.h — speculative decoding for `f8 generate`, `f8 chat` and
// `f8 bench`, on the C API's primitives (f8_draft_lookup, f8_sampler_verify,
// f8_sampler_sample_probs): a drafter (prompt lookup and/or a draft model
// with the same tokenizer) proposes up to --draft-max tokens, the target
// decodes the pending token and the drafts in one batch, the sampler keeps
// the accepted prefix plus one token of its own, and the rejected drafts'
// KV cells are removed. docs/runtime.md "Speculative decoding".
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "f8.h"
#include "util_gen.h"
#include "util_run.h"

namespace f8cli {

struct SpecFlags {
  int64_t lookup = 0;         // prompt lookup: longest n-gram matched (0 = off)
  int64_t ngram_min = 1;      // shortest n-gram matched
  std::string draft_model;    // a .f8 with the same tokenizer ("" = none)
  int64_t draft_max = 4;      // tokens drafted per target forward (4: the best measured on the CPU, docs/runtime.md)
  bool enabled() const { return lookup > 0 || !draft_model.empty(); }
};
// --spec-lookup --spec-ngram-min --draft-model --draft-max
void add_spec_flags(ArgParser& p, SpecFlags* f);

// A draft model must have the target's tokenizer (the same vocabulary,
// string for string). Prints a usage error naming both files and returns 2,
// or 0. Used by Drafter::init and `f8 serve --draft-model`.
int check_draft_tokenizer(const f8_model* target, const f8_model* draft, const std::string& target_path,
                          const std::string& draft_path);

// Proposes tokens: prompt lookup first (when on), else the draft model
// (when given). The draft model runs in its own context with the target's
// run flags (backend, threads, KV type, context length) and a sampler with
// the target's temperature/top-k/top-p/min-p (no penalties, no grammar: q
// is whatever it drew from, which the acceptance rule accounts for).
class Drafter {
 public:
  Drafter() = default;
  ~Drafter();
  Drafter(const Drafter&) = delete;
  Drafter& operator=(const Drafter&) = delete;

  // Checks the flags and loads the draft model (same tokenizer as `target`:
  // the same vocabulary strings). Prints the error and returns its exit code
  // (2 usage, 1 runtime), or 0.
  int init(const SpecFlags& f, const RunFlags& rf, ArgParser& p, const SamplingFlags& sf, f8_model* target,
           bool quiet);
  bool enabled() const { return f_.enabled(); }
  int32_t draft_max() const { return int32_t(f_.draft_max); }

  // Up to n tokens to follow `history`. *q_rows: for a sampling (T > 0)
  // draft model, n_vocab floats per drafted token (the distribution it drew
  // from); empty = point masses. A draft-model failure is returned.
  f8_status draft(const std::vector<int32_t>& history, int32_t n, std::vector<int32_t>* out,
                  std::vector<float>* q_rows);

 private:
  SpecFlags f_;
  int32_t n_vocab_ = 0;       // target's logits width (q rows)
  bool sampling_ = false;     // draft sampler has T > 0
  Loaded draft_;
  std::unique_ptr<Sequence> dseq_;
  f8_sampler* dsampler_ = nullptr;
  std::vector<float> probs_;
};

// `generate` (util_gen.h) with speculation: same stopping, streaming and
// statistics, plus g.n_steps / n_drafted / n_accepted. With a greedy sampler
// the tokens equal generate()'s on the batch-invariant backends.
// max_tokens (<= 0: none) only caps the drafts so no forward is wasted past
// it; the stopper still decides.
f8_status generate_speculative(f8_model* model, int32_t n_vocab, Sequence& seq, f8_sampler* sampler,
                               f8_stopper* stopper, Drafter& drafter, int64_t max_tokens,
                               const std::function<void(const char*, size_t)>& on_text,
                               volatile std::sig_atomic_t* stop_flag, GenStats* out);

}  // namespace f8cli
