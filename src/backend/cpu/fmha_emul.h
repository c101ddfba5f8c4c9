// fmha_emul.h — the CPU emulation of FP8 fused attention (FMHA): the data
// flow of kernels/fmha_fp8.cu step by step (Q as two E4M3 terms per row with
// their own scales, FP8 x FP8 scores with the K and softmax scales folded into one
// multiplier, P quantized to E4M3 with the fixed scale 256 and the row sum
// taken from the quantized P, one page of cells per online-softmax step),
// with the numerics of kernels/fmha_math.h. Both CPU backends run it for an
// AttnBatch with fp8_fmha set (the model sets it when activations are FP8:
// --emulate-gpu on the CPU, always on the GPU).
#pragma once

#include <cstdint>
#include <vector>

#include "backend/cpu/cpu_common.h"

namespace f8backend::cpu {

// One layer's K and V codes as float values for cells [0, hi): k, v each
// [hi][n_kv_heads * head_dim]. Decoded once per attention call (O(cells))
// and shared by every thread that runs rows of it (O(rows x cells)).
struct FmhaLayerValues {
  std::vector<float> k, v;
};
// Fills *out for `layer` (reuses its capacity). Nothing for a cache the
// emulation does not run (not E4M3).
void fmha_decode_layer(const CpuKVCache& cache, int32_t layer, FmhaLayerValues* out);

// Rows [i0, i1) of the batch, row i = token i / n_heads, head i % n_heads.
// q, out: [T, n_heads * head_dim]; kv: fmha_decode_layer of the same layer,
// made after the batch's kv_store. The cache must be E4M3 and head_dim one
// the kernel runs (f8k::fmha::head_dim_ok); anything else writes zeros.
void fmha_fp8_emulate(const CpuKVCache& cache, const FmhaLayerValues& kv, int32_t layer, const float* q,
                      const AttnBatch& b, float* out, int64_t i0, int64_t i1);

}  // namespace f8backend::cpu
