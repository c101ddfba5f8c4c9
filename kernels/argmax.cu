// kernels/argmax.cu — out[t] = first index of the largest x[t, 0:n].
//
// Shapes: x F32 [T, n]; out int32 [T] (device).
// Grid/block: one block per token (gridDim.x = T), up to 1024 threads. Each
// thread scans its strided elements in increasing index order (float4 when
// n % 4 == 0 and x is 16-byte aligned) keeping (value, index) with a strict
// `>`; then warp shuffles and one shared slot per warp reduce the pairs with
// "larger value wins, equal values: smaller index wins", so the result is
// the FIRST index of the maximum regardless of thread scheduling.
// NaN: identical to the CPU reference, whose scan is `best = 0; if (x[i] >
// x[best]) best = i`: NaNs are never chosen (they are skipped); if x[t, 0]
// is NaN the answer is 0 (nothing compares greater than a NaN); if every
// element other than NaNs is absent (all NaN) the answer is 0. Otherwise the
// answer is the first index of the largest non-NaN value (-inf included).
// n == 0: out[t] = 0 (a memset, no kernel), as on the CPU.
// Bytes moved (floor): T*n*4 read + T*4 written.
// CPU reference: RefStream::argmax in src/backend/cpu/ref/ref_backend.cpp
// (bit-for-bit the same answer).
#include <climits>

#include <cuda_runtime.h>

#include "kernels/ops.cuh"

namespace f8k {
namespace {

constexpr int kMaxThreads = 1024;

// Candidate (v, i) beats (bv, bi)? The sentinel (-inf, INT_MAX) loses to
// every real candidate (indices are < INT_MAX) and NaNs never enter.
__device__ __forceinline__ bool beats(float v, int32_t i, float bv, int32_t bi) {
  return v > bv || (v == bv && i < bi);
}

// The warp's best (value, index) into every lane's (bv, bi).
__device__ __forceinline__ void warp_best(float& bv, int32_t& bi) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    const int32_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (beats(ov, oi, bv, bi)) {
      bv = ov;
      bi = oi;
    }
  }
}

__device__ __forceinline__ void take(float v, int32_t i, float& bv, int32_t& bi) {
  // Increasing i within a thread: strict > keeps the first of equal values.
  // A NaN v fails the comparison and is skipped. The sentinel index check
  // lets a -inf value replace the (-inf, INT_MAX) sentinel.
  if (v > bv || (bi == INT_MAX && v == bv)) {
    bv = v;
    bi = i;
  }
}

template <bool kVec>
__global__ void argmax_kernel(const float* __restrict__ x, int32_t n, int32_t* __restrict__ out) {
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * n;
  float bv = -INFINITY;
  int32_t bi = INT_MAX;
  if (kVec) {
    const float4* x4 = reinterpret_cast<const float4*>(xr);
    const int32_t n4 = n >> 2;
    for (int32_t j = threadIdx.x; j < n4; j += blockDim.x) {
      const float4 v = x4[j];
      take(v.x, 4 * j, bv, bi);
      take(v.y, 4 * j + 1, bv, bi);
      take(v.z, 4 * j + 2, bv, bi);
      take(v.w, 4 * j + 3, bv, bi);
    }
  } else {
    for (int32_t j = threadIdx.x; j < n; j += blockDim.x) take(xr[j], j, bv, bi);
  }
  warp_best(bv, bi);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    sv[warp] = bv;
    si[warp] = bi;
  }
  __syncthreads();
  if (warp == 0) {
    const int nwarps = blockDim.x >> 5;
    bv = lane < nwarps ? sv[lane] : -INFINITY;
    bi = lane < nwarps ? si[lane] : INT_MAX;
    warp_best(bv, bi);
    if (lane == 0) out[blockIdx.x] = (bi == INT_MAX || isnan(xr[0])) ? 0 : bi;
  }
}

}  // namespace

int argmax(const float* x, int32_t T, int32_t n, int32_t* out, void* stream) {
  if (T <= 0) return static_cast<int>(cudaSuccess);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (n <= 0) {  // the CPU reference answers 0 without reading x
    return static_cast<int>(cudaMemsetAsync(out, 0, static_cast<size_t>(T) * sizeof(int32_t), s));
  }
  const bool vec = n % 4 == 0 && (reinterpret_cast<uintptr_t>(x) & 15u) == 0;
  const int64_t items = vec ? n / 4 : n;
  int64_t threads = (items + 31) / 32 * 32;
  if (threads > kMaxThreads) threads = kMaxThreads;
  if (vec)
    argmax_kernel<true><<<T, static_cast<int>(threads), 0, s>>>(x, n, out);
  else
    argmax_kernel<false><<<T, static_cast<int>(threads), 0, s>>>(x, n, out);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace f8k
