// ggf8/fp8.h — scalar FP8 codec (OCP E4M3 "e4m3fn" and E5M2), header-only,
// usable from host C++ and from CUDA device code. No dependencies.
//
// Encoding is bit-exact with NVIDIA's host implementation of
// __nv_cvt_float_to_fp8(x, __NV_SATFINITE | __NV_NOSAT, __NV_E4M3 | __NV_E5M2)
// in cuda_fp8.hpp for every one of the 2^32 float bit patterns
// (tests/codec/test_fp8_exhaustive.cpp proves it). Semantics, from that code:
//   * round to nearest, ties to even, directly from the float (one rounding);
//   * NaN (any sign, any payload) -> 0x7F for BOTH formats: NVIDIA first
//     canonicalises the float NaN to 0x7FFFFFFF, so the sign is dropped and in
//     E5M2 the two top payload bits are 1 (0x7F, not 0x7E or 0xFF);
//   * |x| > largest finite + 1/2 ulp (E4M3: > 464; E5M2: >= 61440, the tie
//     rounds to even = up = overflow), ±inf included:
//       satfinite -> ±largest finite (E4M3 0x7E/0xFE = ±448, E5M2 0x7B/0xFB),
//       nosat     -> E4M3: 0x7F/0xFF (NaN, the sign IS kept: surprise),
//                    E5M2: 0x7C/0xFC (±inf);
//   * |x| <= smallest subnormal / 2 -> ±0 (sign kept; the tie goes to even 0);
//   * float denormal inputs are simply tiny values: they become ±0.
//
// Decoding is exact: every finite E4M3/E5M2 value is representable in float.
// NaN codes decode to the canonical quiet NaN 0x7FC00000 (sign dropped, as
// NVIDIA's fp8->half conversion does).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define GGF8_HD __host__ __device__ __forceinline__
#else
#define GGF8_HD inline
#endif

