// mla_cpu.h — multi-head latent attention on the CPU backends (backend.h
// "multi-head latent attention": mla_kv_store, mla_attention). The latent
// cache is a CpuKVCache with mla_kv_lora > 0: K row of a cell = [c (R) ;
// k_pe (P)] in the cache dtype, c / k_scale[l] and k_pe / v_scale[l] for FP8.
//
//   ref_mla_*   cpu/ref: the scalar oracle, every product in double, each
//               form computed exactly as its definition reads.
//   SimdMla     cpu/simd (simd/simd_mla.cpp): threaded, scratch sized once.
#pragma once

#include <memory>
#include <vector>

#include "backend/cpu/cpu_common.h"

namespace f8backend::cpu {

// Whether query (seq, pos) sees cell `ce` (KVCache rules; MLA has no window).
inline bool mla_visible(const KvCells::Cell& ce, int32_t seq, int32_t pos) {
  return seq >= 0 && seq < kMaxSeq && ((ce.seqs >> seq) & 1) && ce.pos <= pos;
}

// A cell's latent row of `layer`, dequantized: dst[R + P] = [c ; k_pe].
void mla_load_row(const CpuKVCache& c, int32_t layer, int32_t cell, float* dst);

void ref_mla_kv_store(CpuKVCache& cache, int32_t layer, const float* c, const float* kpe, const int32_t* cells,
                      int32_t T);
void ref_mla_attention(CpuKVCache& cache, int32_t layer, const float* q, const Weight& kv_b, const MlaDims& d,
                       MlaForm form, const AttnBatch& b, float* out);

}  // namespace f8backend::cpu
