// sampler.cpp — the sampler chain documented in sampler.h.
#include "sampling/sampler.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "sampling/speculative.h"

namespace f8::sampling {

// ---------------------------------------------------------------- Rng
static uint64_t splitmix64(uint64_t* x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void Rng::reseed(uint64_t seed) {
  uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(&x);
}
uint64_t Rng::next() {
  uint64_t r = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return r;
}
double Rng::uniform() { return double(next() >> 11) * 0x1.0p-53; }

// ---------------------------------------------------------------- params
static constexpr size_t kMaxWindow = size_t(1) << 20;

std::string Sampler::validate(const Params& p, int32_t n_vocab) {
  auto bad = [](const char* field, double v) { return std::string(field) + " = " + std::to_string(v) + " is invalid"; };
  if (n_vocab <= 0) return "n_vocab must be positive";
  if (!std::isfinite(p.temperature) || p.temperature < 0) return bad("temperature", p.temperature) + " (need finite >= 0)";
  if (std::isnan(p.top_p)) return "top_p is NaN";
  if (std::isnan(p.min_p)) return "min_p is NaN";
  if (!std::isfinite(p.repeat_penalty) || p.repeat_penalty <= 0)
    return bad("repeat_penalty", p.repeat_penalty) + " (need finite > 0; 1 = off)";
  if (!std::isfinite(p.frequency_penalty)) return bad("frequency_penalty", p.frequency_penalty);
  if (!std::isfinite(p.presence_penalty)) return bad("presence_penalty", p.presence_penalty);
  if (p.penalty_last_n < -1) return bad("penalty_last_n", p.penalty_last_n) + " (need >= -1)";
  for (const auto& [tok, b] : p.logit_bias) {
    if (tok < 0 || tok >= n_vocab)
      return "logit_bias token " + std::to_string(tok) + " is outside the vocabulary [0, " + std::to_string(n_vocab) + ")";
    if (std::isnan(b) || b == INFINITY) return "logit_bias for token " + std::to_string(tok) + " must be finite or -inf";
  }
  return "";
}

Sampler::Sampler(const Params& p, int32_t n_vocab) : p_(p), n_vocab_(n_vocab), rng_(p.seed) {
  p_.top_k = std::clamp<int32_t>(p_.top_k, 0, n_vocab);
  p_.top_p = std::clamp(p_.top_p, 0.0f, 1.0f);
  p_.min_p = std::clamp(p_.min_p, 0.0f, 1.0f);
  window_ = p_.penalty_last_n < 0 ? kMaxWindow : std::min(size_t(p_.penalty_last_n), kMaxWindow);
  work_.resize(size_t(n_vocab));
}

void Sampler::accept(int32_t token) {
  if (window_ == 0 || token < 0 || token >= n_vocab_) return;
  history_.push_back(token);
  ++counts_[token];
  if (history_.size() > window_) {
    int32_t old = history_.front();
    history_.pop_front();
    if (--counts_[old] == 0) counts_.erase(old);
  }
}

void Sampler::reset() {
  history_.clear();
  counts_.clear();
  rng_.reseed(p_.seed);
}

static inline float clamp_finite(float x) { return std::clamp(x, -FLT_MAX, FLT_MAX); }

std::string Sampler::prepare(const float* logits, const uint64_t* allow) {
  const size_t n = size_t(n_vocab_);
  // 1. input check
  bool any_finite = false;
  for (size_t i = 0; i < n; ++i) {
    float x = logits[i];
    if (std::isnan(x)) return "logit " + std::to_string(i) + " is NaN";
    if (x == INFINITY) return "logit " + std::to_string(i) + " is +inf";
    any_finite |= x != -INFINITY;
    work_[i] = x;
  }
  if (!any_finite) return "every logit is -inf: no token can be sampled";
  // 2. logit bias
  for (const auto& [tok, b] : p_.logit_bias) work_[size_t(tok)] = b == -INFINITY ? -INFINITY : clamp_finite(work_[size_t(tok)] + b);
  // 3. penalties (only tokens seen in the window change)
  if (p_.repeat_penalty != 1.0f || p_.frequency_penalty != 0.0f || p_.presence_penalty != 0.0f) {
    for (const auto& [tok, cnt] : counts_) {
      float& x = work_[size_t(tok)];
      if (x == -INFINITY) continue;
      x = x > 0 ? x / p_.repeat_penalty : x * p_.repeat_penalty;
      x -= float(cnt) * p_.frequency_penalty + p_.presence_penalty;
      x = clamp_finite(x);
    }
  }
  // 3b. allow mask (grammar)
  if (allow)
    for (size_t i = 0; i < n; ++i)
      if (!((allow[i >> 6] >> (i & 63)) & 1)) work_[i] = -INFINITY;
  // Candidates: every token not banned by -inf.
  idx_.clear();
  for (size_t i = 0; i < n; ++i)
    if (work_[i] != -INFINITY) idx_.push_back(int32_t(i));
  if (idx_.empty())
    return allow ? "no token is allowed by the grammar after logit bias" : "every token is banned (-inf) after logit bias";
  auto better = [this](int32_t a, int32_t b) {
    return work_[size_t(a)] > work_[size_t(b)] || (work_[size_t(a)] == work_[size_t(b)] && a < b);
  };
  auto argmax = [&]() {
    int32_t best = idx_[0];
    for (int32_t i : idx_)
      if (better(i, best)) best = i;
    last_greedy_ = true;
    last_token_ = best;
    last_max_ = work_[size_t(best)];
    return "";
  };
  // 4. greedy
  if (p_.temperature <= 0.0f) return argmax();
  // 5. top-k
  bool sorted = false;
  if (p_.top_k > 0 && size_t(p_.top_k) < idx_.size()) {
    std::partial_sort(idx_.begin(), idx_.begin() + p_.top_k, idx_.end(), better);
    idx_.resize(size_t(p_.top_k));
    sorted = true;
  }
  // Softmax at T = 1 over the candidates (max-subtracted: never overflows).
  float maxv = -FLT_MAX;
  for (int32_t i : idx_) maxv = std::max(maxv, work_[size_t(i)]);
  auto t1_prob = [&](int32_t i) { return std::exp(double(work_[size_t(i)]) - double(maxv)); };
  // 6. top-p and 7. min-p keep prefixes of the sorted order (min-p's test is
  // invariant under renormalization, so the two commute).
  if (p_.top_p < 1.0f || p_.min_p > 0.0f) {
    double z = 0;
    for (int32_t i : idx_) z += t1_prob(i);
    if (p_.min_p > 0.0f) {
      // max prob is exp(0)/z; keep p_i >= min_p * p_max  <=>  e_i >= min_p.
      size_t w = 0;
      for (int32_t i : idx_)
        if (t1_prob(i) >= double(p_.min_p)) idx_[w++] = i;
      idx_.resize(std::max<size_t>(w, 1));
    }
    if (p_.top_p < 1.0f) {
      if (!sorted) std::sort(idx_.begin(), idx_.end(), better);
      sorted = true;
      double cum = 0;
      size_t keep = idx_.size();
      for (size_t k = 0; k < idx_.size(); ++k) {
        cum += t1_prob(idx_[k]) / z;
        if (cum >= double(p_.top_p)) {
          keep = k + 1;
          break;
        }
      }
      idx_.resize(std::max<size_t>(keep, 1));
    }
  }
  // 8. temperature, over the candidates in ascending id order.
  if (sorted) std::sort(idx_.begin(), idx_.end());
  prob_.resize(idx_.size());
  double total = 0;
  const double inv_t = 1.0 / double(p_.temperature);
  for (size_t k = 0; k < idx_.size(); ++k) {
    double e = std::exp((double(work_[size_t(idx_[k])]) - double(maxv)) * inv_t);
    prob_[k] = e;
    total += e;
  }
  // Only reachable when every weight underflows, which the max-subtracted
  // form rules out (the max contributes exp(0) = 1); keep greedy as a guard.
  if (!(total > 0) || !std::isfinite(total)) return argmax();
  last_greedy_ = false;
  last_token_ = -1;
  last_max_ = maxv;
  last_total_ = total;
  return "";
}

int32_t Sampler::draw(const std::vector<double>& w, double total) {
  // 9. one uniform draw over the candidates (ascending id order).
  double u = rng_.uniform() * total, cum = 0;
  for (size_t k = 0; k < w.size(); ++k) {
    cum += w[k];
    if (u < cum) return idx_[k];
  }
  return idx_.back();
}

std::string Sampler::sample(const float* logits, int32_t* out, const uint64_t* allow) {
  std::string err = prepare(logits, allow);
  if (!err.empty()) return err;
  if (!last_greedy_) last_token_ = draw(prob_, last_total_);
  *out = last_token_;
  accept(last_token_);
  return "";
}

std::string Sampler::sample_probs(const float* logits, int32_t* out, float* probs, const uint64_t* allow) {
  std::string err = sample(logits, out, allow);
  if (!err.empty()) return err;
  std::fill(probs, probs + n_vocab_, 0.0f);
  if (last_greedy_) probs[size_t(*out)] = 1.0f;
  else
    for (size_t k = 0; k < idx_.size(); ++k) probs[size_t(idx_[k])] = float(prob_[k] / last_total_);
  return "";
}

std::string Sampler::verify(const float* logits, int32_t draft, const float* q, int32_t* out, bool* accepted,
                            const uint64_t* allow) {
  std::string err = prepare(logits, allow);
  if (!err.empty()) return err;
  *accepted = false;
  if (last_greedy_) {
    // The target is a point mass on its argmax: p/q = 1 there and 0 elsewhere
    // for any q with q(draft) > 0, and the residual is that point mass again.
    *accepted = last_token_ == draft;
  } else {
    // p(draft) of the chain's distribution; q(draft) = 1 for a point mass
    // (prompt lookup, a greedy draft model).
    double p_d = 0;
    for (size_t k = 0; k < idx_.size(); ++k)
      if (idx_[k] == draft) p_d = prob_[k] / last_total_;
    const double q_d = q ? double(q[size_t(draft)]) : 1.0;
    std::vector<double> resid;
    if (accept_draft(p_d, q_d, rng_)) {
      *accepted = true;
      last_token_ = draft;
    } else {
      // Rejected: draw from norm(max(0, p - q)) over the chain's candidates.
      resid.resize(idx_.size());
      double rt = 0;
      for (size_t k = 0; k < idx_.size(); ++k) {
        const double qk = q ? double(q[size_t(idx_[k])]) : (idx_[k] == draft ? 1.0 : 0.0);
        resid[k] = std::max(0.0, prob_[k] / last_total_ - qk);
        rt += resid[k];
      }
      // rt == 0 only when p <= q everywhere, i.e. p == q, where every draft
      // is accepted; rounding can still get here: draw from p itself.
      last_token_ = rt > 0 ? draw(resid, rt) : draw(prob_, last_total_);
    }
  }
  *out = last_token_;
  accept(last_token_);
  return "";
}

void Sampler::last_logprobs(int32_t n, float* chosen, std::vector<std::pair<int32_t, float>>* top) const {
  top->clear();
  *chosen = 0.0f;
  if (last_token_ < 0) return;
  // (token, log-probability) of every candidate of the last draw.
  std::vector<std::pair<int32_t, double>> lp;
  lp.reserve(idx_.size());
  if (last_greedy_) {
    // Temperature-1 softmax over the candidates (bias, penalties, mask applied).
    double z = 0;
    for (int32_t i : idx_) z += std::exp(double(work_[size_t(i)]) - double(last_max_));
    double lz = std::log(z) + double(last_max_);
    for (int32_t i : idx_) lp.push_back({i, double(work_[size_t(i)]) - lz});
  } else {
    double lt = std::log(last_total_);
    for (size_t k = 0; k < idx_.size(); ++k)
      if (prob_[k] > 0) lp.push_back({idx_[k], std::log(prob_[k]) - lt});  // underflowed weights: not candidates
  }
  for (const auto& [t, l] : lp)
    if (t == last_token_) *chosen = float(l);
  size_t k = std::min(lp.size(), size_t(std::max<int32_t>(n, 0)));
  auto better = [](const std::pair<int32_t, double>& a, const std::pair<int32_t, double>& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  };
  std::partial_sort(lp.begin(), lp.begin() + long(k), lp.end(), better);
  for (size_t i = 0; i < k; ++i) top->push_back({lp[i].first, float(lp[i].second)});
}

}  // namespace f8::sampling
