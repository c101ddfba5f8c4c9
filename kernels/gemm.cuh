// kernels/gemm.cuh — host-callable launchers for the GEMM family
// (gemm_fp8.cu: FP8 tensor-core small-T GEMM; gemm_wonly.cu: F32/F16/BF16
// weight-only GEMM; act_quant.cu: activation quantization and the
// post-cuBLASLt epilogue). Plain C++: callers need not be compiled by nvcc.
// All pointers are DEVICE pointers. Each returns the cudaError_t of its
// launch as an int (0 = success) and does not synchronize. `stream` is a
// cudaStream_t.
//
// The numerics (docs/cuda.md, and what the CPU `--emulate-gpu` reproduces):
//   sx[t] = static_scale > 0 ? static_scale : max(amax(x[t,:]) / 448, kActScaleTiny)
//   xq[t,k] = e4m3_satfinite_rne(x[t,k] / sx[t])            (ggf8::e4m3_from_f32)
//   y[t,n] = (sum_k xq[t,k] * wq[n,k] * sb(n,k)) * sx[t] * sw(n) + bias[n]
// with FP32 accumulation; sb = block scale (1 unless Block), sw = tensor or
// channel scale (1 for Block/None).
#pragma once

#include "kernels/types.h"

namespace f8k {

// Quantizes x[T, K] (row stride K floats) into a.xq[T, a.ldx] and a.sx[T].
// static_scale > 0: that multiplier for every token; else dynamic per token.
// Zero-fills bytes [K, ldx) of each row.
int quantize_act(const float* x, int32_t T, int64_t K, float static_scale, DevActQ a, void* stream);

// FP8 weights (E4M3 or E5M2), any T >= 1 (tokens in tiles of 8, up to 64 per
// pass over the weights). y: [T, N] F32, row stride N. bias: [N] F32 or null.
int gemm_fp8(const DevActQ& a, int32_t T, const DevWeight& w, const float* bias, float* y, void* stream);

// F32/F16/BF16 weights, weight-only: y[t,n] = sum_k x[t,k] * w[n,k] * s(n,k) + bias[n]
// (x F32 [T, K], row stride K). Any T >= 1.
int gemm_wonly(const float* x, int32_t T, const DevWeight& w, const float* bias, float* y, void* stream);

// After cuBLASLt wrote raw[t,n] = sum_k xq[t,k] * wq[n,k] into y (F32, [T, N]):
// y[t,n] = y[t,n] * sx[t] * sw(n) + bias[n]. w: Tensor/Channel/None scale only.
int gemm_epilogue(float* y, int32_t T, const DevWeight& w, const float* sx, const float* bias, void* stream);

}  // namespace f8k
