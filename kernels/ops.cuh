// kernels/ops.cuh — host-callable launchers for the small kernels:
// rmsnorm.cu, rope.cu, elementwise.cu (swiglu, geglu, scale, add, get_rows), embed.cu,
// argmax.cu. DEVICE pointers; each returns the cudaError_t of its launch as
// an int; none synchronizes. Semantics are those of the same-named ops in
// src/backend/backend.h (the CPU reference is src/backend/cpu/ref).
#pragma once

#include "kernels/types.h"

namespace f8k {

// out[t,:] = x[t,:] / sqrt(mean(x[t,:]^2) + eps) * w; x, out [T, dim] (may alias); w F32 [dim].
int rmsnorm(const float* x, const float* w, float eps, int32_t T, int32_t dim, float* out, void* stream);

// In place on x[T, n_heads, tab.head_dim]: pairs (i, i + half), angle pos[t] * inv_freq[i].
int rope(float* x, int32_t T, int32_t n_heads, const int32_t* pos, const RopeTable& tab, void* stream);

// out[i] = silu(g[i]) * u[i]  (out may alias g or u).
int swiglu(const float* g, const float* u, int64_t n, float* out, void* stream);
// out[i] = gelu_tanh(g[i]) * u[i] (GeGLU; out may alias g or u).
int geglu(const float* g, const float* u, int64_t n, float* out, void* stream);
// x[i] *= s.
int scale(float* x, int64_t n, float s, void* stream);
// x[i] += y[i].
int add(float* x, const float* y, int64_t n, void* stream);
// out[i, :] = x[idx[i], :], i < M.
int get_rows(const float* x, const int32_t* idx, int32_t M, int32_t dim, float* out, void* stream);

// out[t, :] = table[ids[t], :] dequantized with its scale (any Elem / Scale).
int embed(const DevWeight& table, const int32_t* ids, int32_t T, float* out, void* stream);

// out[t] = first index of the max of x[t, 0:n].
int argmax(const float* x, int32_t T, int32_t n, int32_t* out, void* stream);

}  // namespace f8k
