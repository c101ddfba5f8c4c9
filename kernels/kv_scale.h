// kernels/kv_scale.h — the per-token, per-KV-head scales of the E4M3 KV
// cache (the default for --kv-type fp8), as pure functions shared by the CPU
// backends and the CUDA kernels so every writer and reader agrees bit for bit.
//
// When a cell is stored, each KV head's K row (head_dim values) and V row get
// their own scale 2^e, e an int8 kept beside the cell ([n_cells][n_kv_heads]
// per layer, for K and V each: 1 byte per head_dim values, 1.0156 bytes per
// cached value at head_dim 64):
//   amax = max |x_i| over the row's finite values,
//   e    = the smallest integer with amax <= 448 * 2^e, clamped to [-126, 127]
//          (so 2^e is a normal float and the largest value codes in (224, 448]),
//   code = e4m3_from_f32(x / 2^e)  (satfinite, RNE; dividing by 2^e is exact
//          up to the final rounding, so this equals rne(x * 2^-e)).
// Decoding is exact: value = e4m3_to_f32(code) * 2^e has no rounding. A
// power of two loses nothing against amax / 448: E4M3's relative precision
// does not depend on where the row's maximum falls in a binade, only the
// range matters (keys whose heads differ by orders of magnitude, values whose
// size changes along the context). A stored cell is never rewritten.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define F8K_KVS_HD __host__ __device__ __forceinline__
#else
#define F8K_KVS_HD inline
#endif

namespace f8k {
namespace kvs {

constexpr int kExpMin = -126, kExpMax = 127;

// 2^e as a float (e in [kExpMin, kExpMax]: a normal float, built from bits).
F8K_KVS_HD float exp_scale(int e) {
  const uint32_t bits = uint32_t(e + 127) << 23;
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

// The exponent e for a row whose largest finite |value| is amax (>= 0).
F8K_KVS_HD int exp_for_amax(float amax) {
  if (!(amax > 0.0f)) return kExpMin;  // all zero (or nothing finite): any e decodes 0
  uint32_t bits;
  __builtin_memcpy(&bits, &amax, 4);
  // amax = 1.f * 2^x (normal) or 0.f * 2^-126 (subnormal); 448 = 1.75 * 2^8.
  int x = int(bits >> 23) - 127;
  uint32_t frac = bits & 0x7FFFFFu;
  if (x == -127) {  // subnormal: normalize
    x = -126;
    while (!(frac & 0x800000u)) {
      frac <<= 1;
      --x;
    }
    frac &= 0x7FFFFFu;
  }
  // amax <= 1.75 * 2^(8 + e)  <=>  e >= x - 8 when 1.frac <= 1.75, else e >= x - 7.
  int e = x - 8 + (frac > 0x600000u ? 1 : 0);
  if (e < kExpMin) e = kExpMin;
  if (e > kExpMax) e = kExpMax;
  return e;
}

// |x| if finite, else 0 (a NaN or inf value does not set the row's scale;
// it saturates or stays NaN when coded, as with a per-layer scale).
F8K_KVS_HD float finite_abs(float x) {
  const float a = x < 0.0f ? -x : x;
  return a <= 3.4028234663852886e38f ? a : 0.0f;
}

}  // namespace kvs
}  // namespace f8k
