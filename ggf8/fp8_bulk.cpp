// ggf8/fp8_bulk.cpp — bulk FP8 conversions: portable loops + an AVX2/F16C
// path picked at run time. Bit-exact with the scalar codec (ggf8/fp8.h); the
// tests compare every code and many encode inputs on both paths.
#include "ggf8/fp8_bulk.h"

#include <array>
#include <atomic>

#include "ggf8/fp8.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GGF8_HAVE_AVX2_PATH 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define GGF8_HAVE_AVX2_PATH 0
#endif

namespace ggf8 {
namespace {

// ---------------------------------------------------------------- dispatch
std::atomic<bool> g_force_portable{false};

bool cpu_has_avx2() {
#if GGF8_HAVE_AVX2_PATH
  // CPUID directly (clang 14's __builtin_cpu_supports knows no "f16c"):
  // leaf 1 ECX: FMA bit 12, OSXSAVE bit 27, F16C bit 29; leaf 7 EBX: AVX2
  // bit 5; and XCR0 bits 1-2 say the OS saves XMM+YMM state.
  static const bool has = [] {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), f16c = c & (1u << 29);
    if (!(fma && osxsave && f16c)) return false;
    unsigned xlo, xhi;
    __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 6u) != 6u) return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return (b & (1u << 5)) != 0;
  }();
  return has;
#else
  return false;
#endif
}

bool use_avx2() { return !g_force_portable.load(std::memory_order_relaxed) && cpu_has_avx2(); }

// ---------------------------------------------------------------- tables
template <float (*Decode)(uint8_t)>
const std::array<float, 256>& table() {
  static const std::array<float, 256> t = [] {
    std::array<float, 256> r{};
    for (unsigned b = 0; b < 256; ++b) r[b] = Decode(static_cast<uint8_t>(b));
    return r;
  }();
  return t;
}

template <float (*Decode)(uint8_t)>
void table_decode(const uint8_t* src, float* dst, size_t n) {
  const float* t = table<Decode>().data();
  for (size_t i = 0; i < n; ++i) dst[i] = t[src[i]];
}

template <float (*Decode)(uint8_t)>
void table_decode_scaled(const uint8_t* src, float* dst, size_t n, float scale) {
  const float* t = table<Decode>().data();
  for (size_t i = 0; i < n; ++i) dst[i] = t[src[i]] * scale;
}

// ---------------------------------------------------------------- AVX2
#if GGF8_HAVE_AVX2_PATH
#define GGF8_AVX2 __attribute__((target("avx2,f16c,fma")))

// E4M3 -> FP32 for 8 codes: the FP8.md trick (sign << 24 | mag << 20 is
// value * 2^-120 exactly, subnormal codes as FP32 denormals), one multiply
// by mul = 2^120 * scale, then NaN codes patched to the canonical NaN (after
// the multiply, as the scalar `NaN * scale` keeps the NaN operand on x86).
GGF8_AVX2 inline __m256 e4m3x8(__m128i bytes8, __m256 mul) {
  const __m256i v = _mm256_cvtepu8_epi32(bytes8);
  const __m256i mag = _mm256_and_si256(v, _mm256_set1_epi32(0x7F));
  const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0x80)), 24);
  const __m256i bits = _mm256_or_si256(sign, _mm256_slli_epi32(mag, 20));
  const __m256 f = _mm256_mul_ps(_mm256_castsi256_ps(bits), mul);
  const __m256i nan = _mm256_cmpeq_epi32(mag, _mm256_set1_epi32(0x7F));
  return _mm256_blendv_ps(f, _mm256_castsi256_ps(_mm256_set1_epi32(int(kCanonicalNaNBits))),
                          _mm256_castsi256_ps(nan));
}

GGF8_AVX2 void e4m3_to_f32_avx2(const uint8_t* src, float* dst, size_t n, float mul_scalar,
                                float tail_scale, bool scaled) {
  const __m256 mul = _mm256_set1_ps(mul_scalar);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
    _mm256_storeu_ps(dst + i, e4m3x8(lo, mul));
    _mm256_storeu_ps(dst + i + 8, e4m3x8(_mm_srli_si128(lo, 8), mul));
    _mm256_storeu_ps(dst + i + 16, e4m3x8(hi, mul));
    _mm256_storeu_ps(dst + i + 24, e4m3x8(_mm_srli_si128(hi, 8), mul));
  }
  for (; i < n; ++i) dst[i] = scaled ? e4m3_to_f32(src[i]) * tail_scale : e4m3_to_f32(src[i]);
}

