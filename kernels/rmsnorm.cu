// kernels/rmsnorm.cu — RMSNorm: out[t,:] = x[t,:] * r_t * w, with
// r_t = 1 / sqrt(mean(x[t,:]^2) + eps).
//
// Shapes: x, out F32 [T, dim] (they may be the same pointer); w F32 [dim].
// Grid/block: one block per token (gridDim.x = T), blockDim.x a multiple of
// 32 (<= 512) sized to the row. Pass 1: each thread sums the squares of its
// strided elements in FP32, warp shuffles then one shared slot per warp give
// the block total. Pass 2 (after the barrier inside the reduction): each
// thread rereads the SAME elements it read in pass 1 and writes them, so
// x == out is safe (no thread ever reads an element another thread writes,
// and every pass-1 read is done before the barrier that precedes any write).
// float4 path when dim % 4 == 0 and x, w, out are 16-byte aligned.
// Bytes moved (floor): T*dim*4 read + T*dim*4 written + dim*4 (w, cached).
// CPU reference: RefStream::rmsnorm in src/backend/cpu/ref/ref_backend.cpp
// (double sum there, FP32 here: results agree to a few ulp, not bit for bit;
// r is formed in double from the FP32 sum exactly as the CPU forms it from its
// double sum, and out = (x * r) * w with two separately rounded multiplies).
#include <cuda_runtime.h>

#include "kernels/ops.cuh"

namespace f8k {
namespace {

constexpr int kMaxThreads = 512;

// Sum of v over the block; every thread gets the result. Contains barriers:
// every thread of the block must call it. `red` holds >= 32 floats.
__device__ __forceinline__ float block_sum(float v, float* red) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int nwarps = blockDim.x >> 5;
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float s = lane < nwarps ? red[lane] : 0.0f;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) red[32] = s;
  }
  __syncthreads();
  return red[32];
}

__device__ __forceinline__ float scale_of(float ss, int32_t dim, float eps) {
  // Same expression as the CPU: 1.0 / sqrt(ss / dim + eps) in double.
  return static_cast<float>(1.0 / sqrt(static_cast<double>(ss) / dim + static_cast<double>(eps)));
}

// x and out may alias: no __restrict__ on them.
template <bool kVec>
__global__ void rmsnorm_kernel(const float* x, const float* __restrict__ w, float eps,
                               int32_t dim, float* out) {
  __shared__ float red[33];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * dim;
  const float* xr = x + base;
  float* yr = out + base;
  float ss = 0.0f;
  if (kVec) {
    const int32_t n4 = dim >> 2;
    const float4* x4 = reinterpret_cast<const float4*>(xr);
    for (int32_t j = threadIdx.x; j < n4; j += blockDim.x) {
      const float4 v = x4[j];
      ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
  } else {
    for (int32_t j = threadIdx.x; j < dim; j += blockDim.x) {
      const float v = xr[j];
      ss += v * v;
    }
  }
  const float r = scale_of(block_sum(ss, red), dim, eps);
  if (kVec) {
    const int32_t n4 = dim >> 2;
    const float4* x4 = reinterpret_cast<const float4*>(xr);
    const float4* w4 = reinterpret_cast<const float4*>(w);
    float4* y4 = reinterpret_cast<float4*>(yr);
    for (int32_t j = threadIdx.x; j < n4; j += blockDim.x) {
      const float4 v = x4[j], g = w4[j];
      float4 o;
      o.x = __fmul_rn(__fmul_rn(v.x, r), g.x);
      o.y = __fmul_rn(__fmul_rn(v.y, r), g.y);
      o.z = __fmul_rn(__fmul_rn(v.z, r), g.z);
      o.w = __fmul_rn(__fmul_rn(v.w, r), g.w);
      y4[j] = o;
    }
  } else {
    for (int32_t j = threadIdx.x; j < dim; j += blockDim.x)
      yr[j] = __fmul_rn(__fmul_rn(xr[j], r), w[j]);
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

int threads_for(int64_t items) {
  int64_t t = (items + 31) / 32 * 32;
  if (t < 32) t = 32;
  if (t > kMaxThreads) t = kMaxThreads;
  return static_cast<int>(t);
}

}  // namespace

int rmsnorm(const float* x, const float* w, float eps, int32_t T, int32_t dim, float* out,
            void* stream) {
  if (T <= 0 || dim <= 0) return static_cast<int>(cudaSuccess);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const bool vec = (dim % 4 == 0) && aligned16(x) && aligned16(w) && aligned16(out);
  if (vec) {
    rmsnorm_kernel<true><<<T, threads_for(dim / 4), 0, s>>>(x, w, eps, dim, out);
  } else {
    rmsnorm_kernel<false><<<T, threads_for(dim), 0, s>>>(x, w, eps, dim, out);
  }
  return static_cast<int>(cudaGetLastError());
}

}  // namespace f8k