namespace ggf8 {

// Largest finite magnitudes.
constexpr float kE4M3Max = 448.0f;
constexpr float kE5M2Max = 57344.0f;
// Smallest positive subnormals: 2^-9 and 2^-16. Smallest normals: 2^-6, 2^-14.
constexpr float kE4M3MinSubnormal = 0.001953125f;
constexpr float kE5M2MinSubnormal = 0.0000152587890625f;
constexpr float kE4M3MinNormal = 0.015625f;
constexpr float kE5M2MinNormal = 0.00006103515625f;
// The code every NaN input encodes to (both formats) and the float every NaN
// code decodes to.
constexpr uint8_t kFp8NaN = 0x7F;
constexpr uint32_t kCanonicalNaNBits = 0x7FC00000u;

namespace detail {

GGF8_HD uint32_t f32_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

GGF8_HD float f32_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// Round-to-nearest-even of |x| (given as its float bits `a`, sign cleared)
// onto the FP8 subnormal grid, whose spacing is 2^min_exp (2^-9 or 2^-16),
// using the FPU's own RNE: adding magic = 2^(min_exp+23) puts |x| into a
// binade whose float ulp is exactly 2^min_exp, so the sum's low mantissa bits
// are the rounded count of grid steps. Needs |x| < 2^(min_exp+3); the result
// (0..8 for E4M3, 0..4 for E5M2) may equal the smallest normal's code, which
// is the correct carry. DAZ/FTZ do not matter: they can only zero inputs that
// round to 0 anyway. It is a single add whose result is read as bits, so no
// contraction or -ffast-math reassociation can change it.
GGF8_HD uint32_t round_to_subnormal_grid(uint32_t a, float magic) {
#if defined(__CUDA_ARCH__)
  const float sum = __fadd_rn(f32_from_bits(a), magic);
#else
  const float sum = f32_from_bits(a) + magic;
#endif
  return f32_bits(sum) - f32_bits(magic);
}

// Normal range: rebias the float exponent and round the mantissa, both with
// integer arithmetic on the float bits. `a` is |x|'s bits; `rebias` is
// (127 - fp8_bias) << 23; `drop` = 23 - fp8 mantissa bits. Adding
// (half - 1 + lsb) then truncating is RNE; a mantissa carry ripples into the
// exponent field, which is exactly the right next binade.
GGF8_HD uint32_t round_normal(uint32_t a, uint32_t rebias, unsigned drop) {
  const uint32_t r = a - rebias;
  const uint32_t lsb = (r >> drop) & 1u;
  return (r + ((1u << (drop - 1)) - 1u) + lsb) >> drop;
}

}  // namespace detail

// E4M3 layout: s eeee mmm, bias 7. e = 0: subnormal m * 2^-9. e = 15 and
// m = 7 (0x7F/0xFF) is NaN; there is no infinity, so e = 15, m < 7 are normal
// numbers up to 1.75 * 2^8 = 448.
GGF8_HD uint8_t e4m3_from_f32(float x, bool satfinite = true) {
  // Branch-free: every candidate is computed and the range picks one, so the
  // loops over it vectorise on the CPU and do not diverge on the GPU.
  const uint32_t u = detail::f32_bits(x);
  const uint32_t a = u & 0x7FFFFFFFu;
  const uint32_t sign = (u >> 24) & 0x80u;
  // 2^14 = 2^(-9 + 23): float ulp at 2^14 is 2^-9, the E4M3 subnormal step.
  const uint32_t sub = detail::round_to_subnormal_grid(a, 16384.0f);
  const uint32_t nrm = detail::round_normal(a, 120u << 23, 20);
  uint32_t code = a >= 0x3C800000u ? nrm : sub;                 // |x| >= 2^-6: normal
  code = a > 0x43E80000u ? (satfinite ? 0x7Eu : 0x7Fu) : code;  // |x| > 464 or inf
  code |= sign;
  return static_cast<uint8_t>(a > 0x7F800000u ? kFp8NaN : code);  // NaN, sign dropped
}

// E5M2 layout: s eeeee mm, bias 15 (the top byte of an IEEE half). e = 0:
// subnormal m * 2^-16. e = 31: m = 0 is ±inf, m != 0 NaN. Largest finite
// 1.75 * 2^15 = 57344.
GGF8_HD uint8_t e5m2_from_f32(float x, bool satfinite = true) {
  const uint32_t u = detail::f32_bits(x);
  const uint32_t a = u & 0x7FFFFFFFu;
  const uint32_t sign = (u >> 24) & 0x80u;
  // 2^7 = 2^(-16 + 23): float ulp at 128 is 2^-16, the E5M2 subnormal step.
  const uint32_t sub = detail::round_to_subnormal_grid(a, 128.0f);
  const uint32_t nrm = detail::round_normal(a, 112u << 23, 21);
  uint32_t code = a >= 0x38800000u ? nrm : sub;                 // |x| >= 2^-14: normal
  code = a >= 0x47700000u ? (satfinite ? 0x7Bu : 0x7Cu) : code; // |x| >= 61440 or inf
  code |= sign;
  return static_cast<uint8_t>(a > 0x7F800000u ? kFp8NaN : code);  // NaN, sign dropped
}

// Quantize with a dequantization scale s: q = enc(fl(x / s)), the float32
// quotient correctly rounded (IEEE division), then one RNE to FP8. This is
// PyTorch's `(x / s).to(torch.float8_e4m3fn)` byte for byte (up to PyTorch's
// non-saturating overflow, which amax scales never reach), and what every
// f8 quantizer uses: weights in `f8 convert`, the KV cache, activations.
// docs/fp8.md "Divide, do not multiply by 1/s" says why.
GGF8_HD float f32_div_rn(float x, float s) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(x, s);  // IEEE division even under -use_fast_math
#else
  return x / s;
#endif
}
GGF8_HD uint8_t e4m3_from_f32_div(float x, float scale, bool satfinite = true) {
  return e4m3_from_f32(f32_div_rn(x, scale), satfinite);
}
GGF8_HD uint8_t e5m2_from_f32_div(float x, float scale, bool satfinite = true) {
  return e5m2_from_f32(f32_div_rn(x, scale), satfinite);
}

