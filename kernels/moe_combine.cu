// kernels/moe_combine.cu — the end of a MoE layer and the shared expert's gate:
//   moe_combine:        y[t, :] = 0 + w[t, j0] o[s_j0, :] + w[t, j1] o[s_j1, :] + ...
//                       over token t's k slots s_j = slot_of[t k + j] in
//                       ascending slot (= ascending expert id: the slots are
//                       grouped by expert, a token's experts distinct), each
//                       step rounded (moe::combine_step) — cpu-ref moe_ffn's
//                       `acc += wt * o` in its order. A deterministic pass
//                       instead of atomics: the sum's order depends on the
//                       token's own routing only (batch invariance).
//   sigmoid_scale_rows: x[t, :] *= 1 / (1 + exp(-g[t]))  (Qwen2-MoE)
// Grid: one block per token (256 threads over H; thread 0 sorts the token's
// k slots into shared memory first). Bytes: moe_combine reads 4 (k H + 2 k),
// writes 4 H per token; sigmoid_scale_rows 8 dim per token.
// CPU reference: src/backend/cpu/ref/ref_moe.cpp (ref_moe_ffn's last loop,
// ref_sigmoid_scale_rows); expf differs from std::exp by <= 2 ulp.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/moe.cuh"
#include "kernels/moe_math.h"

namespace f8k {
namespace {

using namespace moe;

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    moe_combine_kernel(const float* __restrict__ o, const int32_t* __restrict__ slot_of,
                       const float* __restrict__ w, int32_t k, int64_t H, float* __restrict__ y) {
  __shared__ int32_t sl[kMaxK];
  __shared__ float ws[kMaxK];
  const int64_t t = blockIdx.x;
  if (threadIdx.x == 0) {
    for (int32_t j = 0; j < k; ++j) {
      sl[j] = __ldg(slot_of + t * k + j);
      ws[j] = __ldg(w + t * k + j);
    }
    sort_by_slot(sl, ws, k);
  }
  __syncthreads();
  for (int64_t h = threadIdx.x; h < H; h += kThreads) {
    float acc = 0.0f;
    for (int32_t q = 0; q < k; ++q) acc = combine_step(acc, ws[q], __ldg(o + static_cast<int64_t>(sl[q]) * H + h));
    y[t * H + h] = acc;
  }
}

__global__ void __launch_bounds__(kThreads)
    sigmoid_scale_rows_kernel(float* __restrict__ x, const float* __restrict__ g, int64_t dim) {
  const int64_t t = blockIdx.x;
  const float sg = fdiv(1.0f, fadd(1.0f, fexp(-__ldg(g + t))));
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) x[t * dim + i] = fmul(x[t * dim + i], sg);
}

}  // namespace

int moe_combine(const float* o, const int32_t* slot_of, const float* w, int32_t T, int32_t k, int64_t H, float* y,
                void* stream) {
  if (T == 0) return static_cast<int>(cudaSuccess);
  if (T < 0 || k < 1 || k > kMaxK || H < 1 || T > 0x7fffffff) return static_cast<int>(cudaErrorInvalidValue);
  moe_combine_kernel<<<static_cast<unsigned>(T), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(o, slot_of, w, k,
                                                                                                  H, y);
  return static_cast<int>(cudaGetLastError());
}

int sigmoid_scale_rows(float* x, const float* g, int32_t T, int32_t dim, void* stream) {
  if (T == 0 || dim == 0) return static_cast<int>(cudaSuccess);
  if (T < 0 || dim < 0) return static_cast<int>(cudaErrorInvalidValue);
  sigmoid_scale_rows_kernel<<<static_cast<unsigned>(T), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, g, dim);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace f8k
