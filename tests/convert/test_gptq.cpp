// Error-compensating rounding (convert/gptq.h) on synthetic linear layers:
// lower output error than nearest rounding on correlated inputs, codes on
// the FP8 grid, scales unchanged, degenerate second moments without NaN; and
// the calibration pass's second-moment accumulator (model/act_stats.h)
// against a plain double sum.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "convert/gptq.h"
#include "ggf8/fp8.h"
#include "model/act_stats.h"

using namespace f8conv;

namespace {

// x_t = z_t + 2 * (shared latent mixed into every input): strongly correlated
// columns, the case where compensation pays. [n, d] row-major.
std::vector<float> correlated_inputs(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const int64_t k = 4;  // latent factors
  std::vector<float> mix(size_t(k * d));
  for (float& m : mix) m = g(rng);
  std::vector<float> x(size_t(n * d));
  for (int64_t t = 0; t < n; ++t) {
    float lat[k];
    for (float& l : lat) l = g(rng);
    for (int64_t i = 0; i < d; ++i) {
      float v = 0.3f * g(rng);
      for (int64_t f = 0; f < k; ++f) v += lat[f] * mix[size_t(f * d + i)];
      x[size_t(t * d + i)] = v;
    }
  }
  return x;
}

std::vector<float> gram(const std::vector<float>& x, int64_t n, int64_t d) {
  std::vector<float> h(size_t(d * d));
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      double s = 0;
      for (int64_t t = 0; t < n; ++t) s += double(x[size_t(t * d + i)]) * x[size_t(t * d + j)];
      h[size_t(i * d + j)] = float(s);
    }
  return h;
}

std::vector<float> random_weights(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.05f);
  std::vector<float> w(size_t(rows * cols));
  for (float& v : w) v = g(rng);
  return w;
}

// Dequantized codes, with the scale layout of qr.
std::vector<float> dequant(const std::vector<uint8_t>& q, const QuantResult& qr, int64_t rows, int64_t cols) {
  std::vector<float> d(q.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      float s = qr.scales[0];
      if (qr.kind == ggf8::ScaleKind::Channel) s = qr.scales[size_t(r)];
      if (qr.kind == ggf8::ScaleKind::Block)
        s = qr.scales[size_t((r / qr.block_rows) * qr.scale_dims[1] + j / qr.block_cols)];
      const uint8_t c = q[size_t(r * cols + j)];
      d[size_t(r * cols + j)] = (qr.dtype == ggf8::DType::E4M3 ? ggf8::e4m3_to_f32(c) : ggf8::e5m2_to_f32(c)) * s;
    }
  return d;
}

bool valid_codes(const std::vector<uint8_t>& q, ggf8::DType dt) {
  for (uint8_t c : q) {
    const uint8_t m = c & 0x7F;
    if (dt == ggf8::DType::E4M3 ? m == 0x7F : m >= 0x7C) return false;  // NaN (E4M3), Inf/NaN (E5M2)
  }
  return true;
}

struct Case {
  WeightFormat fmt;
  ScaleMode mode;
  uint32_t block;
};

}  // namespace

TEST(Gptq, LowerOutputErrorThanNearestOnCorrelatedInputs) {
  // 200 columns: one full 128-column block and a partial one; 22 rows: a
  // partial group of four.
  const int64_t n = 400, rows = 22, cols = 200;
  const std::vector<float> x = correlated_inputs(n, cols, 7);
  const std::vector<float> H = gram(x, n, cols);
  const std::vector<float> w = random_weights(rows, cols, 11);
  ThreadPool pool(2);
  for (bool act_order : {false, true}) {
  SCOPED_TRACE(act_order ? "act order" : "natural order");
  RoundingFactor f;
  ASSERT_TRUE(rounding_factor("test", H.data(), cols, 0.01, pool, &f, act_order).ok());
  EXPECT_EQ(f.n, cols);
  EXPECT_EQ(f.perm.size(), act_order ? size_t(cols) : 0u);
  for (float v : f.p) ASSERT_TRUE(std::isfinite(v));
  for (const Case& c : {Case{WeightFormat::E4M3, ScaleMode::Channel, 128}, Case{WeightFormat::E4M3, ScaleMode::Block, 16},
                        Case{WeightFormat::E4M3, ScaleMode::Tensor, 128}, Case{WeightFormat::E5M2, ScaleMode::Channel, 128}}) {
    SCOPED_TRACE(std::string(weight_format_name(c.fmt)) + "/" + scale_mode_name(c.mode));
    SrcMatrix src{StDType::F32, reinterpret_cast<const uint8_t*>(w.data()), uint64_t(rows), uint64_t(cols)};
    std::vector<uint8_t> near, comp;
    QuantResult qn, qc;
    ASSERT_TRUE(quantize_matrix("w", src, c.fmt, c.mode, c.block, false, pool, &near, &qn).ok());
    comp = near;
    qc = qn;
    ASSERT_TRUE(round_compensated("w", src, f, pool, &comp, &qc).ok());
    EXPECT_EQ(qc.scales, qn.scales);  // the scales' meaning is unchanged
    EXPECT_EQ(qc.kind, qn.kind);
    EXPECT_TRUE(valid_codes(comp, qn.dtype));
    EXPECT_NE(comp, near);
    const double en = output_error(w.data(), dequant(near, qn, rows, cols).data(), rows, cols, H.data());
    const double ec = output_error(w.data(), dequant(comp, qc, rows, cols).data(), rows, cols, H.data());
    EXPECT_LT(ec, 0.8 * en) << "nearest " << en << " compensated " << ec;
    // Weight-space noise grows (the price of the output-space gain), but stays bounded.
    EXPECT_GE(qc.stats.noise, qn.stats.noise * 0.999);
    EXPECT_LT(qc.stats.noise, qn.stats.noise * 20);
    EXPECT_EQ(qc.stats.count, qn.stats.count);
  }
  }
}

