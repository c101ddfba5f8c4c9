// kernels/kv_scale.h — the per-token, per-KV-head scales of the E4M3 KV
// cache (the default for --kv-type fp8), as pure functions shared by the CPU
// backends and the CUDA kernels so every writer and reader agrees bit for bit.
//
// When a cell is stored, each KV head's K row (head_dim values) and V row get
// their own scale s, a BF16 value kept beside the cell as its 16 bits
// ([n_cells][n_kv_heads] per layer, for K and V each: 2 bytes per head_dim
// values, 1.031 bytes per cached value at head_dim 64):
//   amax = max |x_i| over the row's finite values,
//   s    = amax / 448 (one F32 division) rounded UP to BF16, clamped to
//          [2^-117, 1.140625 * 2^119] (so the row's largest value codes
//          within 2^-7 of 448, never saturating from the scale's rounding,
//          and 448 * s stays finite),
//   code = e4m3_from_f32(x / s)  (satfinite, RNE; x / s one IEEE division).
// Decoding is exact: value = e4m3_to_f32(code) * s is a product of 4 and 8
// significant bits (12 <= 24), at least 2^-9 * 2^-117 = 2^-126 when not 0:
// a normal float, no rounding — in any order of the decode and the multiply.
//
// Why not a power of two (the previous rule, 1 byte per row): a pow2 scale
// leaves the row's maximum anywhere in (224, 448] and E4M3 rounds it; an
// exact scale keeps the largest K/V values — the ones q.k and P.V weigh
// most — on E4M3's top code. Measured on SmolLM2 at 4k tokens: KL to an F32
// cache 0.033 -> 0.015 (docs/kv-quant-research.md). A stored cell is never
// rewritten.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define F8K_KVS_HD __host__ __device__ __forceinline__
#else
#define F8K_KVS_HD inline
#endif

namespace f8k {
namespace kvs {

// BF16 bits of 2^-117 and of 1.140625 * 2^119 (the largest BF16 s with
// 448 * s <= FLT_MAX): the range a row scale is clamped to. A row whose
// amax / 448 exceeds the top (amax within 0.3% of FLT_MAX) saturates at 448.
constexpr uint16_t kScaleMinBits = uint16_t((127 - 117) << 7), kScaleMaxBits = uint16_t(((127 + 119) << 7) | 18);

// The scale s (BF16 bits) as a float.
F8K_KVS_HD float scale_value(uint16_t bits) {
  const uint32_t b = uint32_t(bits) << 16;
  float f;
  __builtin_memcpy(&f, &b, 4);
  return f;
}

// The INT8 cache (--kv-type int8, CPU backends): the same rule with 127
// for 448 and codes rne(x / s) clamped to [-127, 127] (NaN codes 0: INT8
// has no NaN); decoding code * s multiplies 7 by 8 significant bits, exact.
constexpr float kE4M3Max = 448.0f, kI8Max = 127.0f;

// The scale's BF16 bits for a row whose largest finite |value| is amax (>= 0),
// for codes up to qmax (kE4M3Max, or kI8Max for the INT8 cache).
F8K_KVS_HD uint16_t scale_for_amax(float amax, float qmax = kE4M3Max) {
  if (!(amax > 0.0f)) return kScaleMinBits;  // all zero (or nothing finite): any s decodes 0
  const float q = amax / qmax;
  uint32_t bits;
  __builtin_memcpy(&bits, &q, 4);
  uint32_t hi = bits >> 16;
  if (bits & 0xFFFFu) ++hi;  // round up (q > 0 and finite: the next BF16 up)
  if (hi < kScaleMinBits) hi = kScaleMinBits;
  if (hi > kScaleMaxBits) hi = kScaleMaxBits;
  return uint16_t(hi);
}

// The INT8 code of x (already divided by the row's scale): round to nearest,
// ties to even, saturating at +-127; NaN codes 0.
F8K_KVS_HD int8_t i8_from_f32(float x) {
  if (!(x == x)) return 0;
  if (x >= 127.0f) return 127;
  if (x <= -127.0f) return -127;
  // |x| < 127: adding and removing 1.5 * 2^23 rounds to an integer with
  // ties to even under the default rounding mode, as IEEE RNE does.
  const float r = (x + 12582912.0f) - 12582912.0f;
  return static_cast<int8_t>(static_cast<int>(r));
}

// |x| if finite, else 0 (a NaN or inf value does not set the row's scale;
// it saturates or stays NaN when coded, as with a per-layer scale).
F8K_KVS_HD float finite_abs(float x) {
  const float a = x < 0.0f ? -x : x;
  return a <= 3.4028234663852886e38f ? a : 0.0f;
}

}  // namespace kvs
}  // namespace f8k
