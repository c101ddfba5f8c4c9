// Sampler chain: PRNG known answers, seeded determinism, distribution
// sanity (chi-square against softmax), exact truncation sets, penalties
// against a straightforward reference, and edge values that must never
// produce NaN or crash.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "sampling/sampler.h"

using f8::sampling::Params;
using f8::sampling::Rng;
using f8::sampling::Sampler;

namespace {

Params plain(float temp = 1.0f) {
  Params p;
  p.temperature = temp;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 1234;
  return p;
}

std::vector<int> histogram(Sampler& s, const std::vector<float>& logits, int draws) {
  std::vector<int> h(logits.size());
  for (int i = 0; i < draws; ++i) {
    int32_t t = -1;
    EXPECT_EQ(s.sample(logits.data(), &t), "");
    h[size_t(t)]++;
  }
  return h;
}

// Pearson chi-square of observed counts against expected probabilities.
double chi2(const std::vector<int>& h, const std::vector<double>& p, int draws) {
  double c = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    double e = p[i] * draws;
    if (e > 0) c += (h[i] - e) * (h[i] - e) / e;
    else EXPECT_EQ(h[i], 0) << "token " << i << " has probability 0 but was drawn";
  }
  return c;
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

std::set<int> drawn(Sampler& s, const std::vector<float>& logits, int draws) {
  std::set<int> out;
  for (int i = 0; i < draws; ++i) {
    int32_t t;
    EXPECT_EQ(s.sample(logits.data(), &t), "");
    out.insert(t);
  }
  return out;
}

}  // namespace

