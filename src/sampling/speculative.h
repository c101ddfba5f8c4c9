// speculative.h — the token-level pieces of speculative decoding that need
// no model: prompt-lookup drafting and the acceptance test.
//
// Speculative decoding (Leviathan et al. 2023, Chen et al. 2023): a cheap
// drafter proposes k tokens d1..dk; the target model scores all of them in
// one batched forward of k+1 tokens (the pending token, then d1..dk), and
// the target's sampler walks the k+1 rows: row i decides d(i+1) with
//   accept with probability min(1, p(d)/q(d)), else draw from
//   norm(max(0, p - q)) and stop,
// and the last row (all accepted) yields one more token. Each output token
// is then distributed exactly as the target's sampler would have drawn it
// (Sampler::verify implements the row test). With a greedy target p is a
// point mass: a draft is accepted iff it is the argmax, so the output is
// the plain greedy output whenever the batched rows' logits equal the
// one-token decode's (the CPU backends are batch-invariant: docs/backend.md).
//
// Prompt lookup (Saxena 2023, "prompt lookup decoding"; vLLM's ngram
// speculator): the draft is what followed the most recent earlier
// occurrence of the history's last n tokens. q is a point mass on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace f8::sampling {

class Rng;

// The acceptance test: true with probability min(1, p_d / q_d). Draws from
// rng only when 0 < p_d < q_d (so greedy and certain cases use no numbers).
// q_d <= 0 (the drafter could not have proposed it) is a rejection.
bool accept_draft(double p_d, double q_d, Rng& rng);

// Prompt-lookup draft: for n = ngram_max down to ngram_min, the last n
// tokens of tokens[0..n_tokens) are searched for at earlier positions, most
// recent first; on the first match the (up to n_draft) tokens that followed
// it are the draft. Empty when nothing matches. Cost O(n_tokens * ngram_max).
std::vector<int32_t> lookup_draft(const int32_t* tokens, size_t n_tokens, int32_t ngram_min, int32_t ngram_max,
                                  int32_t n_draft);

}  // namespace f8::sampling
