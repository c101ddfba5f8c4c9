// kernels/fmha.cuh — host-callable launcher of the FP8 FMHA kernel
// (fmha_fp8.cu). DEVICE pointers; returns the launch's cudaError_t as an
// int; no sync.
#pragma once

#include <cstddef>

#include "kernels/types.h"

namespace f8k {

// out[T, n_heads * D] = attention of q[T, n_heads * D] over the cells each
// token sees, with the FP8 FMHA data flow of kernels/fmha_math.h. Needs an
// E4M3 cache and D = head_dim in {64, 128, 256} (cudaErrorInvalidValue
// otherwise). seq, pos: device int32[T]; window / softcap / sinks as attention().
int fmha_fp8(const DevKv& kv, int32_t layer, const float* q, int32_t T, const int32_t* seq, const int32_t* pos,
             int32_t n_heads, float scale, float* out, void* stream, int32_t window = 0, float softcap = 0.0f,
             const float* sinks = nullptr);

// Dynamic shared memory of one block for head_dim (0: not supported).
size_t fmha_smem_bytes(int32_t head_dim);

}  // namespace f8k