TEST(Gptq, IdentitySecondMomentKeepsNearestCodes) {
  // Uncorrelated inputs of equal power: nothing to compensate, every code is
  // the nearest one (the factor is diagonal).
  const int64_t rows = 8, cols = 40;
  std::vector<float> H(size_t(cols * cols), 0.0f);
  for (int64_t i = 0; i < cols; ++i) H[size_t(i * cols + i)] = 3.0f;
  const std::vector<float> w = random_weights(rows, cols, 3);
  ThreadPool pool(1);
  RoundingFactor f;
  ASSERT_TRUE(rounding_factor("id", H.data(), cols, 0.01, pool, &f).ok());
  SrcMatrix src{StDType::F32, reinterpret_cast<const uint8_t*>(w.data()), uint64_t(rows), uint64_t(cols)};
  std::vector<uint8_t> near, comp;
  QuantResult qn, qc;
  ASSERT_TRUE(quantize_matrix("w", src, WeightFormat::E4M3, ScaleMode::Channel, 128, false, pool, &near, &qn).ok());
  comp = near;
  qc = qn;
  ASSERT_TRUE(round_compensated("w", src, f, pool, &comp, &qc).ok());
  EXPECT_EQ(comp, near);
  EXPECT_NEAR(qc.stats.noise, qn.stats.noise, 1e-9 * qn.stats.noise);  // summation order only
}

TEST(Gptq, DegenerateSecondMomentsNeverNaN) {
  const int64_t rows = 6, cols = 48, n = 64;
  ThreadPool pool(2);
  const std::vector<float> w = random_weights(rows, cols, 5);
  SrcMatrix src{StDType::F32, reinterpret_cast<const uint8_t*>(w.data()), uint64_t(rows), uint64_t(cols)};
  // (a) zero columns (dead inputs) and (b) constant inputs (every token the
  // same vector: H of rank one).
  std::vector<float> xa = correlated_inputs(n, cols, 9), xb(size_t(n * cols));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < cols; ++i) {
      if (i % 5 == 0) xa[size_t(t * cols + i)] = 0.0f;
      xb[size_t(t * cols + i)] = 0.5f + 0.01f * float(i);
    }
  for (const auto* x : {&xa, &xb}) {
    const std::vector<float> H = gram(*x, n, cols);
    RoundingFactor f;
    ASSERT_TRUE(rounding_factor("degenerate", H.data(), cols, 0.01, pool, &f).ok());
    for (float v : f.p) ASSERT_TRUE(std::isfinite(v));
    std::vector<uint8_t> q;
    QuantResult qr;
    ASSERT_TRUE(quantize_matrix("w", src, WeightFormat::E4M3, ScaleMode::Channel, 128, false, pool, &q, &qr).ok());
    ASSERT_TRUE(round_compensated("w", src, f, pool, &q, &qr).ok());
    EXPECT_TRUE(valid_codes(q, ggf8::DType::E4M3));
    for (float v : dequant(q, qr, rows, cols)) ASSERT_TRUE(std::isfinite(v));
    EXPECT_TRUE(std::isfinite(qr.stats.noise));
  }
  // All-zero and non-finite H: one error each, nothing produced.
  std::vector<float> zero(size_t(cols * cols), 0.0f), bad = gram(xa, n, cols);
  bad[3] = NAN;
  RoundingFactor f;
  EXPECT_FALSE(rounding_factor("zero", zero.data(), cols, 0.01, pool, &f).ok());
  EXPECT_FALSE(rounding_factor("nan", bad.data(), cols, 0.01, pool, &f).ok());
  EXPECT_FALSE(rounding_factor("damp", zero.data(), cols, 0.0, pool, &f).ok());
  // Not a second moment at all (negative pivots): the damping is raised
  // until the factorization works, with finite results...
  std::vector<float> neg(size_t(cols * cols), 0.0f);
  for (int64_t i = 0; i < cols; ++i) neg[size_t(i * cols + i)] = i == 0 ? 1e4f : -100.0f;
  ASSERT_TRUE(rounding_factor("blk.0.x", neg.data(), cols, 0.01, pool, &f).ok());
  EXPECT_EQ(f.retries, 2);
  for (float v : f.p) ASSERT_TRUE(std::isfinite(v));
  // ...or fails with one error naming it.
  for (int64_t i = 1; i < cols; ++i) neg[size_t(i * cols + i)] = -1e6f;
  ggf8::Status st = rounding_factor("blk.0.x", neg.data(), cols, 0.01, pool, &f);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message.find("blk.0.x"), std::string::npos);
}

