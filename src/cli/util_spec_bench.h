// util_spec_bench.h — `f8 bench --spec-prompt FILE`: greedy generation of N
// tokens from a real prompt, plain and speculative (the --spec-lookup /
// --draft-model drafter), in alternating runs: tok/s of each, the drafts'
// acceptance rate, tokens per target forward, and whether the two outputs
// are the same tokens (they must be on the batch-invariant backends).
#pragma once

#include <cstdint>
#include <string>

#include "f8.h"
#include "util_spec.h"

namespace f8cli {

struct SpecBenchResult {
  int64_t n_gen = 0;                      // tokens generated per run (the last run's)
  double plain_tok_s = 0, plain_sd = 0;   // greedy, one token per forward
  double spec_tok_s = 0, spec_sd = 0;     // greedy, speculative
  double speedup = 0;                     // median over reps of spec/plain of each alternating pair
  double accept_rate = 0;                 // accepted / drafted, over all runs
  double tok_per_forward = 0;             // generated / target forwards
  bool same = true;                       // every run's tokens equal plain
};

// prompt: text, rendered as a user message with the model's chat template
// when it has one (else tokenized as is, with BOS). Generation stops at the
// model's end-of-generation tokens or after n tokens. Returns the exit code
// (message printed) or 0.
int bench_speculative(f8_model* model, f8_context* ctx, Drafter& drafter, const std::string& prompt, int64_t n,
                      int64_t reps, SpecBenchResult* out);

}  // namespace f8cli
