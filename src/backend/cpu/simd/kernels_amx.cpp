// kernels_amx.cpp — the avx512-amx table: the avx512 table with prefill
// gemms (T >= 17, FP8/BF16 weights without block scales) on AMX tiles
// (amx_gemm.inc: BF16 tiles, x split into hi + lo BF16 terms, FP32
// accumulation by TDPBF16PS). Selected only when CPUID reports AVX-512 and
// AMX-TILE/AMX-BF16, XCR0 enables the tile state and Linux granted the
// tile permission (isa.cpp). Not batch-invariant across the T >= 17
// threshold (decode and prefill of a token take different kernels), so
// --deterministic runs the avx512 table instead (Kernels::deterministic).
// NOT run on the development machine (AVX2 only): the same source is
// replayed with emulated tiles by tests/backend/test_amx_emul.cpp.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "backend/cpu/cpu_common.h"
#include "backend/cpu/simd/amx_math.h"
#include "backend/cpu/simd/kernels.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,amx-tile,amx-bf16"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,amx-tile,amx-bf16")
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC bug 105593 (see kernels_avx512.cpp)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

namespace f8backend::cpu::simd {
namespace amx_isa {
// attention_portable.inc's dots fuse each step (attn_madd): this target has FMA.
constexpr bool kAttnFma = true;
#include "backend/cpu/simd/kernels_portable.inc"
#include "backend/cpu/simd/attention_portable.inc"
#include "backend/cpu/simd/x86_codec.inc"
#include "backend/cpu/simd/attention_x86.inc"
#include "backend/cpu/simd/gemm_x86.inc"
#include "backend/cpu/simd/gemm_avx512.inc"
#include "backend/cpu/simd/attention_avx512.inc"
#include "backend/cpu/simd/amx_gemm.inc"

// The real tiles: tmm0, tmm1 = C_0, C_1; tmm2, tmm3 = A hi, lo; tmm4,
// tmm5 = B_0, B_1 (the tile numbers are immediates: one case each).
struct HwTiles {
  struct alignas(64) Cfg {  // ldtilecfg's 64-byte block, palette 1
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
  };
  static void config(int m) {
    Cfg c;
    std::memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 6; ++t) {
      c.colsb[t] = 64;
      c.rows[t] = static_cast<uint8_t>(t < 4 ? m : 16);
    }
    _tile_loadconfig(&c);
  }
  static void zero_c() {
    _tile_zero(0);
    _tile_zero(1);
  }
  static void load_a(int i, const void* p, int64_t stride) {
    if (i == 0) _tile_loadd(2, p, stride);
    else _tile_loadd(3, p, stride);
  }
  static void load_b(int j, const void* p) {
    if (j == 0) _tile_loadd(4, p, 64);
    else _tile_loadd(5, p, 64);
  }
  static void dp(int j, int i) {
    if (j == 0 && i == 0) _tile_dpbf16ps(0, 2, 4);
    else if (j == 1 && i == 0) _tile_dpbf16ps(1, 2, 5);
    else if (j == 0) _tile_dpbf16ps(0, 3, 4);
    else _tile_dpbf16ps(1, 3, 5);
  }
  static void store_c(int j, void* p, int64_t stride) {
    if (j == 0) _tile_stored(0, p, stride);
    else _tile_stored(1, p, stride);
  }
  static void release() { _tile_release(); }
};

static void amx_gemm_rows(const GemmArgs& a, int64_t n0, int64_t n1, float* scratch) {
  amx_gemm_rows_t<HwTiles>(a, n0, n1, scratch);
}
}  // namespace amx_isa

const Kernels* kernels_avx512_amx() {
  using namespace amx_isa;
  static const Kernels k = {"avx512-amx", amx_gemm_rows, x86_quantize_row, x86_decode_row, x86_encode_row,
                            p_rms_scale,  p_mul_rows,    p_swiglu,         p_add,          z_attention,
                            amx_lanes_x,  kernels_avx512()};
  return &k;
}

}  // namespace f8backend::cpu::simd

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
