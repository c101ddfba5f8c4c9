// sampler.h — token choice from logits (f8_sampling).
//
// Chain order (fixed, like llama.cpp's default common sampler chain):
//   1. input check      NaN anywhere -> error; +inf -> error; all -inf -> error
//   2. logit bias       logit[id] += bias (bias may be -inf to ban a token)
//   3. penalties        over the last `penalty_last_n` accepted tokens:
//                       repetition (llama.cpp/CTRL form: logit>0 ? logit/r : logit*r),
//                       frequency  (logit -= count * f), presence (logit -= p if count>0)
//   3b. allow mask      (constrained decoding) tokens outside the mask become -inf;
//                       after bias and penalties, so neither can bring one back
//   4. greedy           temperature <= 0: argmax (lowest id wins ties), done
//   5. top-k            keep the k largest (k <= 0 or k >= n: off)
//   6. top-p            keep the smallest prefix (by descending prob) with mass >= p
//   7. min-p            keep tokens with prob >= min_p * max prob
//   8. temperature      probs ∝ exp((logit - max) / T)
//   9. draw             one uniform draw from xoshiro256** (seeded via splitmix64)
// Probabilities for 6-7 are the softmax at temperature 1 (as in llama.cpp,
// where temperature comes after the truncation samplers). Ties are broken by
// lower token id everywhere, so results depend only on (logits, params,
// history, seed).
//
// Clamping rules (validate() rejects what cannot be clamped meaningfully):
//   temperature NaN/inf/<0 -> error (0 = greedy); tiny T (1e-9) is fine: the
//     max-subtracted form never overflows
//   top_k < 0 -> 0 (off); top_k > n_vocab -> n_vocab
//   top_p NaN -> error; clamped to [0, 1]; 0 keeps exactly the top token
//   min_p NaN -> error; clamped to [0, 1]; 1 keeps only ties with the max
//   repeat_penalty NaN/inf/<=0 -> error (1 = off)
//   frequency/presence penalty NaN/inf -> error
//   penalty_last_n < -1 -> error; -1 = the whole history (capped at 1<<20)
//   logit bias NaN or +inf -> error; token id out of range -> error
// Penalized logits are clamped to ±FLT_MAX so huge penalties never make
// -inf - -inf = NaN; only the caller's -inf (input or bias) bans a token.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace f8::sampling {

// xoshiro256** 1.0 (Blackman & Vigna), state seeded with splitmix64(seed).
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits

 private:
  uint64_t s_[4];
};

struct Params {
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  int32_t penalty_last_n = 64;
  uint64_t seed = 0;
  std::vector<std::pair<int32_t, float>> logit_bias;  // (token, bias)
};

class Sampler {
 public:
  // Returns "" when params are usable for a vocabulary of n_vocab, else the
  // reason (names the field and the bad value).
  static std::string validate(const Params& p, int32_t n_vocab);
  // Precondition: validate(p, n_vocab) == "".
  Sampler(const Params& p, int32_t n_vocab);

  // Chooses a token from logits[0..n_vocab) and accepts it into the penalty
  // history. Returns "" on success, else the error (logits unusable).
  // allow: optional bit mask (n_vocab bits, bit set = may be chosen).
  std::string sample(const float* logits, int32_t* out_token, const uint64_t* allow = nullptr);

  // sample() that also writes the distribution the token was drawn from to
  // probs[0..n_vocab) (zeros outside the candidates; greedy: a point mass).
  // For a draft model: its q in the speculative acceptance rule.
  std::string sample_probs(const float* logits, int32_t* out_token, float* probs, const uint64_t* allow = nullptr);
  // Speculative decoding: checks a drafted token against this chain's
  // distribution p for `logits` with the standard rule (accept_draft in
  // speculative.h): accepted with probability min(1, p(draft)/q(draft)),
  // otherwise a token drawn from norm(max(0, p - q)). q: the draft's
  // distribution (n_vocab floats), NULL = a point mass on `draft` (prompt
  // lookup, greedy drafts). Greedy chains accept exactly their argmax and
  // otherwise return it. The token returned in *out is accepted into the
  // penalty history, like sample().
  std::string verify(const float* logits, int32_t draft, const float* q, int32_t* out, bool* accepted,
                     const uint64_t* allow = nullptr);

  // Log-probabilities from the last sample() call, of the distribution the
  // token was drawn from: after bias, penalties, mask, top-k, top-p, min-p
  // and temperature (greedy: the temperature-1 softmax after bias, penalties
  // and mask, i.e. what the argmax was taken of). *chosen: the sampled
  // token's; *top: the n most likely tokens, most likely first (ties: lower
  // id), never tokens the chain removed (so possibly fewer than n).
  void last_logprobs(int32_t n, float* chosen, std::vector<std::pair<int32_t, float>>* top) const;
  // Adds a token (prompt or forced) to the penalty history.
  void accept(int32_t token);
  // Clears the history and reseeds the generator.
  void reset();
  void reseed(uint64_t seed) { rng_.reseed(seed); }

  const Params& params() const { return p_; }
  // Logits after bias and penalties from the last sample() call (tests).
  const std::vector<float>& processed_logits() const { return work_; }
  int32_t n_vocab() const { return n_vocab_; }

 private:
  // Steps 1-8 of the chain: fills work_, idx_ and (not greedy) prob_ and
  // last_total_; greedy sets last_token_ to the argmax.
  std::string prepare(const float* logits, const uint64_t* allow);
  // Step 9: a draw over idx_ with weights w (sum total).
  int32_t draw(const std::vector<double>& w, double total);

  Params p_;
  int32_t n_vocab_;
  size_t window_;
  Rng rng_;
  std::deque<int32_t> history_;
  std::unordered_map<int32_t, int32_t> counts_;  // token -> occurrences in history_
  std::vector<float> work_;                       // logits after bias/penalties
  std::vector<int32_t> idx_;                      // candidate ids
  std::vector<double> prob_;
  // What the last sample() drew from (for last_logprobs): greedy or not,
  // the chosen token, the max logit and, when not greedy, total weight.
  bool last_greedy_ = true;
  int32_t last_token_ = -1;
  float last_max_ = 0;
  double last_total_ = 0;
};

}  // namespace f8::sampling
