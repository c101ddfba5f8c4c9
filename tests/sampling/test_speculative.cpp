// Speculative decoding's token-level pieces: the acceptance test
// (accept with min(1, p/q), else draw from norm(max(0, p - q))) checked
// statistically — every output token must be distributed as the target's
// own sampler would draw it, for point-mass drafts (prompt lookup) and for
// drafts drawn from a real q (a draft model) — the greedy case exactly,
// truncation composing, and prompt-lookup drafting on exact cases.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sampling/sampler.h"
#include "sampling/speculative.h"

using f8::sampling::accept_draft;
using f8::sampling::lookup_draft;
using f8::sampling::Params;
using f8::sampling::Rng;
using f8::sampling::Sampler;

namespace {

Params plain(float temp, uint64_t seed = 7) {
  Params p;
  p.temperature = temp;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

std::vector<double> softmax(const std::vector<float>& l, double t) {
  double m = -INFINITY;
  for (float x : l) m = std::max(m, double(x));
  std::vector<double> p(l.size());
  double z = 0;
  for (size_t i = 0; i < l.size(); ++i) z += p[i] = std::exp((l[i] - m) / t);
  for (auto& x : p) x /= z;
  return p;
}

// Pearson chi-square of counts against probabilities (0-probability tokens
// must never appear).
double chi2(const std::vector<int>& h, const std::vector<double>& p, int n) {
  double c = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    const double e = p[i] * n;
    if (e > 0) c += (h[i] - e) * (h[i] - e) / e;
    else EXPECT_EQ(h[i], 0) << "token " << i << " has probability 0 but came out";
  }
  return c;
}

std::vector<int32_t> lk(const std::vector<int32_t>& t, int32_t lo, int32_t hi, int32_t n) {
  return lookup_draft(t.data(), t.size(), lo, hi, n);
}

}  // namespace

TEST(AcceptDraft, Rule) {
  Rng r(1);
  EXPECT_TRUE(accept_draft(0.5, 0.5, r));
  EXPECT_TRUE(accept_draft(0.9, 0.2, r));
  EXPECT_TRUE(accept_draft(1.0, 1.0, r));
  EXPECT_FALSE(accept_draft(0.0, 0.4, r));
  EXPECT_FALSE(accept_draft(0.3, 0.0, r));  // q(d) = 0: the drafter cannot have proposed it
  // The certain cases draw no numbers: the stream is where it started.
  Rng fresh(1);
  EXPECT_EQ(r.next(), fresh.next());
  // p/q = 0.3: accepted 30% of the time (binomial sd = 0.0029 at 25k).
  int acc = 0;
  const int n = 25000;
  for (int i = 0; i < n; ++i) acc += accept_draft(0.12, 0.4, r);
  EXPECT_NEAR(double(acc) / n, 0.3, 0.015);
}

TEST(LookupDraft, ExactCases) {
  // The last 2 tokens (1 2) occurred at 0; what followed is the draft.
  EXPECT_EQ(lk({1, 2, 3, 4, 1, 2}, 1, 2, 8), (std::vector<int32_t>{3, 4, 1, 2}));
  EXPECT_EQ(lk({1, 2, 3, 4, 1, 2}, 1, 2, 3), (std::vector<int32_t>{3, 4, 1}));  // capped at n_draft
  // Most recent earlier occurrence first.
  EXPECT_EQ(lk({5, 1, 9, 1, 7, 1}, 1, 1, 8), (std::vector<int32_t>{7, 1}));
  // Longest n-gram first: (1 2 3) at 0 wins over (2 3) at 4.
  EXPECT_EQ(lk({1, 2, 3, 9, 2, 3, 8, 1, 2, 3}, 1, 3, 2), (std::vector<int32_t>{9, 2}));
  EXPECT_EQ(lk({1, 2, 3, 9, 2, 3, 8, 1, 2, 3}, 1, 2, 2), (std::vector<int32_t>{8, 1}));
  // ngram_min bounds the fallback: only (3) would match here.
  EXPECT_EQ(lk({3, 5, 6, 4, 3}, 2, 3, 4), (std::vector<int32_t>{}));
  EXPECT_EQ(lk({3, 5, 6, 4, 3}, 1, 3, 4), (std::vector<int32_t>{5, 6, 4, 3}));
  // Nothing to match, degenerate inputs.
  EXPECT_TRUE(lk({1, 2, 3, 4}, 1, 3, 4).empty());
  EXPECT_TRUE(lk({}, 1, 3, 4).empty());
  EXPECT_TRUE(lk({7}, 1, 3, 4).empty());
  EXPECT_TRUE(lk({7, 7}, 1, 3, 0).empty());
  EXPECT_EQ(lk({7, 7}, 1, 3, 4), (std::vector<int32_t>{7}));
  EXPECT_TRUE(lookup_draft(nullptr, 0, 1, 3, 4).empty());
}

TEST(Verify, GreedyAcceptsExactlyTheArgmax) {
  const std::vector<float> logits = {0.5f, 2.0f, 1.9f, -1.0f};
  Sampler s(plain(0.0f), 4);
  for (int32_t d = 0; d < 4; ++d) {
    int32_t out = -1;
    bool acc = false;
    ASSERT_EQ(s.verify(logits.data(), d, nullptr, &out, &acc), "");
    EXPECT_EQ(out, 1);
    EXPECT_EQ(acc, d == 1);
  }
  // A draft distribution does not change a greedy target's choice.
  const std::vector<float> q = {0.0f, 0.1f, 0.9f, 0.0f};
  int32_t out = -1;
  bool acc = true;
  ASSERT_EQ(s.verify(logits.data(), 2, q.data(), &out, &acc), "");
  EXPECT_FALSE(acc);
  EXPECT_EQ(out, 1);
}

