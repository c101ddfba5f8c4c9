// kernels/fmha_math.h — the numerics of FP8 fused attention (FMHA), shared
// by the CUDA kernel (kernels/fmha_fp8.cu), the CPU emulation the
// --emulate-gpu path runs (src/backend/cpu/fmha_emul.cpp) and the CPU test
// that replays the kernel lane by lane (tests/backend/test_cuda_fmha_layout.cpp).
// Plain C++ unless compiled by nvcc, where every function is also __device__.
//
// Data flow for one query row r = (token t, head h) and the cells it sees
// (a page of kPage cells per step, pages in ascending page order of the
// token's sequence's page list; scores in the log2 domain as attn_math.h):
//   Q:  two E4M3 terms, each with its own scale per row:
//         qs = max(amax(q) / 448, tiny);  hi = e4m3(q / qs)
//         r  = q - value(hi) * qs;        rs = max(amax(r) / 448, tiny);  lo = e4m3(r / rs)
//   S:  s2[c] = dot(hi, k8[c]) * row_mul(qs) + dot(lo, k8[c]) * row_mul(rs)
//       dot: FP8 x FP8 products, FP32 sum (two MMAs per k-step on the GPU);
//       row_mul(s) = s * (softmax_scale * k_scale * log2 e): the K scale and
//       softmax scale fold into one multiplier per term; softcap applies to s2.
//       Why two terms: with Q as one E4M3 term (3 mantissa bits) the score
//       error grows with the score, and attention scores are large: on
//       SmolLM2-135M and KJV text (docs/cuda.md) one-term Q raised the KL to
//       the BF16 model from 0.024 (FP32 attention over the same FP8 cache)
//       to 0.037, while the second term brings it back to 0.024 (and FP8 P
//       alone costs nothing measurable). It doubles the Q.K tensor-core work
//       (attention FLOPs x1.5), still FP8 rate.
//   online softmax per step:  m' = max(m, max_c s2[c]);  corr = exp2(m - m')
//   P:  p8[c] = e4m3(exp2(s2[c] - m') * 256)   (fixed scale 2^8: p in [0, 1]
//       maps to [0, 256], inside E4M3's range, the small ones keep 3 bits)
//       l = l * corr + sum_c p(c),  p(c) = value of p8[c] (the quantized P:
//       the "row sum correction", so the weights P.V uses sum exactly to l)
//       acc[d] = acc[d] * corr + sum_c p(c) * v8[c][d]   (FP8 x FP8, FP32 sum)
//   out[d] = acc[d] / l * v_scale   (the 256 of P cancels between acc and l)
// The kernel computes dot and the P.V sums on tensor cores
// (mma.sync.m16n8k32.e4m3.e4m3.f32); the emulation sums in FP32 in a fixed
// order (dot_lanes; P.V per page, then added to acc), so the two agree to
// FP32 accumulation error and, where an exp2 lands next to an E4M3
// rounding boundary, one P code step.
#pragma once

#include <cstdint>

#include "ggf8/fp8.h"
#include "kernels/attn_math.h"

namespace f8k {
namespace fmha {

constexpr int kPage = 64;         // cells per step (= KvCells::kPage)
constexpr int kRows = 64;         // query rows (tokens of one head) per CUDA block: 4 warps x 16
constexpr int kWarps = 4;
constexpr float kPScale = 256.0f; // P is stored as e4m3(p * 256)
constexpr float kQTiny = 1.0f / (448.0f * 512.0f);  // = backend kActScaleTiny

// Head dims the FP8 FMHA kernel runs: whole 64-byte k-chunks of Q and K.
F8K_HD bool head_dim_ok(int32_t d) { return d == 64 || d == 128 || d == 256; }

// Q row scale from the row's absolute maximum (dynamic, per token and head).
F8K_HD float q_scale(float amax) {
  const float s = amax / ggf8::kE4M3Max;
  return s > kQTiny ? s : kQTiny;
}
// One Q element: satfinite(rne(q / qs)), exactly as act_quant does.
F8K_HD uint8_t q_code(float q, float qs) { return ggf8::e4m3_from_f32_div(q, qs); }
// What the first term leaves of q: q - value(hi) * qs, each step rounded.
F8K_HD float q_residual(float q, uint8_t hi, float qs) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(q, __fmul_rn(ggf8::e4m3_to_f32(hi), qs));
#else
  volatile float t = ggf8::e4m3_to_f32(hi) * qs;
  return q - t;
#endif
}

// The per-row multiplier from an FP32 dot product of codes to a log2-domain
// score: qs * k_mul with k_mul = softmax_scale * k_scale * log2 e, each
// product rounded separately (the kernel and the emulation compute it the
// same way).
F8K_HD float k_mul(float softmax_scale, float k_scale) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(__fmul_rn(softmax_scale, k_scale), attn::kLog2e);
#else
  volatile float a = softmax_scale * k_scale;
  return a * attn::kLog2e;
#endif
}
F8K_HD float row_mul(float qs, float kmul) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(qs, kmul);
#else
  volatile float a = qs * kmul;
  return a;
#endif
}
// Score of a visible cell from the FP32 dot products of the two Q terms' codes.
F8K_HD float score(float dot_hi, float dot_lo, float rmul_hi, float rmul_lo, float softcap) {
#if defined(__CUDA_ARCH__)
  return attn::softcap_log2(__fadd_rn(__fmul_rn(dot_hi, rmul_hi), __fmul_rn(dot_lo, rmul_lo)), softcap);
#else
  volatile float a = dot_hi * rmul_hi;
  volatile float b = dot_lo * rmul_lo;
  volatile float s = a + b;
  return attn::softcap_log2(s, softcap);
#endif
}

// P code of a score s2 in a step whose running max is m (s2 = -inf: 0).
F8K_HD uint8_t p_code(float s2, float m) {
  const float p = attn::prob(s2, m);
#if defined(__CUDA_ARCH__)
  return ggf8::e4m3_from_f32(__fmul_rn(p, kPScale));
#else
  return ggf8::e4m3_from_f32(p * kPScale);  // exact: a power-of-two multiply
#endif
}
F8K_HD float p_value(uint8_t code) { return ggf8::e4m3_to_f32(code); }

#if !defined(__CUDA_ARCH__)
// The CPU emulation's FP32 sums (host only): a dot product of n values
// (n % 8 == 0) in 8 interleaved partial sums added in a fixed order, so it
// vectorizes and every CPU build gives the same bits. (The GPU's MMA sums in
// its own order: the two agree to FP32 accumulation error.)
inline float dot_lanes(const float* a, const float* b, int n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int d = 0; d < n; d += 8)
    for (int j = 0; j < 8; ++j) s[j] += a[d + j] * b[d + j];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}
#endif

}  // namespace fmha
}  // namespace f8k