TEST(Gptq, RefusesMismatchedInputs) {
  const int64_t rows = 4, cols = 16;
  ThreadPool pool(1);
  std::vector<float> H(size_t(cols * cols), 0.0f);
  for (int64_t i = 0; i < cols; ++i) H[size_t(i * cols + i)] = 1.0f;
  RoundingFactor f;
  ASSERT_TRUE(rounding_factor("h", H.data(), cols, 0.01, pool, &f).ok());
  const std::vector<float> w = random_weights(rows, cols + 1, 1);
  SrcMatrix src{StDType::F32, reinterpret_cast<const uint8_t*>(w.data()), uint64_t(rows), uint64_t(cols + 1)};
  std::vector<uint8_t> q;
  QuantResult qr;
  ASSERT_TRUE(quantize_matrix("w", src, WeightFormat::E4M3, ScaleMode::Channel, 128, false, pool, &q, &qr).ok());
  const std::vector<uint8_t> before = q;
  EXPECT_FALSE(round_compensated("w", src, f, pool, &q, &qr).ok());
  EXPECT_EQ(q, before);
  // A BF16 result is not FP8.
  std::vector<uint8_t> b;
  QuantResult qb;
  SrcMatrix s2{StDType::F32, reinterpret_cast<const uint8_t*>(w.data()), uint64_t(rows), uint64_t(cols)};
  ASSERT_TRUE(quantize_matrix("w", s2, WeightFormat::BF16, ScaleMode::Channel, 128, false, pool, &b, &qb).ok());
  EXPECT_FALSE(round_compensated("w", s2, f, pool, &b, &qb).ok());
}

TEST(SecondMoment, MatchesPlainSumAndSkipsNonFinite) {
  for (int64_t d : {1, 7, 33}) {
    const int64_t n = 13;  // not a multiple of four
    const std::vector<float> x = correlated_inputs(n, d, uint32_t(d));
    f8model::SecondMoment m;
    m.dim = d;
    m.add(x.data(), 5);
    m.add(x.data() + 5 * d, n - 5);
    std::vector<float> bad(size_t(d), 1.0f);
    bad[0] = INFINITY;
    m.add(bad.data(), 1);  // skipped
    m.symmetric();
    EXPECT_EQ(m.tokens, uint64_t(n));
    const std::vector<float> ref = gram(x, n, d);
    for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(m.xtx[i], ref[i], 1e-4 * (1 + std::fabs(ref[i]))) << d << " " << i;
  }
  // Through ActStats: the histogram feeds its site's moment.
  f8model::ActStats as;
  as.reset(2, 1, 4);
  as.enable_moments({3, 3, 3, 5});
  const float v[6] = {1, 2, 3, 4, 5, 6};
  as.site[1][f8model::kSiteAttnIn].add(v, 6);
  f8model::SecondMoment& m = as.moment[1][f8model::kSiteAttnIn];
  m.symmetric();
  EXPECT_EQ(m.tokens, 2u);
  EXPECT_FLOAT_EQ(m.xtx[0], 1 + 16);
  EXPECT_FLOAT_EQ(m.xtx[1 * 3 + 2], 2 * 3 + 5 * 6);
  EXPECT_EQ(as.moment[0][f8model::kSiteAttnIn].tokens, 0u);
}