// E5M2 -> FP32 for 8 codes: b << 8 is the FP16 (exact, inf included), F16C
// widens it; NaN codes patched to the canonical NaN (vcvtph2ps would keep
// their payloads).
GGF8_AVX2 inline __m256 e5m2x8(__m128i bytes8, float scale, bool scaled) {
  const __m128i v = _mm_cvtepu8_epi16(bytes8);
  __m256 f = _mm256_cvtph_ps(_mm_slli_epi16(v, 8));
  if (scaled) f = _mm256_mul_ps(f, _mm256_set1_ps(scale));
  const __m256i mag = _mm256_cvtepu16_epi32(_mm_and_si128(v, _mm_set1_epi16(0x7F)));
  const __m256i nan = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(0x7C));
  return _mm256_blendv_ps(f, _mm256_castsi256_ps(_mm256_set1_epi32(int(kCanonicalNaNBits))),
                          _mm256_castsi256_ps(nan));
}

GGF8_AVX2 void e5m2_to_f32_avx2(const uint8_t* src, float* dst, size_t n, float scale,
                                bool scaled) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, e5m2x8(b, scale, scaled));
    _mm256_storeu_ps(dst + i + 8, e5m2x8(_mm_srli_si128(b, 8), scale, scaled));
  }
  for (; i < n; ++i) dst[i] = scaled ? e5m2_to_f32(src[i]) * scale : e5m2_to_f32(src[i]);
}

GGF8_AVX2 void e4m3_to_f16_trick_avx2(const uint8_t* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    const __m256i s = _mm256_slli_epi16(_mm256_and_si256(v, _mm256_set1_epi16(0x80)), 8);
    const __m256i m = _mm256_slli_epi16(_mm256_and_si256(v, _mm256_set1_epi16(0x7F)), 7);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_or_si256(s, m));
  }
  for (; i < n; ++i) dst[i] = ggf8::e4m3_to_f16_trick(src[i]);
}

GGF8_AVX2 void e4m3_to_bf16_trick_avx2(const uint8_t* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    const __m256i s = _mm256_slli_epi16(_mm256_and_si256(v, _mm256_set1_epi16(0x80)), 8);
    const __m256i m = _mm256_slli_epi16(_mm256_and_si256(v, _mm256_set1_epi16(0x7F)), 4);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_or_si256(s, m));
  }
  for (; i < n; ++i) dst[i] = ggf8::e4m3_to_bf16_trick(src[i]);
}

GGF8_AVX2 void e5m2_to_f16_avx2(const uint8_t* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_slli_epi16(v, 8));
  }
  for (; i < n; ++i) dst[i] = ggf8::e5m2_to_f16(src[i]);
}

// The scalar encoder (fp8.h) on 8 lanes, same steps in the same order:
// NaN -> 0x7F; overflow -> sat value | sign; normal -> integer rebias + RNE;
// subnormal -> FPU RNE via the magic add. Constants per format below.
struct EncParams {
  int ovf_gt;       // |x| bits above this overflow
  int norm_gt;      // |x| bits above this are normal (>= smallest normal)
  int rebias;       // (127 - bias) << 23
  int drop;         // 23 - mantissa bits
  float magic;      // 2^(min subnormal exponent + 23)
  int sat_code, nosat_code;
};
constexpr EncParams kE4M3Enc{0x43E80000, 0x3C7FFFFF, 120 << 23, 20, 16384.0f, 0x7E, 0x7F};
constexpr EncParams kE5M2Enc{0x476FFFFF, 0x387FFFFF, 112 << 23, 21, 128.0f, 0x7B, 0x7C};

