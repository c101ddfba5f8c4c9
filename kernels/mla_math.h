// kernels/mla_math.h — the pure pieces of the CUDA multi-head latent
// attention (kernels/mla.cu): element decoders of the latent cache and of
// kv_b, the index math, the runs of a token's position-ordered cells and the
// fold of run partials. Host C++ and device code alike (no CUDA header
// needed); tests/backend/test_cuda_mla_replay.cpp replays the kernels with
// them.
//
// Shapes (one tensor-parallel rank: H heads; R = kv_lora_rank, P =
// qk_rope_head_dim, N = qk_nope_head_dim, V = v_head_dim, QD = N + P,
// NV = N + V, W = R + P):
//   q     [T, H, QD]  F32 (q_pe after RoPE)
//   kv_b  [H NV, R]   W_UK[h] = rows h NV + i (i < N), W_UV[h] = rows h NV + N + o
//   latent cache: layer l, cell c: W elements of the cache type at
//                 k + (l n_cells + c) W elem_bytes: [c_kv / k_scale[l] ;
//                 k_pe / v_scale[l]] (FP8; F16/BF16/F32 unscaled)
//   q_lat [T, H, R], o_lat [T, H, R]  F32 workspace
//   out   [T, H, V]   F32
// Every product is FP32 (fmaf chains); FP8 values (cache and weights) are
// decoded exactly and multiplied by their scale once (one rounding).
#pragma once

#include <cstdint>

#include "ggf8/fp8.h"
#include "kernels/attn_math.h"
#include "kernels/types.h"

namespace f8k {
namespace mla {

constexpr int kBlock = 64;  // positions per block (docs/backend.md "Invariance"; = the page size)
constexpr int kWarps = 4;   // warps per (token, head) block of the attention kernel
constexpr int kThreads = kWarps * 32;

// One rank's MLA dimensions (backend.h MlaDims).
struct Shape {
  int32_t H = 0, N = 0, P = 0, V = 0, R = 0;
};

F8K_HD float f16_to_f32(uint16_t h) {
  const uint32_t s = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 31u, m = h & 0x3FFu;
  uint32_t u;
  if (e == 31) u = s | 0x7F800000u | (m << 13);
  else if (e) u = s | ((e + 112u) << 23) | (m << 13);
  else if (!m) u = s;
  else {  // subnormal: m 2^-24, exact in FP32
    int32_t ee = 113;
    uint32_t mm = m;
    while (!(mm & 0x400u)) mm <<= 1, --ee;
    u = s | (uint32_t(ee) << 23) | ((mm & 0x3FFu) << 13);
  }
  return ggf8::detail::f32_from_bits(u);
}

// Element i of a row of `t` (exact).
F8K_HD float elem(const uint8_t* row, Elem t, int64_t i) {
  switch (t) {
    case Elem::E4M3: return ggf8::e4m3_to_f32(row[i]);
    case Elem::E5M2: return ggf8::e5m2_to_f32(row[i]);
    case Elem::F16: return f16_to_f32(reinterpret_cast<const uint16_t*>(row)[i]);
    case Elem::BF16: return ggf8::detail::f32_from_bits(uint32_t(reinterpret_cast<const uint16_t*>(row)[i]) << 16);
    default: return reinterpret_cast<const float*>(row)[i];
  }
}
F8K_HD int32_t elem_bytes(Elem t) {
  return t == Elem::F32 ? 4 : (t == Elem::F16 || t == Elem::BF16) ? 2 : 1;
}

// kv_b[n, k] decoded times its scale (DevWeight's Scale modes), one rounding.
F8K_HD float weight_at(const DevWeight& w, int64_t n, int64_t k) {
  const uint8_t* row = static_cast<const uint8_t*>(w.data) + n * w.stride * elem_bytes(w.type);
  const float v = elem(row, w.type, k);
  switch (w.scale_mode) {
    case Scale::Tensor: return v * w.scale[0];
    case Scale::Channel: return v * w.scale[n];
    case Scale::Block: return v * w.scale[(n / w.block_rows) * w.scale_cols + k / w.block_cols];
    default: return v;
  }
}

// Element i (< R + P) of a latent row, dequantized: c_kv's part times
// k_scale, k_pe's times v_scale (the scales are 1.0 for non-FP8 caches).
F8K_HD float latent_at(const uint8_t* row, Elem t, int32_t i, int32_t R, float ks, float vs) {
  return elem(row, t, i) * (i < R ? ks : vs);
}

// The latent row of `cell` in `layer`.
F8K_HD const uint8_t* latent_row(const DevKv& kv, int32_t layer, int32_t cell) {
  const int64_t W = kv.head_dim;  // R + P (n_kv_heads == 1)
  return kv.k + (int64_t(layer) * kv.n_cells + cell) * W * elem_bytes(kv.type);
}

// Rows of kv_b: W_UK[h] row i, W_UV[h] row o.
F8K_HD int64_t uk_row(int32_t h, int32_t N, int32_t V, int32_t i) { return int64_t(h) * (N + V) + i; }
F8K_HD int64_t uv_row(int32_t h, int32_t N, int32_t V, int32_t o) { return int64_t(h) * (N + V) + N + o; }

// The end of the prefix of sequence s's position-ordered list (order[0, len))
// with position <= p: the token's visible cells (MLA has no window).
template <class PosAt>
F8K_HD int32_t visible_end(int32_t len, int32_t p, PosAt pos_at) {
  int32_t lo = 0, hi = len;
  while (lo < hi) {
    const int32_t mid = lo + (hi - lo) / 2;
    if (pos_at(mid) <= p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The run starting at list index e (< e1): the cells of one position block
// (pos / 64), at most kBlock of them. Returns its end.
template <class PosAt>
F8K_HD int32_t run_end(int32_t e, int32_t e1, PosAt pos_at) {
  const int32_t blk = pos_at(e) / kBlock;
  int32_t f = e;
  while (f < e1 && f - e < kBlock && pos_at(f) / kBlock == blk) ++f;
  return f;
}

// Fold coefficients of the running partial (max m) and a run's partial (max
// mb), log2 domain: M = max(m, mb), a = 2^(m - M), b = 2^(mb - M).
F8K_HD void fold_coeffs(float m, float mb, float* M, float* a, float* b) {
  *M = m > mb ? m : mb;
  *a = attn::fexp2(m - *M);
  *b = attn::fexp2(mb - *M);
}

}  // namespace mla
}  // namespace f8k