// Quantize with the scale given as its inverse: enc(fl(x * inv_scale)). NOT
// the same bytes as the *_div forms when 1/s is not exact (about 0.04% of
// amax-scaled weights land one code apart); only for callers that define
// their encoding as a multiply (codec tests, benchmarks). Exact powers of two
// give identical results either way.
GGF8_HD uint8_t e4m3_from_f32_scaled(float x, float inv_scale, bool satfinite = true) {
  return e4m3_from_f32(x * inv_scale, satfinite);
}
GGF8_HD uint8_t e5m2_from_f32_scaled(float x, float inv_scale, bool satfinite = true) {
  return e5m2_from_f32(x * inv_scale, satfinite);
}

// Exact decode. Normal codes: move exponent and mantissa into float position
// and rebias (7 -> 127: +120). Subnormal codes: m * 2^-9, exact in float.
GGF8_HD float e4m3_to_f32(uint8_t b) {
  const uint32_t sign = static_cast<uint32_t>(b & 0x80u) << 24;
  const uint32_t mag = b & 0x7Fu;
  if (mag == 0x7Fu) return detail::f32_from_bits(kCanonicalNaNBits);
  if (mag >= 0x08u) return detail::f32_from_bits(sign | ((mag << 20) + (120u << 23)));
  const float v = static_cast<float>(mag) * 0.001953125f;  // m * 2^-9, exact
  return sign ? -v : v;
}

// E5M2: exponent rebias 15 -> 127 (+112) for normal codes; subnormals
// m * 2^-16; e = 31 is inf (m = 0) or NaN.
GGF8_HD float e5m2_to_f32(uint8_t b) {
  const uint32_t sign = static_cast<uint32_t>(b & 0x80u) << 24;
  const uint32_t mag = b & 0x7Fu;
  if (mag > 0x7Cu) return detail::f32_from_bits(kCanonicalNaNBits);
  if (mag == 0x7Cu) return detail::f32_from_bits(sign | 0x7F800000u);
  if (mag >= 0x04u) return detail::f32_from_bits(sign | ((mag << 21) + (112u << 23)));
  const float v = static_cast<float>(mag) * 0.0000152587890625f;  // m * 2^-16
  return sign ? -v : v;
}

// ---- Exact bit tricks (FP8.md), the contract of the fast bulk decoders ----
// Each maps every FINITE code to a value that is exact up to a fixed power of
// two, which callers fold into their scale. NaN codes (0x7F/0xFF for E4M3)
// map to a finite number; callers that can see NaN must patch them.

// E4M3 -> FP16 bits of value(b) * 2^-8 (subnormals included: the E4M3
// subnormal m*2^-9 lands on the FP16 normal/subnormal grid exactly).
constexpr int kE4M3F16TrickExp = -8;
GGF8_HD uint16_t e4m3_to_f16_trick(uint8_t b) {
  return static_cast<uint16_t>(((b & 0x80u) << 8) | ((b & 0x7Fu) << 7));
}
// E4M3 -> FP32 bits of value(b) * 2^-120 (subnormal codes become FP32
// denormals: keep DAZ/FTZ off when multiplying them).
constexpr int kE4M3F32TrickExp = -120;
GGF8_HD uint32_t e4m3_to_f32_trick(uint8_t b) {
  return (static_cast<uint32_t>(b & 0x80u) << 24) | (static_cast<uint32_t>(b & 0x7Fu) << 20);
}
// E4M3 -> BF16 bits of value(b) * 2^-120: exact for normal codes; subnormal
// codes land on BF16 denormals (exact values, but vdpbf16ps flushes them).
constexpr int kE4M3BF16TrickExp = -120;
GGF8_HD uint16_t e4m3_to_bf16_trick(uint8_t b) {
  return static_cast<uint16_t>(((b & 0x80u) << 8) | ((b & 0x7Fu) << 4));
}
// E5M2 -> FP16 bits: E5M2 is the top byte of an FP16, exactly (inf and NaN
// included; NaN payloads are kept, not canonicalised).
GGF8_HD uint16_t e5m2_to_f16(uint8_t b) { return static_cast<uint16_t>(b << 8); }

}  // namespace ggf8
