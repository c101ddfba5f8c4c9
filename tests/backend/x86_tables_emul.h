// x86_tables_emul.h — the x86 gemm and attention sources (x86_codec.inc,
// gemm_x86.inc, gemm_avx512.inc, amx_gemm.inc, attention_x86.inc,
// attention_avx512.inc) compiled for AVX2 with the 512-bit
// intrinsics from SIMDe (libsimde-dev, native aliases: each 512-bit
// operation done on two AVX2 halves) and AMX tiles emulated in software
// (EmuTiles: amx_math.h's TDPBF16PS), in namespace
// f8backend::cpu::simd::avx512_emul. Included once by each emulation test
// (test_avx512_emul.cpp, test_amx_emul.cpp, test_avx512_attn_emul.cpp); call
// only after checking have_avx2(). The four conversions SIMDe 0.7.4 lacks are defined from
// Intel's documented semantics.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "backend/backend.h"
#include "backend/cpu/cpu_common.h"
#include "backend/cpu/simd/amx_math.h"
#include "backend/cpu/simd/kernels.h"
#include <gtest/gtest.h>
#include <memory>
#include <vector>

inline bool have_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

// As the kernel files do: target flags after every shared header, so no
// inline library function is compiled for AVX2 here.
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <immintrin.h>  // the native AVX2/FMA/F16C the avx2 code uses
// SIMDe picks native code from the compiler's __AVX2__-style macros, which
// GCC's target pragma does not define: without these it would replace every
// _mm256_* call (the avx2 code's too) with its portable C, and _mm*_fmadd_ps
// with a multiply and an add (two roundings: not what the hardware does).
// With them, each 512-bit operation is two native 256-bit ones, FMAs fused.
#define SIMDE_X86_SSE3_NATIVE
#define SIMDE_X86_SSSE3_NATIVE
#define SIMDE_X86_SSE4_1_NATIVE
#define SIMDE_X86_SSE4_2_NATIVE
#define SIMDE_X86_AVX_NATIVE
#define SIMDE_X86_AVX2_NATIVE
#define SIMDE_X86_FMA_NATIVE
#define SIMDE_X86_F16C_NATIVE
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

namespace emu {
// vpmovsxbd zmm, xmm: 16 int8 -> 16 int32 (sign-extended).
static inline simde__m512i cvtepi8_epi32(simde__m128i v) {
  int8_t b[16];
  int32_t o[16];
  std::memcpy(b, &v, 16);
  for (int i = 0; i < 16; ++i) o[i] = b[i];
  simde__m512i r;
  std::memcpy(&r, o, 64);
  return r;
}
// vpmovzxwd zmm, ymm: 16 uint16 -> 16 int32 (zero-extended).
static inline simde__m512i cvtepu16_epi32(simde__m256i v) {
  uint16_t b[16];
  int32_t o[16];
  std::memcpy(b, &v, 32);
  for (int i = 0; i < 16; ++i) o[i] = b[i];
  simde__m512i r;
  std::memcpy(&r, o, 64);
  return r;
}
// vcvtph2ps zmm, ymm: 16 FP16 -> 16 FP32 (exact), via F16C on each half.
static inline simde__m512 cvtph_ps(simde__m256i v) {
  __m128i h[2];
  std::memcpy(h, &v, 32);
  float o[16];
  _mm256_storeu_ps(o, _mm256_cvtph_ps(h[0]));
  _mm256_storeu_ps(o + 8, _mm256_cvtph_ps(h[1]));
  simde__m512 r;
  std::memcpy(&r, o, 64);
  return r;
}
// vcvtdq2ps zmm, zmm: 16 int32 -> 16 FP32 (exact for the INT8 cache's codes).
static inline simde__m512 cvtepi32_ps(simde__m512i v) {
  int32_t b[16];
  float o[16];
  std::memcpy(b, &v, 64);
  for (int i = 0; i < 16; ++i) o[i] = static_cast<float>(b[i]);
  simde__m512 r;
  std::memcpy(&r, o, 64);
  return r;
}
}  // namespace emu
#define _mm512_cvtepi32_ps(v) emu::cvtepi32_ps(v)
#define _mm512_cvtepi8_epi32(v) emu::cvtepi8_epi32(v)
#define _mm512_cvtepu16_epi32(v) emu::cvtepu16_epi32(v)
#define _mm512_cvtph_ps(v) emu::cvtph_ps(v)
// The barrier keeps (h * sc) * ts and + bias two roundings; this file is
// compiled with -ffp-contract=off, so nothing is fused without one.
#define F8_ZMM_BARRIER(v) ((void)0)