GGF8_AVX2 inline __m256i encode8(__m256 x, const EncParams& p, __m256i sat_code) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF));
  const __m256i sign = _mm256_and_si256(_mm256_srli_epi32(u, 24), _mm256_set1_epi32(0x80));
  // normal: r = a - rebias; (r + half - 1 + lsb) >> drop
  const __m128i drop = _mm_cvtsi32_si128(p.drop);
  const __m256i r = _mm256_sub_epi32(a, _mm256_set1_epi32(p.rebias));
  const __m256i lsb = _mm256_and_si256(_mm256_srl_epi32(r, drop), _mm256_set1_epi32(1));
  const __m256i half_m1 = _mm256_set1_epi32((1 << (p.drop - 1)) - 1);
  const __m256i code_n = _mm256_srl_epi32(_mm256_add_epi32(_mm256_add_epi32(r, half_m1), lsb), drop);
  // subnormal: bits(|x| + magic) - bits(magic)
  const __m256 magic = _mm256_set1_ps(p.magic);
  const __m256i code_s = _mm256_sub_epi32(
      _mm256_castps_si256(_mm256_add_ps(_mm256_castsi256_ps(a), magic)), _mm256_castps_si256(magic));
  const __m256i is_norm = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(p.norm_gt));
  const __m256i is_ovf = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(p.ovf_gt));
  const __m256i is_nan = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7F800000));
  __m256i code = _mm256_blendv_epi8(code_s, code_n, is_norm);
  code = _mm256_blendv_epi8(code, sat_code, is_ovf);
  code = _mm256_or_si256(code, sign);
  return _mm256_blendv_epi8(code, _mm256_set1_epi32(kFp8NaN), is_nan);
}

// Div: x / k (IEEE vdivps, correctly rounded like the scalar x / s);
// otherwise x * k.
template <bool Div>
GGF8_AVX2 inline __m256 apply_scale(__m256 x, __m256 k) {
  if constexpr (Div) return _mm256_div_ps(x, k);
  else return _mm256_mul_ps(x, k);
}

template <bool Div>
GGF8_AVX2 void f32_to_fp8_avx2(const float* src, uint8_t* dst, size_t n, float inv_scale,
                               bool satfinite, const EncParams& p,
                               uint8_t (*scalar)(float, bool)) {
  const __m256 k = _mm256_set1_ps(inv_scale);
  const __m256i sat_code = _mm256_set1_epi32(satfinite ? p.sat_code : p.nosat_code);
  // packus interleaves 128-bit lanes; this puts the 32 bytes back in order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i c0 = encode8(apply_scale<Div>(_mm256_loadu_ps(src + i), k), p, sat_code);
    const __m256i c1 = encode8(apply_scale<Div>(_mm256_loadu_ps(src + i + 8), k), p, sat_code);
    const __m256i c2 = encode8(apply_scale<Div>(_mm256_loadu_ps(src + i + 16), k), p, sat_code);
    const __m256i c3 = encode8(apply_scale<Div>(_mm256_loadu_ps(src + i + 24), k), p, sat_code);
    const __m256i w01 = _mm256_packus_epi32(c0, c1), w23 = _mm256_packus_epi32(c2, c3);
    const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w01, w23), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), b);
  }
  for (; i < n; ++i) dst[i] = scalar(Div ? src[i] / inv_scale : src[i] * inv_scale, satfinite);
}
#endif  // GGF8_HAVE_AVX2_PATH

// Plain-function adapters so templates can take the codec by pointer.
float dec_e4m3(uint8_t b) { return ggf8::e4m3_to_f32(b); }
float dec_e5m2(uint8_t b) { return ggf8::e5m2_to_f32(b); }
uint8_t enc_e4m3(float x, bool sat) { return ggf8::e4m3_from_f32(x, sat); }
uint8_t enc_e5m2(float x, bool sat) { return ggf8::e5m2_from_f32(x, sat); }

// 2^120 * scale when that is finite (then trick * it == decode * scale with a
// single rounding); 0 when it would overflow (|scale| >= 2^8) or scale is not
// finite, which sends the caller to the table path.
float e4m3_fused_multiplier(float scale) {
  const float m = scale * 0x1p120f;
  return (m - m == 0.0f) ? m : 0.0f;
}

}  // namespace

// ---------------------------------------------------------------- public API
const float* e4m3_f32_table() { return table<dec_e4m3>().data(); }
const float* e5m2_f32_table() { return table<dec_e5m2>().data(); }
void e4m3_to_f32_table(const uint8_t* src, float* dst, size_t n) { table_decode<dec_e4m3>(src, dst, n); }
void e5m2_to_f32_table(const uint8_t* src, float* dst, size_t n) { table_decode<dec_e5m2>(src, dst, n); }

void e4m3_to_f32(const uint8_t* src, float* dst, size_t n) {
#if GGF8_HAVE_AVX2_PATH
  if (use_avx2()) return e4m3_to_f32_avx2(src, dst, n, 0x1p120f, 1.0f, false);
#endif
  table_decode<dec_e4m3>(src, dst, n);
}

