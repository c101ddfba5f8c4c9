// kernels_avx512.cpp — the AVX-512 (F/BW/VL/DQ) table: the 512-bit gemm
// (gemm_avx512.inc: 16-lane chains, FP32 activations), the 512-bit
// attention block kernels (attention_avx512.inc: the avx2 tier's bits),
// plus the portable ops auto-vectorized for AVX-512. Selected only when
// CPUID and XCR0 report AVX-512. Tested on real AVX-512 (AMD Zen 4,
// 2026-12-07) and, on AVX2-only machines, by compiling the same sources
// against SIMDe's emulated intrinsics (tests/backend/test_avx512_emul.cpp,
// test_avx512_attn_emul.cpp) — see docs/backend.md "Tiers".
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "backend/cpu/cpu_common.h"
#include "backend/cpu/simd/kernels.h"

// Target flags come from this pragma, AFTER all shared headers: inline
// functions from those headers (and the C++ library) stay baseline code, so
// the linker can never pick an avx512 copy of them for the generic path.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#endif
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*: false
// -W(maybe-)uninitialized reports (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

namespace f8backend::cpu::simd {
namespace avx512_isa {
// attention_portable.inc's dots fuse each step (attn_madd): this target has FMA.
constexpr bool kAttnFma = true;
#include "backend/cpu/simd/kernels_portable.inc"
#include "backend/cpu/simd/attention_portable.inc"
#include "backend/cpu/simd/x86_codec.inc"
#include "backend/cpu/simd/attention_x86.inc"
#include "backend/cpu/simd/gemm_x86.inc"
#include "backend/cpu/simd/gemm_avx512.inc"
#include "backend/cpu/simd/attention_avx512.inc"
}  // namespace avx512_isa

const Kernels* kernels_avx512() {
  using namespace avx512_isa;
  static const Kernels k = {"avx512",    z_gemm_rows, x86_quantize_row, x86_decode_row, x86_encode_row,
                            p_rms_scale, p_mul_rows,  p_swiglu,         p_add,          z_attention,
                            z_lanes_x};
  return &k;
}

}  // namespace f8backend::cpu::simd

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
