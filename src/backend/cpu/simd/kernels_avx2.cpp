// kernels_avx2.cpp — AVX2 + FMA + F16C kernels (target pragma avx2,fma,f16c;
// only called when CPUID reports all three, see isa.cpp).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "backend/cpu/cpu_common.h"
#include "backend/cpu/simd/kernels.h"

// Target flags come from this pragma, AFTER all shared headers: inline
// functions from those headers (and the C++ library) stay baseline code, so
// the linker can never pick an avx2 copy of them for the generic path.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif
#include <immintrin.h>

namespace f8backend::cpu::simd {
namespace avx2_isa {
// attention_portable.inc's dots fuse each step (attn_madd): this target has FMA.
constexpr bool kAttnFma = true;
#include "backend/cpu/simd/kernels_portable.inc"
#include "backend/cpu/simd/attention_portable.inc"
#include "backend/cpu/simd/x86_codec.inc"
#include "backend/cpu/simd/attention_x86.inc"
#include "backend/cpu/simd/gemm_x86.inc"
}  // namespace avx2_isa

const Kernels* kernels_avx2() {
  using namespace avx2_isa;
  static const Kernels k = {"avx2",      x86_gemm_rows, x86_quantize_row, x86_decode_row, x86_encode_row,
                            p_rms_scale, p_mul_rows,    p_swiglu,         p_add,          x86_attention,
                            x86_lanes_x};
  return &k;
}

}  // namespace f8backend::cpu::simd

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
