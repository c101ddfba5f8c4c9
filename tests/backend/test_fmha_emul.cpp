// test_fmha_emul.cpp — the CPU emulation of FP8 FMHA (cpu/fmha_emul.cpp):
// against FP32 attention over the same FP8 cache (the error FP8 Q and P
// add, stated below), cpu-simd == cpu-ref bit for bit, chunked prefill of
// several sequences of different lengths in one batch, GQA, sliding window,
// softcap, attention sinks, and the rule that decides when the model uses it.
#include "backend_test_util.h"

#include <cmath>

#include "kernels/fmha_math.h"

using namespace f8test;

namespace {

struct Fx {
  std::unique_ptr<Backend> be;
  std::unique_ptr<Stream> st;
  std::unique_ptr<KVCache> kv;
  int D, H, KVH;
};

// A cache with seq 0 (lens[0] tokens) and seq 1 (lens[1]) stored in
// interleaved batches, K/V with per-channel spread like real post-RoPE keys.
Fx make_setup(const std::string& name, int D, int H, int KVH, const int lens[2], const std::string& isa = "auto") {
  Fx s{make(name, isa), nullptr, nullptr, D, H, KVH};
  s.st = stream(*s.be, 2, 512, 4096);
  KVCacheParams p;
  p.n_layers = 1;
  p.n_cells = 1024;
  p.n_kv_heads = KVH;
  p.head_dim = D;
  p.dtype = DType::E4M3;
  p.k_scale = {6.0f / 448.0f};
  p.v_scale = {3.0f / 448.0f};
  EXPECT_TRUE(s.be->create_kv_cache(p, &s.kv).ok());
  std::vector<int32_t> seq, pos;
  for (int t = 0; t < std::max(lens[0], lens[1]); t += 32)
    for (int q = 0; q < 2; ++q)
      for (int i = t; i < std::min(t + 32, lens[q]); ++i) seq.push_back(q), pos.push_back(i);
  const int n = static_cast<int>(seq.size());
  std::vector<int32_t> cells(n);
  EXPECT_TRUE(s.kv->alloc_cells(n, seq.data(), pos.data(), cells.data()).ok());
  auto k = randn(size_t(n) * KVH * D, 11, 1.0f), v = randn(size_t(n) * KVH * D, 12, 1.0f);
  for (size_t i = 0; i < k.size(); ++i) k[i] *= 1.0f + 2.0f * float((i % D) % 7 == 0);  // outlier channels
  s.st->kv_store(*s.kv, 0, k.data(), v.data(), cells.data(), n);
  return s;
}

struct Batch {
  std::vector<int32_t> seq, pos;
  std::vector<float> q;
};
// Chunked prefill: the last `a` positions of seq 0 and `b` of seq 1, in one batch.
Batch make_batch(const int lens[2], int a, int b, int H, int D) {
  Batch x;
  for (int i = lens[0] - a; i < lens[0]; ++i) x.seq.push_back(0), x.pos.push_back(i);
  for (int i = lens[1] - b; i < lens[1]; ++i) x.seq.push_back(1), x.pos.push_back(i);
  x.q = randn(x.seq.size() * H * D, 13, 1.5f);
  return x;
}

AttnBatch attn_batch(const Batch& x, int H, int D, bool fmha) {
  AttnBatch ab;
  ab.n_tokens = static_cast<int32_t>(x.seq.size());
  ab.seq = x.seq.data();
  ab.pos = x.pos.data();
  ab.n_heads = H;
  ab.scale = 1.0f / std::sqrt(float(D));
  ab.fp8_fmha = fmha;
  return ab;
}

// Relative RMS error of got against ref.
double rel_rms(const std::vector<float>& got, const std::vector<float>& ref) {
  double e = 0, r = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    e += (double(got[i]) - ref[i]) * (double(got[i]) - ref[i]);
    r += double(ref[i]) * ref[i];
  }
  return std::sqrt(e / std::max(r, 1e-30));
}