TEST(Rng, Xoshiro256StarStarKnownAnswers) {
  // Reference values from an independent Python transcription of
  // splitmix64 seeding + xoshiro256** 1.0, seed 42.
  Rng r(42);
  EXPECT_EQ(r.next(), 0x15780b2e0c2ec716ull);
  EXPECT_EQ(r.next(), 0x6104d9866d113a7eull);
  EXPECT_EQ(r.next(), 0xae17533239e499a1ull);
  EXPECT_EQ(r.next(), 0xecb8ad4703b360a1ull);
  for (int i = 0; i < 1000; ++i) {
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(Sampler, SeededDeterminism) {
  std::vector<float> logits(1000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = float(std::sin(double(i) * 0.37) * 3);
  Params p;  // defaults: temp 0.8, top-k 40, top-p 0.95, min-p 0.05
  p.seed = 7;
  p.repeat_penalty = 1.1f;
  Sampler a(p, 1000), b(p, 1000);
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 500; ++i) {
    int32_t x, y;
    ASSERT_EQ(a.sample(logits.data(), &x), "");
    ASSERT_EQ(b.sample(logits.data(), &y), "");
    sa.push_back(x);
    sb.push_back(y);
  }
  EXPECT_EQ(sa, sb);
  a.reset();
  for (int i = 0; i < 500; ++i) {
    int32_t x;
    ASSERT_EQ(a.sample(logits.data(), &x), "");
    ASSERT_EQ(x, sa[size_t(i)]) << "reset() must replay the same sequence";
  }
  p.seed = 8;
  Sampler c(p, 1000);
  std::vector<int32_t> sc;
  for (int i = 0; i < 500; ++i) {
    int32_t x;
    ASSERT_EQ(c.sample(logits.data(), &x), "");
    sc.push_back(x);
  }
  EXPECT_NE(sa, sc);
}

TEST(Sampler, DistributionMatchesSoftmax) {
  std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 0.0f, 2.5f, -0.5f};
  const int draws = 200000;
  // df = 7: chi-square above 24.3 has probability 0.001 under the null.
  for (double t : {1.0, 0.5, 2.0}) {
    Sampler s(plain(float(t)), int32_t(logits.size()));
    auto h = histogram(s, logits, draws);
    double c = chi2(h, softmax(logits, t), draws);
    EXPECT_LT(c, 24.3) << "temperature " << t;
  }
}

TEST(Sampler, TopKKeepsExactlyTheKLargest) {
  std::vector<float> logits = {0.1f, 0.9f, 0.3f, 0.8f, 0.2f, 0.7f};
  Params p = plain();
  p.top_k = 3;
  Sampler s(p, 6);
  EXPECT_EQ(drawn(s, logits, 5000), (std::set<int>{1, 3, 5}));
  // Ties at the boundary: lower id wins.
  std::vector<float> ties = {1.0f, 1.0f, 1.0f, 1.0f};
  p.top_k = 2;
  Sampler t(p, 4);
  EXPECT_EQ(drawn(t, ties, 2000), (std::set<int>{0, 1}));
  // Within top-k the distribution is the renormalized softmax.
  p.top_k = 3;
  Sampler u(p, 6);
  auto h = histogram(u, logits, 100000);
  std::vector<float> kept = {-INFINITY, 0.9f, -INFINITY, 0.8f, -INFINITY, 0.7f};
  std::vector<double> q = softmax({0.9f, 0.8f, 0.7f}, 1.0);
  std::vector<double> full = {0, q[0], 0, q[1], 0, q[2]};
  EXPECT_LT(chi2(h, full, 100000), 13.8);  // df = 2, p = 0.001
}

TEST(Sampler, TopPKeepsTheSmallestPrefix) {
  // probs 0.5, 0.3, 0.15, 0.05
  std::vector<float> logits = {std::log(0.3f), std::log(0.05f), std::log(0.5f), std::log(0.15f)};
  Params p = plain();
  p.top_p = 0.75f;
  Sampler a(p, 4);
  EXPECT_EQ(drawn(a, logits, 5000), (std::set<int>{0, 2}));
  p.top_p = 0.85f;
  Sampler b(p, 4);
  EXPECT_EQ(drawn(b, logits, 5000), (std::set<int>{0, 2, 3}));
  p.top_p = 0.0f;  // keeps exactly the top token
  Sampler c(p, 4);
  EXPECT_EQ(drawn(c, logits, 1000), (std::set<int>{2}));
  p.top_p = 1.0f;  // off
  Sampler d(p, 4);
  EXPECT_EQ(drawn(d, logits, 20000), (std::set<int>{0, 1, 2, 3}));
}

TEST(Sampler, MinPKeepsTokensAboveTheScaledMax) {
  std::vector<float> logits = {std::log(0.3f), std::log(0.05f), std::log(0.5f), std::log(0.15f)};
  Params p = plain();
  p.min_p = 0.4f;  // threshold 0.2
  Sampler a(p, 4);
  EXPECT_EQ(drawn(a, logits, 5000), (std::set<int>{0, 2}));
  p.min_p = 1.0f;  // only the max (and exact ties)
  Sampler b(p, 4);
  EXPECT_EQ(drawn(b, logits, 2000), (std::set<int>{2}));
  std::vector<float> ties = {2.0f, 1.0f, 2.0f};
  Sampler c(p, 3);
  EXPECT_EQ(drawn(c, ties, 2000), (std::set<int>{0, 2}));
}

TEST(Sampler, PenaltiesMatchReference) {
  const int n = 50;
  std::vector<float> logits(n);
  for (int i = 0; i < n; ++i) logits[size_t(i)] = float(i % 7) - 3.0f + 0.01f * float(i);
  Params p = plain();
  p.repeat_penalty = 1.3f;
  p.frequency_penalty = 0.25f;
  p.presence_penalty = 0.5f;
  p.penalty_last_n = 6;
  p.logit_bias = {{3, 1.5f}, {10, -INFINITY}};
  Sampler s(p, n);
  std::vector<int32_t> hist = {1, 2, 2, 9, 40, 3, 3, 3, 5};  // window keeps the last 6: 9 40 3 3 3 5
  for (int32_t t : hist) s.accept(t);
  int32_t tok;
  ASSERT_EQ(s.sample(logits.data(), &tok), "");
  // Reference, written out the obvious way.
  std::map<int, int> count;
  for (size_t i = hist.size() - 6; i < hist.size(); ++i) count[hist[i]]++;
  std::vector<float> want = logits;
  want[3] += 1.5f;
  want[10] = -INFINITY;
  for (auto [t, c] : count) {
    float& x = want[size_t(t)];
    x = x > 0 ? x / 1.3f : x * 1.3f;
    x -= float(c) * 0.25f + 0.5f;
  }
  const auto& got = s.processed_logits();
  for (int i = 0; i < n; ++i) EXPECT_FLOAT_EQ(got[size_t(i)], want[size_t(i)]) << "token " << i;
  EXPECT_NE(tok, 10);
}

TEST(Sampler, GreedyAndPenaltyFlipTheArgmax) {
  std::vector<float> logits = {1.0f, 5.0f, 4.9f};
  Params p = plain(0.0f);
  Sampler g(p, 3);
  int32_t t;
  ASSERT_EQ(g.sample(logits.data(), &t), "");
  EXPECT_EQ(t, 1);
  p.repeat_penalty = 1.1f;  // 5.0 / 1.1 = 4.55 < 4.9
  Sampler h(p, 3);
  h.accept(1);
  ASSERT_EQ(h.sample(logits.data(), &t), "");
  EXPECT_EQ(t, 2);
}

TEST(Sampler, EdgeValuesNeverNaN) {
  const int n = 64;
  std::vector<float> logits(n);
  for (int i = 0; i < n; ++i) logits[size_t(i)] = float((i * 37) % 17) - 8.0f + 0.001f * float(i);  // distinct
  struct Case {
    const char* name;
    Params p;
  };
  std::vector<Case> cases;
  auto add = [&](const char* name, auto f) {
    Params p = Params{};
    p.seed = 99;
    f(p);
    cases.push_back({name, p});
  };
  add("temp 0", [](Params& p) { p.temperature = 0; });
  add("temp 1e-9", [](Params& p) { p.temperature = 1e-9f; });
  add("temp 1e-30 no trunc", [](Params& p) { p.temperature = 1e-30f; p.top_k = 0; p.top_p = 1; p.min_p = 0; });
  add("temp 1e30", [](Params& p) { p.temperature = 1e30f; });
  add("top_p 0", [](Params& p) { p.top_p = 0; });
  add("top_p 1", [](Params& p) { p.top_p = 1; });
  add("top_p 7 (clamped)", [](Params& p) { p.top_p = 7; });
  add("top_k 0", [](Params& p) { p.top_k = 0; });
  add("top_k 1", [](Params& p) { p.top_k = 1; });
  add("top_k huge", [](Params& p) { p.top_k = 1 << 30; });
  add("top_k negative", [](Params& p) { p.top_k = -5; });
  add("min_p 1", [](Params& p) { p.min_p = 1; });
  add("min_p -3 (clamped)", [](Params& p) { p.min_p = -3; });
  add("repeat 1e30", [](Params& p) { p.repeat_penalty = 1e30f; p.penalty_last_n = -1; });
  add("repeat 1e-30", [](Params& p) { p.repeat_penalty = 1e-30f; });
  add("freq/presence huge", [](Params& p) { p.frequency_penalty = 3e38f; p.presence_penalty = -3e38f; });
  add("bias huge", [](Params& p) { p.logit_bias = {{5, 3e38f}, {6, -3e38f}}; });
  for (auto& c : cases) {
    ASSERT_EQ(Sampler::validate(c.p, n), "") << c.name;
    Sampler s(c.p, n);
    for (int i = 0; i < n; ++i) s.accept(i);
    for (int k = 0; k < 200; ++k) {
      int32_t t = -1;
      ASSERT_EQ(s.sample(logits.data(), &t), "") << c.name;
      ASSERT_GE(t, 0) << c.name;
      ASSERT_LT(t, n) << c.name;
      for (float x : s.processed_logits()) ASSERT_FALSE(std::isnan(x)) << c.name;
    }
  }
  // temp 0 and top_k 1 and top_p 0 and min_p 1 are all greedy here.
  for (const char* greedy : {"temp 0", "top_k 1", "top_p 0", "min_p 1", "temp 1e-30 no trunc"}) {
    for (auto& c : cases) {
      if (std::string(c.name) != greedy) continue;
      Sampler s(c.p, n);
      int32_t t;
      ASSERT_EQ(s.sample(logits.data(), &t), "");
      size_t best = 0;
      for (size_t i = 1; i < logits.size(); ++i)
        if (logits[i] > logits[best]) best = i;
      EXPECT_EQ(size_t(t), best) << greedy;
    }
  }
}

TEST(Sampler, BiasMinusInfForAllButOne) {
  const int n = 100;
  std::vector<float> logits(n, 10.0f);
  logits[42] = -50.0f;
  Params p = plain();
  for (int i = 0; i < n; ++i)
    if (i != 42) p.logit_bias.push_back({i, -INFINITY});
  Sampler s(p, n);
  for (int k = 0; k < 100; ++k) {
    int32_t t;
    ASSERT_EQ(s.sample(logits.data(), &t), "");
    EXPECT_EQ(t, 42);
  }
  p.logit_bias.push_back({42, -INFINITY});
  Sampler all(p, n);
  int32_t t;
  EXPECT_NE(all.sample(logits.data(), &t), "");  // every token banned: an error, not a guess
}

TEST(Sampler, BadLogitsAreErrors) {
  Sampler s(plain(), 4);
  int32_t t;
  std::vector<float> nan = {0.0f, NAN, 1.0f, 2.0f};
  EXPECT_NE(s.sample(nan.data(), &t).find("NaN"), std::string::npos);
  std::vector<float> inf = {0.0f, INFINITY, 1.0f, 2.0f};
  EXPECT_NE(s.sample(inf.data(), &t), "");
  std::vector<float> ninf(4, -INFINITY);
  EXPECT_NE(s.sample(ninf.data(), &t).find("-inf"), std::string::npos);
  std::vector<float> one = {-INFINITY, -INFINITY, 3.0f, -INFINITY};
  ASSERT_EQ(s.sample(one.data(), &t), "");
  EXPECT_EQ(t, 2);
}

TEST(Sampler, InvalidParamsAreRejected) {
  auto bad = [](auto f) {
    Params p;
    f(p);
    return Sampler::validate(p, 10);
  };
  EXPECT_NE(bad([](Params& p) { p.temperature = NAN; }), "");
  EXPECT_NE(bad([](Params& p) { p.temperature = -1; }), "");
  EXPECT_NE(bad([](Params& p) { p.temperature = INFINITY; }), "");
  EXPECT_NE(bad([](Params& p) { p.top_p = NAN; }), "");
  EXPECT_NE(bad([](Params& p) { p.min_p = NAN; }), "");
  EXPECT_NE(bad([](Params& p) { p.repeat_penalty = 0; }), "");
  EXPECT_NE(bad([](Params& p) { p.repeat_penalty = -2; }), "");
  EXPECT_NE(bad([](Params& p) { p.frequency_penalty = INFINITY; }), "");
  EXPECT_NE(bad([](Params& p) { p.presence_penalty = NAN; }), "");
  EXPECT_NE(bad([](Params& p) { p.penalty_last_n = -2; }), "");
  EXPECT_NE(bad([](Params& p) { p.logit_bias = {{10, 1.0f}}; }), "");
  EXPECT_NE(bad([](Params& p) { p.logit_bias = {{-1, 1.0f}}; }), "");
  EXPECT_NE(bad([](Params& p) { p.logit_bias = {{1, INFINITY}}; }), "");
  EXPECT_NE(bad([](Params& p) { p.logit_bias = {{1, NAN}}; }), "");
  EXPECT_EQ(bad([](Params& p) { p.logit_bias = {{1, -INFINITY}}; }), "");
  Params ok;
  EXPECT_NE(Sampler::validate(ok, 0), "");
}
