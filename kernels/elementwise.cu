// kernels/elementwise.cu — bandwidth-bound F32 ops:
//   swiglu:   out[i] = g[i] / (1 + expf(-g[i])) * u[i], i < n   (out may be g or u)
//   geglu:    out[i] = gelu_tanh(g[i]) * u[i] (Gemma's gelu_pytorch_tanh,
//             kernels/act_math.h, the CPU's formula), i < n   (out may be g or u)
//   scale:    x[i] *= s, i < n (scalar loop; embedding scale, once per step)
//   add:      x[i] += y[i], i < n
//   get_rows: out[r, :] = x[idx[r], :], r < M, rows of `dim` floats
//
// Grid/block: swiglu and add are grid-stride loops over int64 n, 256 threads,
// float4 when every pointer is 16-byte aligned (n/4 vectors, then the n % 4
// tail scalar by the first threads); each element is read and written by the
// same thread, so out == g / out == u is safe. get_rows: one block per output
// row (gridDim.x = M), threads stride over the row, float4 when dim % 4 == 0
// and x, out are 16-byte aligned; x and out must not overlap.
// Bytes moved (floor): swiglu 12n, add 12n, get_rows 8*M*dim (+ 4M for idx).
// CPU reference: RefStream::swiglu/add/get_rows in
// src/backend/cpu/ref/ref_backend.cpp. swiglu uses the same expression with
// explicitly rounded add/div/mul (no FMA contraction); expf is CUDA's
// accurate one (<= 2 ulp), so swiglu agrees to a few ulp. add and get_rows
// are exact.
#include <cuda_runtime.h>

#include "kernels/act_math.h"
#include "kernels/ops.cuh"

namespace f8k {
namespace {

constexpr int kThreads = 256;

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Blocks for `items` grid-stride work items, capped (the loops stride).
unsigned blocks_for(int64_t items) {
  const int64_t b = (items + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}

__device__ __forceinline__ float silu_mul(float g, float u) {
  return __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u);
}

// The gated activations: out = act(g) * u (SwiGLU and GeGLU).
struct SiluMul {
  __device__ float operator()(float g, float u) const { return silu_mul(g, u); }
};
struct GeluTanhMul {
  __device__ float operator()(float g, float u) const { return act::gelu_tanh(g) * u; }
};

// No __restrict__: out may alias g or u.
template <class Op, bool kVec>
__global__ void gated_kernel(const float* g, const float* u, int64_t n, float* out) {
  const Op op;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n >> 2;
    const float4* g4 = reinterpret_cast<const float4*>(g);
    const float4* u4 = reinterpret_cast<const float4*>(u);
    float4* o4 = reinterpret_cast<float4*>(out);
    for (int64_t j = tid; j < n4; j += stride) {
      const float4 a = g4[j], b = u4[j];
      float4 o;
      o.x = op(a.x, b.x);
      o.y = op(a.y, b.y);
      o.z = op(a.z, b.z);
      o.w = op(a.w, b.w);
      o4[j] = o;
    }
    done = n4 << 2;
  }
  for (int64_t i = done + tid; i < n; i += stride) out[i] = op(g[i], u[i]);
}

template <class Op>
int launch_gated(const float* g, const float* u, int64_t n, float* out, void* stream) {
  if (n <= 0) return static_cast<int>(cudaSuccess);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (aligned16(g) && aligned16(u) && aligned16(out) && n >= 4)
    gated_kernel<Op, true><<<blocks_for(n / 4), kThreads, 0, s>>>(g, u, n, out);
  else
    gated_kernel<Op, false><<<blocks_for(n), kThreads, 0, s>>>(g, u, n, out);
  return static_cast<int>(cudaGetLastError());
}

__global__ void scale_kernel(float* x, int64_t n, float s) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    x[i] = __fmul_rn(x[i], s);
}

template <bool kVec>
__global__ void add_kernel(float* x, const float* y, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n >> 2;
    float4* x4 = reinterpret_cast<float4*>(x);
    const float4* y4 = reinterpret_cast<const float4*>(y);
    for (int64_t j = tid; j < n4; j += stride) {
      float4 a = x4[j];
      const float4 b = y4[j];
      a.x = __fadd_rn(a.x, b.x);
      a.y = __fadd_rn(a.y, b.y);
      a.z = __fadd_rn(a.z, b.z);
      a.w = __fadd_rn(a.w, b.w);
      x4[j] = a;
    }
    done = n4 << 2;
  }
  for (int64_t i = done + tid; i < n; i += stride) x[i] = __fadd_rn(x[i], y[i]);
}

template <bool kVec>
__global__ void get_rows_kernel(const float* __restrict__ x, const int32_t* __restrict__ idx,
                                int32_t dim, float* __restrict__ out) {
  const int64_t r = blockIdx.x;
  const float* src = x + static_cast<int64_t>(idx[r]) * dim;
  float* dst = out + r * dim;
  if (kVec) {
    const float4* s4 = reinterpret_cast<const float4*>(src);
    float4* d4 = reinterpret_cast<float4*>(dst);
    for (int32_t j = threadIdx.x; j < (dim >> 2); j += blockDim.x) d4[j] = s4[j];
  } else {
    for (int32_t j = threadIdx.x; j < dim; j += blockDim.x) dst[j] = src[j];
  }
}

}  // namespace

int swiglu(const float* g, const float* u, int64_t n, float* out, void* stream) {
  return launch_gated<SiluMul>(g, u, n, out, stream);
}

int geglu(const float* g, const float* u, int64_t n, float* out, void* stream) {
  return launch_gated<GeluTanhMul>(g, u, n, out, stream);
}

int scale(float* x, int64_t n, float sc, void* stream) {
  if (n <= 0) return static_cast<int>(cudaSuccess);
  scale_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, n, sc);
  return static_cast<int>(cudaGetLastError());
}

int add(float* x, const float* y, int64_t n, void* stream) {
  if (n <= 0) return static_cast<int>(cudaSuccess);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (aligned16(x) && aligned16(y) && n >= 4)
    add_kernel<true><<<blocks_for(n / 4), kThreads, 0, s>>>(x, y, n);
  else
    add_kernel<false><<<blocks_for(n), kThreads, 0, s>>>(x, y, n);
  return static_cast<int>(cudaGetLastError());
}

int get_rows(const float* x, const int32_t* idx, int32_t M, int32_t dim, float* out, void* stream) {
  if (M <= 0 || dim <= 0) return static_cast<int>(cudaSuccess);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const bool vec = dim % 4 == 0 && aligned16(x) && aligned16(out);
  const int64_t items = vec ? dim / 4 : dim;
  const int threads = items >= kThreads ? kThreads : static_cast<int>((items + 31) / 32 * 32);
  if (vec)
    get_rows_kernel<true><<<M, threads, 0, s>>>(x, idx, dim, out);
  else
    get_rows_kernel<false><<<M, threads, 0, s>>>(x, idx, dim, out);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace f8k
