// kernels/act_quant.cu — f8k::quantize_act (activations -> E4M3 + one FP32
// multiplier per token) and f8k::gemm_epilogue (the scaling after a
// cuBLASLt FP8 GEMM).
//
// quantize_act: x F32 [T, K] (row stride K) -> a.xq [T, a.ldx] bytes and
// a.sx [T]; one block per token:
//   sx[t] = static_scale > 0 ? static_scale : max(amax(x[t,:]) / 448, 1/(448*512))
//   xq[t,k] = ggf8::e4m3_from_f32(x[t,k] / sx[t])   (satfinite, RNE), k < K
//   xq[t,k] = 0                                      K <= k < ldx
// Bit-identical with the CPU emulation (cpu-ref gemm, ActQuant::DynamicToken
// / Static; src/backend/cpu/cpu_common.h act_scale_dynamic): the same
// IEEE float divisions (__fdiv_rn, immune to -use_fast_math / -prec-div),
// amax as a max of |x| (NaN inputs ignored, like std::max(amax, NaN)), and
// the same codec (ggf8/fp8.h compiled for the device).
// Cost: reads 4 T K bytes, writes T ldx bytes: a few microseconds at most.
//
// gemm_epilogue: y[t,n] = (y[t,n] * sx[t]) * sw(n) + bias[n], each op
// rounded separately (mma::epilogue_value), exactly as gemm_fp8's epilogue.
#include <cuda_runtime.h>

#include <cstdint>

#include "ggf8/fp8.h"
#include "kernels/gemm.cuh"
#include "kernels/mma_fp8.h"

namespace f8k {
namespace {

constexpr int kQuantThreads = 256;  // per token; K = 4096 -> 4 floats per thread per pass
constexpr int kEpiThreads = 256;
// The CPU's kActScaleTiny (src/backend/backend.h), the same expression.
constexpr float kActScaleTiny = 1.0f / (448.0f * 512.0f);

__global__ void __launch_bounds__(kQuantThreads)
    quantize_act_kernel(const float* __restrict__ x, int64_t K, float static_scale, uint8_t* __restrict__ xq,
                        float* __restrict__ sx, int64_t ldx) {
  __shared__ float warp_max[kQuantThreads / 32];
  __shared__ float scale_sh;
  const int64_t t = blockIdx.x;
  const float* xt = x + t * K;

  if (static_scale > 0.0f) {
    if (threadIdx.x == 0) scale_sh = static_scale;
  } else {
    float m = 0.0f;
    for (int64_t k = threadIdx.x; k < K; k += kQuantThreads) m = fmaxf(m, fabsf(__ldg(xt + k)));
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    if ((threadIdx.x & 31) == 0) warp_max[threadIdx.x >> 5] = m;
    __syncthreads();
    if (threadIdx.x == 0) {
      float amax = warp_max[0];
      for (int w = 1; w < kQuantThreads / 32; ++w) amax = fmaxf(amax, warp_max[w]);
      const float s = __fdiv_rn(amax, ggf8::kE4M3Max);
      scale_sh = s > kActScaleTiny ? s : kActScaleTiny;
    }
  }
  __syncthreads();
  const float s = scale_sh;
  if (threadIdx.x == 0) sx[t] = s;

  // Four bytes per thread per step, stored as one 32-bit word (ldx % 64 == 0).
  uint32_t* row = reinterpret_cast<uint32_t*>(xq + t * ldx);
  for (int64_t k4 = threadIdx.x * 4; k4 < ldx; k4 += kQuantThreads * 4) {
    uint32_t word = 0;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t k = k4 + j;
      const uint32_t q = k < K ? ggf8::e4m3_from_f32(__fdiv_rn(__ldg(xt + k), s)) : 0u;
      word |= q << (8 * j);
    }
    row[k4 >> 2] = word;
  }
}

__global__ void __launch_bounds__(kEpiThreads)
    gemm_epilogue_kernel(float* __restrict__ y, int32_t T, int64_t N, Scale mode, const float* __restrict__ scale,
                         const float* __restrict__ sx, const float* __restrict__ bias) {
  const int64_t total = static_cast<int64_t>(T) * N;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t t = i / N, n = i - t * N;
    float sw = 1.0f;
    if (mode == Scale::Tensor) sw = __ldg(scale);
    else if (mode == Scale::Channel) sw = __ldg(scale + n);
    y[i] = mma::epilogue_value(y[i], __ldg(sx + t), sw, bias, n);
  }
}

}  // namespace

int quantize_act(const float* x, int32_t T, int64_t K, float static_scale, DevActQ a, void* stream) {
  if (T == 0) return static_cast<int>(cudaSuccess);
  if (T < 0 || K <= 0 || a.ldx < K || a.ldx % 64 != 0 || reinterpret_cast<uintptr_t>(a.xq) % 4 != 0)
    return static_cast<int>(cudaErrorInvalidValue);
  quantize_act_kernel<<<static_cast<unsigned>(T), kQuantThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, K, static_scale, a.xq, a.sx, a.ldx);
  return static_cast<int>(cudaGetLastError());
}

int gemm_epilogue(float* y, int32_t T, const DevWeight& w, const float* sx, const float* bias, void* stream) {
  if (T == 0 || w.rows == 0) return static_cast<int>(cudaSuccess);
  if (T < 0 || w.rows < 0 || w.scale_mode == Scale::Block ||
      (w.scale_mode != Scale::None && w.scale == nullptr))
    return static_cast<int>(cudaErrorInvalidValue);
  const int64_t total = static_cast<int64_t>(T) * w.rows;
  int64_t blocks = (total + kEpiThreads - 1) / kEpiThreads;
  if (blocks > 65535 * 8) blocks = 65535 * 8;  // grid-stride beyond that
  gemm_epilogue_kernel<<<static_cast<unsigned>(blocks), kEpiThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      y, T, w.rows, w.scale_mode, w.scale, sx, bias);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace f8k