// FP8 FMHA against FP32 attention over the same FP8 cache. Measured
// (this test's data, 2026-11-30): relative RMS error 1.17-1.25% for D 64,
// 128 and 256, the largest |error| 0.085-0.11 of the output's RMS (with Q as
// one E4M3 term instead of two it was 3.9-4.3% and 0.32-0.53: random V makes
// the outputs small averages, so the softmax weights' relative error shows
// through whole). The bounds leave ~1.6x. Real-text quality: docs/cuda.md.
TEST(FmhaEmul, CloseToFp32Attention) {
  const int lens[2] = {300, 150};
  for (int D : {64, 128, 256})
    for (int H : {8, 4}) {
      const int KVH = 2;
      auto s = make_setup("cpu-ref", D, H, KVH, lens);
      const Batch x = make_batch(lens, 130, 70, H, D);
      std::vector<float> f32(x.q.size()), f8(x.q.size());
      s.st->attention(*s.kv, 0, x.q.data(), attn_batch(x, H, D, false), f32.data());
      s.st->attention(*s.kv, 0, x.q.data(), attn_batch(x, H, D, true), f8.data());
      const double e = rel_rms(f8, f32);
      double mx = 0, rr = 0;
      for (size_t i = 0; i < f8.size(); ++i) mx = std::max(mx, std::fabs(double(f8[i]) - f32[i])), rr += double(f32[i]) * f32[i];
      rr = std::sqrt(rr / f8.size());
      RecordProperty("rel_rms_D" + std::to_string(D) + "_H" + std::to_string(H), std::to_string(e));
      std::printf("D %3d H %d: FP8 FMHA vs FP32 attention: rel RMS %.4f, max |err| / RMS %.4f\n", D, H, e, mx / rr);
      EXPECT_LT(e, 0.02) << "D " << D << " H " << H;
      EXPECT_LT(mx / rr, 0.18) << "D " << D << " H " << H;
      EXPECT_GT(e, 0.0);  // it really is the FP8 path
    }
}

TEST(FmhaEmul, SimdEqualsRefExactly) {
  const int lens[2] = {200, 97};
  for (const auto& isa : cpu_isas()) {
    auto r = make_setup("cpu-ref", 128, 8, 2, lens);
    auto s = make_setup("cpu-simd", 128, 8, 2, lens, isa);
    const Batch x = make_batch(lens, 100, 40, 8, 128);
    // gpt-oss sinks per head: below, near and above the scores.
    const std::vector<float> sinks = {-3.0f, 0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 6.0f, 0.5f};
    for (int32_t window : {0, 33})
      for (float cap : {0.0f, 8.0f})
        for (bool sk : {false, true}) {
          AttnBatch ab = attn_batch(x, 8, 128, true);
          ab.window = window;
          ab.softcap = cap;
          if (sk) ab.sinks = sinks.data();
          std::vector<float> a(x.q.size()), b(x.q.size(), -1.0f);
          r.st->attention(*r.kv, 0, x.q.data(), ab, a.data());
          s.st->attention(*s.kv, 0, x.q.data(), ab, b.data());
          ASSERT_EQ(a, b) << isa << " window " << window << " softcap " << cap << " sinks " << sk;
          // and the FP32 path with the same window/cap/sinks stays close
          ab.fp8_fmha = false;
          std::vector<float> c(x.q.size());
          r.st->attention(*r.kv, 0, x.q.data(), ab, c.data());
          EXPECT_LT(rel_rms(a, c), 0.02) << "window " << window << " softcap " << cap << " sinks " << sk;
        }
  }
}

