// kernels/rope.cu — rotary position embedding, HF "rotate_half" layout, in
// place: for every token t, head h and i < half (pairs (i, i + half) in the
// first 2*half dims of the head; dims >= 2*half are left alone):
//   a = float(pos[t]) * inv_freq[i],  c = cosf(a) * f,  s = sinf(a) * f
//   (f = attn_factor: YaRN's mscale, transformers' attention_scaling; 1 otherwise)
//   x0' = x0*c - x1*s,  x1' = x1*c + x0*s        (x0 = x[i], x1 = x[i + half])
//
// Shapes: x F32 [T, n_heads, head_dim]; pos int32 [T] (device);
// RopeTable by value (kernel parameter: 12 + 4*kMaxRopeHalf = 1036 bytes, well
// under the 4 KiB classic kernel-parameter limit, so it also goes into a CUDA
// graph as a plain parameter).
// Grid/block: one block per token (gridDim.x = T), blockDim.x = 128. The
// block first computes cos/sin of its token's `half` angles once into shared
// memory (accurate cosf/sinf, not __cosf/__sinf), then its threads walk the
// n_heads*half pairs of the token (consecutive threads: consecutive i, so
// loads and stores of x0 and of x1 are coalesced).
// Bytes moved (floor): T*n_heads*2*half*4 read + the same written, + T*4 (pos).
// CPU reference: RefStream::rope in src/backend/cpu/ref/ref_backend.cpp
// (std::cos/std::sin in float; CUDA's cosf/sinf are within 2 ulp of the true
// value, so results agree to a few ulp, not always bit for bit). The
// multiply-subtract is done with __fmul_rn/__fadd_rn/__fsub_rn so nvcc cannot
// fuse it into an FMA the CPU reference (x86-64 baseline, no FMA) does not do.
#include <cuda_runtime.h>

#include "kernels/ops.cuh"

namespace f8k {
namespace {

constexpr int kThreads = 128;

static_assert(sizeof(RopeTable) <= 4096, "RopeTable must fit the 4 KiB kernel-parameter limit");

__global__ void rope_kernel(float* __restrict__ x, int32_t n_heads, const int32_t* __restrict__ pos,
                            const RopeTable tab) {
  __shared__ float cs[kMaxRopeHalf], sn[kMaxRopeHalf];
  const int32_t half = tab.half, hd = tab.head_dim;
  const int32_t t = blockIdx.x;
  const float p = static_cast<float>(pos[t]);
  for (int32_t i = threadIdx.x; i < half; i += blockDim.x) {
    const float a = __fmul_rn(p, tab.inv_freq[i]);
    cs[i] = __fmul_rn(cosf(a), tab.attn_factor);
    sn[i] = __fmul_rn(sinf(a), tab.attn_factor);
  }
  __syncthreads();
  float* xt = x + static_cast<int64_t>(t) * n_heads * hd;
  const int32_t pairs = n_heads * half;
  for (int32_t j = threadIdx.x; j < pairs; j += blockDim.x) {
    const int32_t h = j / half, i = j - h * half;
    float* v = xt + static_cast<int64_t>(h) * hd;
    const float x0 = v[i], x1 = v[i + half];
    const float c = cs[i], s = sn[i];
    v[i] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
    v[i + half] = __fadd_rn(__fmul_rn(x1, c), __fmul_rn(x0, s));
  }
}

}  // namespace

int rope(float* x, int32_t T, int32_t n_heads, const int32_t* pos, const RopeTable& tab,
         void* stream) {
  if (T <= 0 || n_heads <= 0 || tab.half <= 0) return static_cast<int>(cudaSuccess);
  if (tab.half > kMaxRopeHalf || 2 * tab.half > tab.head_dim)
    return static_cast<int>(cudaErrorInvalidValue);
  rope_kernel<<<T, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, n_heads, pos, tab);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace f8k
