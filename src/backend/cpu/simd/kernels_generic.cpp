// kernels_generic.cpp — the portable kernel table (any CPU; baseline flags).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/cpu_common.h"
#include "backend/cpu/simd/kernels.h"

namespace f8backend::cpu::simd {
namespace generic_isa {
// attention_portable.inc's dots: a product and a sum per step (no FMA in the baseline ISA).
constexpr bool kAttnFma = false;
#include "backend/cpu/simd/kernels_portable.inc"
#include "backend/cpu/simd/attention_portable.inc"
static void attention(const AttnArgs& a, int64_t i0, int64_t i1) { attn_run(a, i0, i1, p_attn_dec_run, p_attn_block, nullptr); }
}  // namespace generic_isa

const Kernels* kernels_generic() {
  using namespace generic_isa;
  static const Kernels k = {"generic", p_gemm_rows, p_quantize_row, p_decode_row, p_encode_row,
                            p_rms_scale, p_mul_rows,  p_swiglu,       p_add,        attention,
                            nullptr};
  return &k;
}

}  // namespace f8backend::cpu::simd
