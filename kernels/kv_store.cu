// kernels/kv_store.cu — writes the K and V rows of T tokens into the KV
// cache (launcher declared in kernels/attention.cuh).
//
// What it computes (CPU reference: store_row_scalar in
// src/backend/cpu/cpu_common.cpp, called by RefStream::kv_store): for each
// token t and element i of its row (n = n_kv_heads * head_dim elements),
//   K[layer][cells[t]][i] = enc(k[t*n + i]), V likewise with v, where enc is
//     E4M3/E5M2: ggf8::e4m3_from_f32(x / s) (resp. e5m2), s = k_scale[layer]
//                (v_scale for V), x / s a true IEEE division (__fdiv_rn);
//     F16: round to nearest even (__float2half_rn), NaN -> sign | 0x7E00
//          exactly like cpu::f32_to_f16;
//     BF16: round to nearest even on the bits, NaN -> (bits >> 16) | 0x40
//           exactly like cpu::f32_to_bf16;
//     F32: copy.
// Bit-exact with the CPU for every input.
//
// Shapes: k, v [T, n] F32; cells [T] int32 (a cell outside [0, n_cells) is
// skipped); the cache as in kernels/types.h (DevKv).
// Grid (T, ceil(n / (kThreads * 4))): block (t, b) converts elements
// [b * 1024, b * 1024 + 1024) of token t's K and V rows, 4 consecutive
// elements per thread (float4 load, one 4/8/16-byte store) when n % 4 == 0
// and the pointers allow it; otherwise the same grid with one element per
// thread and 4 strided steps.
// Bytes: reads 2 * T * n * 4, writes 2 * T * n * elem_size.
//
// Per-token scales (E4M3 with DevKv k_ts/v_ts set; CPU reference:
// store_row_token_scaled): each (token, kv head) row of K and of V gets
// s = kvs::scale_for_amax(max finite |x|) (BF16 bits) written to k_ts/v_ts
// and codes e4m3_from_f32(x / s). Grid (T, n_kv_heads), one warp per block: lane i
// takes elements i, i + 32, ... of the head's K and V rows (amax by warp
// shuffles), so each row's scale is known before any of its codes.
#include "kernels/attention.cuh"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "ggf8/fp8.h"
#include "kernels/kv_scale.h"