TEST(Verify, PointMassDraftKeepsTheTargetDistribution) {
  // Prompt lookup: q is a point mass on the draft. Whatever the draft, the
  // output must be distributed as p; the draft is accepted with p(d).
  const std::vector<float> logits = {1.0f, 0.2f, -0.5f, 1.5f, 0.0f};
  const auto p = softmax(logits, 0.7);
  for (int32_t d : {0, 2, 3}) {
    Sampler s(plain(0.7f, 100 + uint64_t(d)), 5);
    std::vector<int> h(5);
    int acc = 0;
    const int n = 40000;
    for (int i = 0; i < n; ++i) {
      int32_t out = -1;
      bool a = false;
      ASSERT_EQ(s.verify(logits.data(), d, nullptr, &out, &a), "");
      h[size_t(out)]++;
      acc += a;
      EXPECT_EQ(a, out == d);
    }
    EXPECT_LT(chi2(h, p, n), 18.47) << "draft " << d;  // chi2(4 dof) at p = 0.001
    EXPECT_NEAR(double(acc) / n, p[size_t(d)], 0.01) << "draft " << d;
  }
}

TEST(Verify, DraftModelDistributionKeepsTheTargetDistribution) {
  // A draft model: d ~ q, then verify with q. Output ~ p, acceptance rate
  // = sum_x min(p(x), q(x)) (Leviathan et al., Theorem 3.5).
  const std::vector<float> logits = {0.3f, 1.2f, -0.4f, 0.9f, 0.0f, -2.0f};
  const auto p = softmax(logits, 1.0);
  const std::vector<float> q = {0.05f, 0.10f, 0.40f, 0.05f, 0.30f, 0.10f};
  double expect_acc = 0;
  for (size_t i = 0; i < p.size(); ++i) expect_acc += std::min(p[i], double(q[i]));
  Sampler s(plain(1.0f, 99), 6);
  Rng draft_rng(5);
  std::vector<int> h(6);
  int acc = 0;
  const int n = 60000;
  for (int i = 0; i < n; ++i) {
    double u = draft_rng.uniform(), c = 0;
    int32_t d = 5;
    for (int32_t k = 0; k < 6; ++k)
      if (u < (c += q[size_t(k)])) {
        d = k;
        break;
      }
    int32_t out = -1;
    bool a = false;
    ASSERT_EQ(s.verify(logits.data(), d, q.data(), &out, &a), "");
    h[size_t(out)]++;
    acc += a;
  }
  EXPECT_LT(chi2(h, p, n), 20.52) << "output is not distributed as p";  // 5 dof, p = 0.001
  EXPECT_NEAR(double(acc) / n, expect_acc, 0.01);
}

TEST(Verify, TruncationComposes) {
  // top-k 2: p is the renormalized top two; a draft outside them has p = 0
  // and is always rejected, the replacement drawn from the top two.
  Params pr = plain(1.0f, 3);
  pr.top_k = 2;
  const std::vector<float> logits = {2.0f, 0.0f, 1.5f, 1.0f};
  const auto p2 = softmax({2.0f, 1.5f}, 1.0);
  Sampler s(pr, 4);
  std::vector<int> h(4);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    int32_t out = -1;
    bool a = true;
    ASSERT_EQ(s.verify(logits.data(), 3, nullptr, &out, &a), "");
    EXPECT_FALSE(a);
    h[size_t(out)]++;
  }
  EXPECT_LT(chi2(h, {p2[0], 0.0, p2[1], 0.0}, n), 10.83);  // 1 dof, p = 0.001
}

TEST(Verify, AcceptedTokensEnterThePenaltyHistory) {
  // With a repetition penalty the next row sees the accepted draft, exactly
  // as if sample() had chosen it.
  Params pr = plain(0.0f);
  pr.repeat_penalty = 100.0f;
  Sampler s(pr, 3);
  const std::vector<float> logits = {1.0f, 0.9f, 0.1f};
  int32_t out = -1;
  bool a = false;
  ASSERT_EQ(s.verify(logits.data(), 0, nullptr, &out, &a), "");
  EXPECT_TRUE(a);
  ASSERT_EQ(s.verify(logits.data(), 0, nullptr, &out, &a), "");  // 0 is now penalized
  EXPECT_FALSE(a);
  EXPECT_EQ(out, 1);
}

TEST(SampleProbs, WritesTheDistributionDrawnFrom) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f};
  Params pr = plain(0.5f, 11);
  pr.top_k = 3;
  Sampler s(pr, 4), twin(pr, 4);
  std::vector<float> probs(4);
  int32_t t = -1, t2 = -1;
  ASSERT_EQ(s.sample_probs(logits.data(), &t, probs.data()), "");
  ASSERT_EQ(twin.sample(logits.data(), &t2), "");
  EXPECT_EQ(t, t2);  // the same draw as sample()
  const auto p = softmax({0.0f, 1.0f, 2.0f}, 0.5);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(probs[size_t(i)], p[size_t(i)], 1e-6);
  EXPECT_EQ(probs[3], 0.0f);  // removed by top-k
  Sampler g(plain(0.0f), 4);
  ASSERT_EQ(g.sample_probs(logits.data(), &t, probs.data()), "");
  EXPECT_EQ(t, 2);
  EXPECT_EQ(probs, (std::vector<float>{0, 0, 1, 0}));
}