void e4m3_to_f32_scaled(const uint8_t* src, float* dst, size_t n, float scale) {
#if GGF8_HAVE_AVX2_PATH
  const float mul = e4m3_fused_multiplier(scale);
  if (use_avx2() && mul != 0.0f)
    return e4m3_to_f32_avx2(src, dst, n, mul, scale, true);
#endif
  table_decode_scaled<dec_e4m3>(src, dst, n, scale);
}

void e5m2_to_f32(const uint8_t* src, float* dst, size_t n) {
#if GGF8_HAVE_AVX2_PATH
  if (use_avx2()) return e5m2_to_f32_avx2(src, dst, n, 1.0f, false);
#endif
  table_decode<dec_e5m2>(src, dst, n);
}

void e5m2_to_f32_scaled(const uint8_t* src, float* dst, size_t n, float scale) {
#if GGF8_HAVE_AVX2_PATH
  if (use_avx2()) return e5m2_to_f32_avx2(src, dst, n, scale, true);
#endif
  table_decode_scaled<dec_e5m2>(src, dst, n, scale);
}

void e4m3_to_f16_trick(const uint8_t* src, uint16_t* dst, size_t n) {
#if GGF8_HAVE_AVX2_PATH
  if (use_avx2()) return e4m3_to_f16_trick_avx2(src, dst, n);
#endif
  for (size_t i = 0; i < n; ++i) dst[i] = ggf8::e4m3_to_f16_trick(src[i]);
}

void e4m3_to_bf16_trick(const uint8_t* src, uint16_t* dst, size_t n) {
#if GGF8_HAVE_AVX2_PATH
  if (use_avx2()) return e4m3_to_bf16_trick_avx2(src, dst, n);
#endif
  for (size_t i = 0; i < n; ++i) dst[i] = ggf8::e4m3_to_bf16_trick(src[i]);
}

void e5m2_to_f16(const uint8_t* src, uint16_t* dst, size_t n) {
#if GGF8_HAVE_AVX2_PATH
  if (use_avx2()) return e5m2_to_f16_avx2(src, dst, n);
#endif
  for (size_t i = 0; i < n; ++i) dst[i] = ggf8::e5m2_to_f16(src[i]);
}

void f32_to_e4m3(const float* src, uint8_t* dst, size_t n, float inv_scale, bool satfinite) {
#if GGF8_HAVE_AVX2_PATH
  if (use_avx2()) return f32_to_fp8_avx2<false>(src, dst, n, inv_scale, satfinite, kE4M3Enc, enc_e4m3);
#endif
  for (size_t i = 0; i < n; ++i) dst[i] = ggf8::e4m3_from_f32(src[i] * inv_scale, satfinite);
}

void f32_to_e5m2(const float* src, uint8_t* dst, size_t n, float inv_scale, bool satfinite) {
#if GGF8_HAVE_AVX2_PATH
  if (use_avx2()) return f32_to_fp8_avx2<false>(src, dst, n, inv_scale, satfinite, kE5M2Enc, enc_e5m2);
#endif
  for (size_t i = 0; i < n; ++i) dst[i] = ggf8::e5m2_from_f32(src[i] * inv_scale, satfinite);
}

void f32_to_e4m3_div(const float* src, uint8_t* dst, size_t n, float scale, bool satfinite) {
#if GGF8_HAVE_AVX2_PATH
  if (use_avx2()) return f32_to_fp8_avx2<true>(src, dst, n, scale, satfinite, kE4M3Enc, enc_e4m3);
#endif
  for (size_t i = 0; i < n; ++i) dst[i] = ggf8::e4m3_from_f32_div(src[i], scale, satfinite);
}

void f32_to_e5m2_div(const float* src, uint8_t* dst, size_t n, float scale, bool satfinite) {
#if GGF8_HAVE_AVX2_PATH
  if (use_avx2()) return f32_to_fp8_avx2<true>(src, dst, n, scale, satfinite, kE5M2Enc, enc_e5m2);
#endif
  for (size_t i = 0; i < n; ++i) dst[i] = ggf8::e5m2_from_f32_div(src[i], scale, satfinite);
}

const char* fp8_bulk_isa() { return use_avx2() ? "avx2" : "portable"; }

void fp8_bulk_force_portable(bool on) { g_force_portable.store(on, std::memory_order_relaxed); }

}  // namespace ggf8
