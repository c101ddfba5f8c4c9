// amx_math.h — the AMX prefill gemm's data layout and arithmetic, as plain
// C++ the tests run on any machine (tests/backend/test_amx_emul.cpp replays
// the kernel's tile data flow with these functions; kernels_amx.cpp packs
// and splits with the same ones). No intrinsics here.
//
// The kernel (kernels_amx.cpp) computes, for T > 16 tokens and an FP8/BF16
// weight without block scales (K % 32 == 0):
//   - x split into two BF16 terms per element: hi = bf16_rne(x),
//     lo = bf16_rne(x - hi) (x - hi is exact in FP32), so hi + lo = x up to
//     2^-17 |x| relative (16 significant bits; x itself has 24);
//   - weights decoded to BF16 exactly (every E4M3/E5M2/BF16 value is one);
//   - per 32-column k-step s (ascending), for a 16-token x 16-row C tile:
//     C += A_hi(s) B(s), then C += A_lo(s) B(s) (TDPBF16PS, FP32 accumulate);
//   - y = C * s(n) (tensor/channel scale, 1 for none), then
//     (y * tok_scale) + bias, each rounded.
// Every output's operations depend only on its own token row and weight
// row, never on T, the token block it sits in or the thread split.
//
// Tiles (palette 1): A = 16 rows (tokens) x 64 bytes (32 BF16 k values);
// B = 16 rows (k pairs) x 64 bytes (16 output columns x 2 BF16, the "VNNI"
// pair layout: B[kp][2n + e] = W[n][2kp + e]); C = 16 x 16 FP32.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace f8backend::cpu::simd::amx {

constexpr int kTileM = 16;     // tokens per A/C tile
constexpr int kTileN = 16;     // output rows (weight rows) per B/C tile
constexpr int kTileK = 32;     // k values per A row / B tile (16 pairs)
constexpr int kPanelN = 2 * kTileN;  // weight rows per packed panel (two C tiles)
constexpr int kMinT = 17;      // tokens from which the AMX path runs (the panel
                               // kernel's range; not measured on AMX hardware)

// Packed weight panel of kPanelN rows x K: per k-step s, two B tiles of
// 16 x 32 BF16 (1 KiB each, row stride 64 bytes), B tile j for rows
// [16j, 16j + 16). Index (in BF16 elements) of W[n][k], n < kPanelN.
inline int64_t b_index(int n, int64_t k) {
  const int64_t s = k / kTileK, kk = k % kTileK;
  return ((s * 2 + n / kTileN) * (kTileK / 2) + kk / 2) * (2 * kTileN) + (n % kTileN) * 2 + (kk % 2);
}
constexpr int64_t kBTileElems = kTileN * kTileK;  // 512 BF16 = 1 KiB
inline int64_t b_tile_offset(int64_t s, int j) { return (s * 2 + j) * kBTileElems; }

// x row split (GemmArgs::xl of the avx512-amx table): K BF16 hi values,
// then K BF16 lo values, in the K floats of the token's row (4K bytes).
inline int64_t x_hi_index(int64_t k) { return k; }
inline int64_t x_lo_index(int64_t K, int64_t k) { return K + k; }

inline float bf16_to_f32(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// Round to nearest even; NaN stays a quiet NaN.
inline uint16_t bf16_rne(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x40);
  return uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
// Exact for values BF16 holds (the decoded FP8/BF16 weights): truncation.
inline uint16_t bf16_exact(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t(u >> 16);
}
inline void bf16_split(float x, uint16_t* hi, uint16_t* lo) {
  *hi = bf16_rne(x);
  const float h = bf16_to_f32(*hi);
  *lo = std::isfinite(h) ? bf16_rne(x - h) : uint16_t{0};
}

// TDPBF16PS as Intel's pseudocode gives it, one C element: for each k pair
// p (ascending), c += a[2p] * b[2p], then c += a[2p+1] * b[2p+1], in FP32
// with round-to-nearest-even, BF16 inputs that are denormal read as zero
// and denormal results flushed to zero (the instruction ignores MXCSR).
// The products of two BF16 values are exact in FP32, so each step is one
// rounding (fma and mul+add agree).
inline float daz_bf16(uint16_t h) { return (h & 0x7F80u) == 0 ? 0.0f * bf16_to_f32(h) : bf16_to_f32(h); }
inline float ftz(float v) { return std::fpclassify(v) == FP_SUBNORMAL ? std::copysign(0.0f, v) : v; }
inline float dp_pair_step(float c, uint16_t a0, uint16_t b0, uint16_t a1, uint16_t b1) {
  c = ftz(c + daz_bf16(a0) * daz_bf16(b0));
  return ftz(c + daz_bf16(a1) * daz_bf16(b1));
}

// Emulated TDPBF16PS on whole tiles: C[m][n] (m < rows), A rows of 32
// BF16 at a + m * a_stride (elements), B tile as packed above.
inline void tdpbf16ps_emul(float* c, int rows, const uint16_t* a, int64_t a_stride, const uint16_t* b) {
  for (int m = 0; m < rows; ++m)
    for (int n = 0; n < kTileN; ++n) {
      float acc = c[m * kTileN + n];
      for (int p = 0; p < kTileK / 2; ++p)
        acc = dp_pair_step(acc, a[m * a_stride + 2 * p], b[p * 2 * kTileN + 2 * n], a[m * a_stride + 2 * p + 1],
                           b[p * 2 * kTileN + 2 * n + 1]);
      c[m * kTileN + n] = acc;
    }
}

}  // namespace f8backend::cpu::simd::amx