namespace f8k {
namespace {

constexpr int kThreads = 256;
constexpr int kPerThread = 4;
constexpr int kPerBlock = kThreads * kPerThread;

__device__ __forceinline__ uint16_t to_f16_bits(float x) {
  const uint32_t u = __float_as_uint(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>(((u >> 16) & 0x8000u) | 0x7E00u);
  return __half_as_ushort(__float2half_rn(x));
}

__device__ __forceinline__ uint16_t to_bf16_bits(float x) {
  uint32_t u = __float_as_uint(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// Encoded bits of one element (the low elem_size bytes are meaningful).
template <Elem T>
__device__ __forceinline__ uint32_t encode(float x, float s) {
  if constexpr (T == Elem::E4M3) return ggf8::e4m3_from_f32(__fdiv_rn(x, s));
  else if constexpr (T == Elem::E5M2) return ggf8::e5m2_from_f32(__fdiv_rn(x, s));
  else if constexpr (T == Elem::F16) return to_f16_bits(x);
  else if constexpr (T == Elem::BF16) return to_bf16_bits(x);
  else return __float_as_uint(x);
}

template <Elem T>
struct Store;
template <> struct Store<Elem::F32> { using S = float; };
template <> struct Store<Elem::F16> { using S = uint16_t; };
template <> struct Store<Elem::BF16> { using S = uint16_t; };
template <> struct Store<Elem::E4M3> { using S = uint8_t; };
template <> struct Store<Elem::E5M2> { using S = uint8_t; };

// Four consecutive elements x[0..3] -> dst (aligned to 4 * elem_size).
template <Elem T>
__device__ __forceinline__ void store4(const float4 x, float s, void* dst) {
  const uint32_t a = encode<T>(x.x, s), b = encode<T>(x.y, s), c = encode<T>(x.z, s), d = encode<T>(x.w, s);
  using S = typename Store<T>::S;
  if constexpr (sizeof(S) == 1) {
    *static_cast<uint32_t*>(dst) = a | (b << 8) | (c << 16) | (d << 24);
  } else if constexpr (sizeof(S) == 2) {
    *static_cast<uint2*>(dst) = make_uint2(a | (b << 16), c | (d << 16));
  } else {
    *static_cast<float4*>(dst) = x;
  }
}

struct StoreArgs {
  uint8_t* k;  // layer base
  uint8_t* v;
  const float* k_scale;  // &kv.k_scale[layer] (FP8 only)
  const float* v_scale;
  int32_t n_cells;
  int64_t n;  // elements per row
  const float* src_k;
  const float* src_v;
  const int32_t* cells;
};

template <Elem T, bool VEC>
__global__ void __launch_bounds__(kThreads) kv_store_kernel(const StoreArgs a) {
  using S = typename Store<T>::S;
  const int t = blockIdx.x;
  const int cell = a.cells[t];
  if (cell < 0 || cell >= a.n_cells) return;
  constexpr bool kFp8 = T == Elem::E4M3 || T == Elem::E5M2;
  const float ks = kFp8 ? a.k_scale[0] : 1.0f;
  const float vs = kFp8 ? a.v_scale[0] : 1.0f;
  const float* xk = a.src_k + static_cast<size_t>(t) * a.n;
  const float* xv = a.src_v + static_cast<size_t>(t) * a.n;
  S* dk = reinterpret_cast<S*>(a.k) + static_cast<size_t>(cell) * a.n;
  S* dv = reinterpret_cast<S*>(a.v) + static_cast<size_t>(cell) * a.n;
  const int64_t base = static_cast<int64_t>(blockIdx.y) * kPerBlock;
  if constexpr (VEC) {
    const int64_t i = base + static_cast<int64_t>(threadIdx.x) * kPerThread;
    if (i < a.n) {  // n % 4 == 0, so all four are in range
      store4<T>(*reinterpret_cast<const float4*>(xk + i), ks, dk + i);
      store4<T>(*reinterpret_cast<const float4*>(xv + i), vs, dv + i);
    }
  } else {
#pragma unroll
    for (int r = 0; r < kPerThread; ++r) {
      const int64_t i = base + r * kThreads + threadIdx.x;
      if (i < a.n) {
        dk[i] = static_cast<S>(encode<T>(xk[i], ks));
        dv[i] = static_cast<S>(encode<T>(xv[i], vs));
      }
    }
  }
}

// Per-token scales: block (t, h) stores head h of token t's K and V rows.
struct TokenStoreArgs {
  uint8_t* k;  // layer base
  uint8_t* v;
  uint16_t* k_ts;  // layer base, [n_cells][n_kv_heads] BF16 bits
  uint16_t* v_ts;
  int32_t n_cells, n_kv_heads, head_dim;
  const float* src_k;
  const float* src_v;
  const int32_t* cells;
};

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) x = fmaxf(x, __shfl_xor_sync(0xFFFFFFFFu, x, off));
  return x;
}

__global__ void __launch_bounds__(32) kv_store_token_kernel(const TokenStoreArgs a) {
  const int t = blockIdx.x, h = blockIdx.y, lane = threadIdx.x;
  const int cell = a.cells[t];
  if (cell < 0 || cell >= a.n_cells) return;
  const int D = a.head_dim;
  const size_t n = static_cast<size_t>(a.n_kv_heads) * D;
  const float* xk = a.src_k + static_cast<size_t>(t) * n + static_cast<size_t>(h) * D;
  const float* xv = a.src_v + static_cast<size_t>(t) * n + static_cast<size_t>(h) * D;
  float ka = 0.0f, va = 0.0f;
  for (int i = lane; i < D; i += 32) {
    ka = fmaxf(ka, kvs::finite_abs(xk[i]));
    va = fmaxf(va, kvs::finite_abs(xv[i]));
  }
  const uint16_t ek = kvs::scale_for_amax(warp_max(ka)), ev = kvs::scale_for_amax(warp_max(va));
  const float ks = kvs::scale_value(ek), vs = kvs::scale_value(ev);
  uint8_t* dk = a.k + static_cast<size_t>(cell) * n + static_cast<size_t>(h) * D;
  uint8_t* dv = a.v + static_cast<size_t>(cell) * n + static_cast<size_t>(h) * D;
  for (int i = lane; i < D; i += 32) {
    dk[i] = static_cast<uint8_t>(encode<Elem::E4M3>(xk[i], ks));
    dv[i] = static_cast<uint8_t>(encode<Elem::E4M3>(xv[i], vs));
  }
  if (lane == 0) {
    const size_t ei = static_cast<size_t>(cell) * a.n_kv_heads + h;
    a.k_ts[ei] = ek;
    a.v_ts[ei] = ev;
  }
}

template <Elem T>
int launch(const StoreArgs& a, int32_t T_, bool vec, cudaStream_t st) {
  const unsigned by = static_cast<unsigned>((a.n + kPerBlock - 1) / kPerBlock);
  const dim3 grid(static_cast<unsigned>(T_), by);
  if (vec) kv_store_kernel<T, true><<<grid, kThreads, 0, st>>>(a);
  else kv_store_kernel<T, false><<<grid, kThreads, 0, st>>>(a);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int kv_store(const DevKv& kv, int32_t layer, const float* k, const float* v, const int32_t* cells,
             int32_t T, void* stream) {
  if (T <= 0) return static_cast<int>(cudaSuccess);
  if (layer < 0 || layer >= kv.n_layers || kv.n_kv_heads <= 0 || kv.head_dim <= 0)
    return static_cast<int>(cudaErrorInvalidValue);
  size_t eb = 1;
  switch (kv.type) {
    case Elem::F32: eb = 4; break;
    case Elem::F16: case Elem::BF16: eb = 2; break;
    case Elem::E4M3: case Elem::E5M2: eb = 1; break;
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
  if (kv.k_ts) {  // per-token scales (E4M3 only)
    if (kv.type != Elem::E4M3 || !kv.v_ts) return static_cast<int>(cudaErrorInvalidValue);
    TokenStoreArgs ta;
    const size_t row = static_cast<size_t>(kv.n_kv_heads) * kv.head_dim;
    const size_t ts_layer = static_cast<size_t>(kv.n_cells) * kv.n_kv_heads;
    ta.k = kv.k + size_t(layer) * kv.n_cells * row;
    ta.v = kv.v + size_t(layer) * kv.n_cells * row;
    ta.k_ts = kv.k_ts + size_t(layer) * ts_layer;
    ta.v_ts = kv.v_ts + size_t(layer) * ts_layer;
    ta.n_cells = kv.n_cells;
    ta.n_kv_heads = kv.n_kv_heads;
    ta.head_dim = kv.head_dim;
    ta.src_k = k;
    ta.src_v = v;
    ta.cells = cells;
    const dim3 grid(static_cast<unsigned>(T), static_cast<unsigned>(kv.n_kv_heads));
    kv_store_token_kernel<<<grid, 32, 0, static_cast<cudaStream_t>(stream)>>>(ta);
    return static_cast<int>(cudaGetLastError());
  }
  StoreArgs a;
  a.n = static_cast<int64_t>(kv.n_kv_heads) * kv.head_dim;
  const size_t layer_bytes = static_cast<size_t>(kv.n_cells) * a.n * eb;
  a.k = kv.k + layer * layer_bytes;
  a.v = kv.v + layer * layer_bytes;
  a.k_scale = kv.k_scale + layer;
  a.v_scale = kv.v_scale + layer;
  a.n_cells = kv.n_cells;
  a.src_k = k;
  a.src_v = v;
  a.cells = cells;
  const size_t dst_align = 4 * eb;
  const bool vec = a.n % 4 == 0 && (reinterpret_cast<uintptr_t>(k) | reinterpret_cast<uintptr_t>(v)) % 16 == 0 &&
                   (reinterpret_cast<uintptr_t>(a.k) | reinterpret_cast<uintptr_t>(a.v)) % dst_align == 0;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  switch (kv.type) {
    case Elem::F32: return launch<Elem::F32>(a, T, vec, st);
    case Elem::F16: return launch<Elem::F16>(a, T, vec, st);
    case Elem::BF16: return launch<Elem::BF16>(a, T, vec, st);
    case Elem::E4M3: return launch<Elem::E4M3>(a, T, vec, st);
    case Elem::E5M2: return launch<Elem::E5M2>(a, T, vec, st);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

}  // namespace f8k
