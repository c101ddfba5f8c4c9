// kernels/fp8_codec.cu — the FP8 codec on the device: ggf8/fp8.h compiled by
// nvcc (grid-stride elementwise kernels), plus NVIDIA's cuda_fp8.h
// conversion as a peer for tests.
#include "kernels/fp8_codec.cuh"

#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include "ggf8/fp8.h"

namespace f8k {
namespace {

constexpr int kThreads = 256;

// Blocks for n elements, capped: the kernels are grid-stride loops.
unsigned blocks_for(size_t n) {
  const size_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 65535 ? (b ? b : 1) : 65535);
}

template <bool E4M3>
__global__ void encode_kernel(const float* __restrict__ src, uint8_t* __restrict__ dst, size_t n,
                              float inv_scale, bool sat) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    dst[i] = E4M3 ? ggf8::e4m3_from_f32_scaled(src[i], inv_scale, sat)
                  : ggf8::e5m2_from_f32_scaled(src[i], inv_scale, sat);
}

template <bool E4M3>
__global__ void decode_kernel(const uint8_t* __restrict__ src, float* __restrict__ dst, size_t n,
                              float scale) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    dst[i] = (E4M3 ? ggf8::e4m3_to_f32(src[i]) : ggf8::e5m2_to_f32(src[i])) * scale;
}

__global__ void nv_encode_kernel(const float* __restrict__ src, uint8_t* __restrict__ dst,
                                 size_t n, __nv_fp8_interpretation_t fmt, __nv_saturation_t sat) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    dst[i] = __nv_cvt_float_to_fp8(src[i], sat, fmt);
}

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

}  // namespace

int f32_to_e4m3(const float* src, uint8_t* dst, size_t n, float inv_scale, bool sat, void* s) {
  encode_kernel<true><<<blocks_for(n), kThreads, 0, as_stream(s)>>>(src, dst, n, inv_scale, sat);
  return static_cast<int>(cudaGetLastError());
}
int f32_to_e5m2(const float* src, uint8_t* dst, size_t n, float inv_scale, bool sat, void* s) {
  encode_kernel<false><<<blocks_for(n), kThreads, 0, as_stream(s)>>>(src, dst, n, inv_scale, sat);
  return static_cast<int>(cudaGetLastError());
}
int e4m3_to_f32(const uint8_t* src, float* dst, size_t n, float scale, void* s) {
  decode_kernel<true><<<blocks_for(n), kThreads, 0, as_stream(s)>>>(src, dst, n, scale);
  return static_cast<int>(cudaGetLastError());
}
int e5m2_to_f32(const uint8_t* src, float* dst, size_t n, float scale, void* s) {
  decode_kernel<false><<<blocks_for(n), kThreads, 0, as_stream(s)>>>(src, dst, n, scale);
  return static_cast<int>(cudaGetLastError());
}
int nv_f32_to_fp8(const float* src, uint8_t* dst, size_t n, bool e4m3, bool sat, void* s) {
  nv_encode_kernel<<<blocks_for(n), kThreads, 0, as_stream(s)>>>(
      src, dst, n, e4m3 ? __NV_E4M3 : __NV_E5M2, sat ? __NV_SATFINITE : __NV_NOSAT);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace f8k