// Step by step for one row: the emulation equals a direct transcription of
// the data flow in kernels/fmha_math.h (Q codes, folded scale, per-page
// online softmax with P codes), which pins the order of operations the
// kernel must follow.
TEST(FmhaEmul, MatchesTheDocumentedDataFlow) {
  const int lens[2] = {150, 10};
  const int D = 64, H = 2;
  auto s = make_setup("cpu-ref", D, H, 1, lens);
  Batch x;
  x.seq = {0};
  x.pos = {149};
  x.q = randn(H * D, 21, 2.0f);
  std::vector<float> got(H * D);
  s.st->attention(*s.kv, 0, x.q.data(), attn_batch(x, H, D, true), got.data());
  // Read the cache back through single-cell attention is not possible for
  // codes, so rebuild K/V codes from the same inputs make_setup used.
  std::vector<int32_t> seq, pos;
  for (int t = 0; t < 150; t += 32)
    for (int q = 0; q < 2; ++q)
      for (int i = t; i < std::min(t + 32, lens[q]); ++i) seq.push_back(q), pos.push_back(i);
  const int n = static_cast<int>(seq.size());
  auto k = randn(size_t(n) * D, 11, 1.0f), v = randn(size_t(n) * D, 12, 1.0f);
  for (size_t i = 0; i < k.size(); ++i) k[i] *= 1.0f + 2.0f * float((i % D) % 7 == 0);
  const float ks = 6.0f / 448.0f, vs = 3.0f / 448.0f;
  // seq 0's tokens in cache order; pages: the cache put seq 0 in pages of its own,
  // position order, 64 per page.
  std::vector<int> rows;
  for (int i = 0; i < n; ++i)
    if (seq[i] == 0) rows.push_back(i);
  namespace fm = f8k::fmha;
  for (int h = 0; h < H; ++h) {
    const float* qr = x.q.data() + h * D;
    float amax = 0;
    for (int d = 0; d < D; ++d) amax = std::max(amax, std::fabs(qr[d]));
    const float qs = fm::q_scale(amax), kmul = fm::k_mul(1.0f / 8.0f, ks);
    float ramax = 0;
    for (int d = 0; d < D; ++d) ramax = std::max(ramax, std::fabs(fm::q_residual(qr[d], fm::q_code(qr[d], qs), qs)));
    const float rs = fm::q_scale(ramax);
    float m = -INFINITY, l = 0;
    std::vector<float> acc(D, 0.0f), qv(D), qlo(D), kv(D);
    for (int d = 0; d < D; ++d) {
      qv[d] = ggf8::e4m3_to_f32(fm::q_code(qr[d], qs));
      qlo[d] = ggf8::e4m3_to_f32(fm::q_code(fm::q_residual(qr[d], fm::q_code(qr[d], qs), qs), rs));
    }
    for (size_t p0 = 0; p0 < rows.size(); p0 += fm::kPage) {
      const size_t p1 = std::min(rows.size(), p0 + fm::kPage);
      std::vector<float> s2;
      float mb = -INFINITY;
      for (size_t j = p0; j < p1; ++j) {
        for (int d = 0; d < D; ++d) kv[d] = ggf8::e4m3_to_f32(ggf8::e4m3_from_f32_div(k[size_t(rows[j]) * D + d], ks));
        s2.push_back(fm::score(fm::dot_lanes(qv.data(), kv.data(), D), fm::dot_lanes(qlo.data(), kv.data(), D),
                               fm::row_mul(qs, kmul), fm::row_mul(rs, kmul), 0.0f));
        mb = std::max(mb, s2.back());
      }
      const float mn = std::max(m, mb), corr = f8k::attn::rescale(m, mn);
      l *= corr;
      for (auto& a : acc) a *= corr;
      float lsum = 0;
      std::vector<float> st(D, 0.0f);
      for (size_t j = p0; j < p1; ++j) {
        const float pv = fm::p_value(fm::p_code(s2[j - p0], mn));
        if (pv == 0.0f) continue;
        lsum += pv;
        for (int d = 0; d < D; ++d)
          st[d] += pv * ggf8::e4m3_to_f32(ggf8::e4m3_from_f32_div(v[size_t(rows[j]) * D + d], vs));
      }
      l += lsum;
      for (int d = 0; d < D; ++d) acc[d] += st[d];
      m = mn;
    }
    for (int d = 0; d < D; ++d) ASSERT_EQ(got[h * D + d], f8k::attn::finalize(acc[d], l, vs)) << h << " " << d;
  }
}

TEST(FmhaEmul, UsedOnlyWhereTheKernelRuns) {
  using f8backend::use_fp8_fmha;
  EXPECT_TRUE(use_fp8_fmha(true, true, DType::E4M3, 128, 512));
  EXPECT_TRUE(use_fp8_fmha(true, true, DType::E4M3, 64, f8backend::kFmhaMinTokens));
  EXPECT_FALSE(use_fp8_fmha(true, true, DType::E4M3, 128, f8backend::kFmhaMinTokens - 1));  // decode: FP32
  EXPECT_FALSE(use_fp8_fmha(true, false, DType::E4M3, 128, 512));   // CPU default: FP32 activations
  EXPECT_FALSE(use_fp8_fmha(false, true, DType::E4M3, 128, 512));   // F8_FP8_ATTENTION=0
  EXPECT_FALSE(use_fp8_fmha(true, true, DType::E5M2, 128, 512));
  EXPECT_FALSE(use_fp8_fmha(true, true, DType::BF16, 128, 512));
  EXPECT_FALSE(use_fp8_fmha(true, true, DType::E4M3, 96, 512));     // Phi-3's head dim
  for (int d = 1; d <= 512; ++d)
    EXPECT_EQ(use_fp8_fmha(true, true, DType::E4M3, d, 512), f8k::fmha::head_dim_ok(d)) << d;
}

}  // namespace