namespace f8backend::cpu::simd {
namespace avx512_emul {
// attention_portable.inc's dots fuse each step (attn_madd): this target has FMA.
constexpr bool kAttnFma = true;
#include "backend/cpu/simd/kernels_portable.inc"
#include "backend/cpu/simd/attention_portable.inc"
#include "backend/cpu/simd/x86_codec.inc"
#include "backend/cpu/simd/gemm_x86.inc"
#include "backend/cpu/simd/gemm_avx512.inc"
#include "backend/cpu/simd/attention_x86.inc"
#include "backend/cpu/simd/attention_avx512.inc"

// The AMX tile register file in software, for amx_gemm.inc: tiles 0, 1 =
// C_0, C_1 (m x 16 FP32), 2, 3 = A hi, lo (m x 32 BF16), 4, 5 = B_0, B_1
// (16 x 32 BF16). As the hardware: ldtilecfg zeroes every tile; a load
// reads the configured rows and zeroes the rest; a store writes the
// configured rows. Use before config (a #UD on hardware) is counted.
struct EmuTiles {
  static inline thread_local int rows[6] = {};
  static inline thread_local bool configured = false;
  static inline thread_local int misuse = 0;
  static inline thread_local int configs = 0;
  alignas(64) static inline thread_local uint8_t t[6][1024] = {};
  static void config(int m) {
    for (int i = 0; i < 6; ++i) rows[i] = i < 4 ? m : 16;
    std::memset(t, 0, sizeof t);
    configured = true;
    ++configs;
  }
  static void load(int i, const void* p, int64_t stride) {
    if (!configured) ++misuse;
    std::memset(t[i], 0, 1024);
    for (int r = 0; r < rows[i]; ++r) std::memcpy(t[i] + 64 * r, static_cast<const uint8_t*>(p) + r * stride, 64);
  }
  static void zero_c() {
    if (!configured) ++misuse;
    std::memset(t[0], 0, 1024);
    std::memset(t[1], 0, 1024);
  }
  static void load_a(int i, const void* p, int64_t stride) { load(2 + i, p, stride); }
  static void load_b(int j, const void* p) { load(4 + j, p, 64); }
  static void dp(int j, int i) {
    if (!configured || rows[j] != rows[2 + i] || rows[4 + j] != 16) ++misuse;
    amx::tdpbf16ps_emul(reinterpret_cast<float*>(t[j]), rows[j], reinterpret_cast<const uint16_t*>(t[2 + i]),
                        amx::kTileK, reinterpret_cast<const uint16_t*>(t[4 + j]));
  }
  static void store_c(int j, void* p, int64_t stride) {
    if (!configured) ++misuse;
    for (int r = 0; r < rows[j]; ++r) std::memcpy(static_cast<uint8_t*>(p) + r * stride, t[j] + 64 * r, 64);
  }
  static void release() { configured = false; }
};
#include "backend/cpu/simd/amx_gemm.inc"
static void emu_amx_gemm_rows(const GemmArgs& a, int64_t n0, int64_t n1, float* scratch) {
  amx_gemm_rows_t<EmuTiles>(a, n0, n1, scratch);
}

// Every byte code through Z<Dec>::dec16 against the avx2 decoder.
template <class Dec>
static bool dec16_matches(const uint8_t* p) {
  for (int j = 0; j < 2; ++j) {
    alignas(64) float z[16], a[16];
    _mm512_storeu_ps(z, Z<Dec>::dec16(p, j));
    _mm256_storeu_ps(a, Dec::dec8(p, 2 * j));
    _mm256_storeu_ps(a + 8, Dec::dec8(p, 2 * j + 1));
    if (std::memcmp(z, a, sizeof z) != 0) return false;
  }
  return true;
}
// attention_avx512.inc's pair decoder (rows a and b's codes [8c, 8c + 8)
// side by side) against the avx2 decoder of each row.
template <class Dec>
static bool pair_matches(const uint8_t* a, const uint8_t* b, int c) {
  alignas(64) float z[16], w[16];
  _mm512_storeu_ps(z, ZPair<Dec>::dec(a, b, c));
  _mm256_storeu_ps(w, Dec::dec8(a, c));
  _mm256_storeu_ps(w + 8, Dec::dec8(b, c));
  return std::memcmp(z, w, sizeof z) == 0;
}
static unsigned get_csr() { return _mm_getcsr(); }
static void set_csr(unsigned v) { _mm_setcsr(v); }
}  // namespace avx512_emul
}  // namespace f8backend::cpu::simd
#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace f8emul {
using namespace f8backend;
namespace sd = f8backend::cpu::simd;

// One gemm through a kernel table's gemm_rows, the way simd_backend.cpp
// calls it: the lane-major x for T > kLanesXMinT (K % 32 == 0), rows split
// at `split` (two "threads"; -1: one call).
inline std::vector<float> run_table(void (*gemm_rows)(const sd::GemmArgs&, int64_t, int64_t, float*),
                             void (*lanes_x)(const float*, int64_t, float*), const Weight& w, const float* x, int T,
                             Bias bias, int64_t split = -1) {
  const int64_t K = w.cols, N = w.rows;
  std::vector<float> y(size_t(T) * N, -1.0f), xl, scratch(size_t(sd::kScratchPerDim) * K);
  sd::GemmArgs a;
  a.x = x;
  a.T = T;
  a.w = &w;
  a.tok_scale = nullptr;
  a.bias = bias;
  a.y = y.data();
  if (lanes_x && T > sd::kLanesXMinT && K % 32 == 0) {
    xl.resize(size_t(T) * K);
    for (int t = 0; t < T; ++t) lanes_x(x + int64_t(t) * K, K, xl.data() + int64_t(t) * K);
    a.xl = xl.data();
  }
  if (split < 0) {
    gemm_rows(a, 0, N, scratch.data());
  } else {
    gemm_rows(a, 0, split, scratch.data());
    gemm_rows(a, split, N, scratch.data());
  }
  return y;
}

inline std::vector<float> run_emul(const Weight& w, const float* x, int T, Bias bias, int64_t split = -1) {
  return run_table(sd::avx512_emul::z_gemm_rows, sd::avx512_emul::z_lanes_x, w, x, T, bias, split);
}

inline std::vector<float> run_ref(const Weight& w, const float* x, int T, Bias bias) {
  std::unique_ptr<Backend> ref;
  EXPECT_TRUE(create_backend("cpu-ref", {}, &ref).ok());
  StreamParams sp;
  sp.max_tokens = T;
  sp.max_dim = std::max(w.rows, w.cols);
  std::unique_ptr<Stream> s;
  EXPECT_TRUE(ref->create_stream(sp, &s).ok());
  std::vector<float> y(size_t(T) * w.rows);
  GemmOpts o;
  o.bias = bias;
  s->gemm(x, T, w, y.data(), o);
  return y;
}

}  // namespace f8emul
