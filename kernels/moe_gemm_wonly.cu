// kernels/moe_gemm_wonly.cu — f8k::moe_gemm_wonly: the grouped expert GEMM
// for F32/F16/BF16 expert stacks (a checkpoint converted with the experts
// kept in 16 bits), weight-only: FP32 activations, FP32 math, one launch per
// projection (gate+up fused with the activation, then down), as
// moe_gemm_fp8 but on the FP32 pipes (gemm_wonly.cu's scheme).
//
// What it computes (kernels/moe.cuh MoeGemm), for every slot s < P of
// expert e with input row i(s) = moe::act_row(s, ...):
//   acc_m[s,n] = sum_k xf[i(s),k] * w_m,e[n,k] * sb_m,e(n,k)          (m = 0, 1)
//   v_m = acc_m * sw_m,e(n) + b_m,e[n]
//   y[s,n] = MATS == 2 ? moe::expert_act(v_0, v_1) : v_0
// xf F32 rows (row stride ldx floats), weights [E][N, stride] elements
// (stride * elem size % 16 == 0, pad zero), y F32 [P, ldy]. CPU reference:
// cpu-ref moe_ffn with a non-FP8 stack (src/backend/cpu/ref/ref_moe.cpp).
//
// Mapping: grid.x = row blocks of 8 warps x 2 weight rows (MATS = 2: row n
// of gate and of up; MATS = 1: rows n, n + 1), grid.y = the tile list built
// with B = 8 slots (moe::max_tiles bound; blocks past the count return). The
// block stages its (up to 8) slots' input rows in shared memory in K slices,
// gathered through `order` (zeros past the tile's slots and past K); lanes
// stream 16-byte weight vectors, kUnroll per row in flight; lane partials
// are reduced by a fixed xor-shuffle tree (deterministic, batch-invariant:
// one slot's sums never see another slot's values).
// Floor: the routed experts' weight bytes, read once per 8 slots; FLOPs 2 N K
// per slot and matrix.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/moe.cuh"
#include "kernels/moe_math.h"

namespace f8k {
namespace {

using namespace moe;

constexpr int kWarps = 8;
constexpr int kUnroll = 2;
constexpr int kTok = mma::kN;         // slots per tile (B = 8)
constexpr int kSliceFloats = 8192;    // staged x: kTok rows x 1024 k (32 KB)
constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerWarp = 2;       // weight rows a warp streams

__device__ __forceinline__ void ld_weight16(const uint8_t* p, uint32_t* r) {
  asm("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
      : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
      : "l"(p));
}

template <int ET>
__device__ __forceinline__ void decode16(const uint32_t* v, float* f) {
  if constexpr (ET == static_cast<int>(Elem::F32)) {
#pragma unroll
    for (int j = 0; j < 4; ++j) f[j] = __uint_as_float(v[j]);
  } else if constexpr (ET == static_cast<int>(Elem::BF16)) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      f[2 * j] = __uint_as_float(v[j] << 16);
      f[2 * j + 1] = __uint_as_float(v[j] & 0xFFFF0000u);
    }
  } else {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float2 h = __half22float2(*reinterpret_cast<const __half2*>(&v[j]));
      f[2 * j] = h.x;
      f[2 * j + 1] = h.y;
    }
  }
}

struct WArgs {
  const int32_t* offsets;
  const int32_t* order;
  const int32_t* tile_e;
  const int32_t* tile_s0;
  const int32_t* n_tiles;
  int32_t k;
  bool gathered;
  const float* x;
  int64_t ldx;
  int64_t K;
  const uint8_t* w[2];
  int64_t mat_bytes[2];
  int64_t wstride_bytes;
  int64_t N;
  Scale mode;
  const float* scale[2];
  int64_t mss[2];
  int32_t block_rows, block_cols;
  int64_t scale_cols;
  const float* bias[2];
  int64_t bias_stride;
  int32_t act;
  float alpha, limit;
  float* y;
  int64_t ldy;
};

template <int ET, int MATS, bool kBlock>
__global__ void __launch_bounds__(kThreads) moe_wonly_kernel(const WArgs p) {
  constexpr int ESIZE = ET == static_cast<int>(Elem::F32) ? 4 : 2;
  constexpr int EPL = 16 / ESIZE;          // elements per 16-byte load
  constexpr int KS = kSliceFloats / kTok;  // k values per staged slice
  constexpr int STEP = 32 * EPL;           // k values per warp-wide load
  constexpr int R = kRowsPerWarp / MATS;   // row indices per warp
  static_assert(KS % (STEP * kUnroll) == 0, "slice must hold whole unrolled steps");
  __shared__ __align__(16) float xs[kTok * KS];
  __shared__ int64_t xrow[kTok];

  const int32_t jt = static_cast<int32_t>(blockIdx.y);
  if (jt >= __ldg(p.n_tiles)) return;  // uniform per block
  const int32_t e = __ldg(p.tile_e + jt), s0 = __ldg(p.tile_s0 + jt);
  const int32_t ntok = tile_end(s0, kTok, __ldg(p.offsets + e + 1)) - s0;
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * (kWarps * R) + warp * R;
  if (threadIdx.x < kTok) xrow[threadIdx.x] = threadIdx.x < ntok ? act_row(s0 + threadIdx.x, p.order, p.k, p.gathered) : 0;

  // Weight row q = m * R + r: row n0 + r of matrix m (clamped: valid bytes, never stored).
  const uint8_t* wrow[kRowsPerWarp];
  const float* sc[MATS];
#pragma unroll
  for (int m = 0; m < MATS; ++m) {
    sc[m] = p.scale[m] ? p.scale[m] + e * p.mss[m] : nullptr;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t n = n0 + r < p.N ? n0 + r : p.N - 1;
      wrow[m * R + r] = p.w[m] + e * p.mat_bytes[m] + n * p.wstride_bytes;
    }
  }
  float acc[kRowsPerWarp][kTok];
#pragma unroll
  for (int q = 0; q < kRowsPerWarp; ++q)
#pragma unroll
    for (int t = 0; t < kTok; ++t) acc[q][t] = 0.0f;

  const int64_t Kp = (p.K + EPL - 1) / EPL * EPL;  // whole 16-byte groups (<= stride)
  for (int64_t k0 = 0; k0 < Kp; k0 += KS) {
    const int klen = static_cast<int>(Kp - k0 < KS ? Kp - k0 : KS);
    __syncthreads();  // xrow written; the previous slice no longer read
    for (int i = threadIdx.x; i < kTok * klen; i += kThreads) {
      const int t = i / klen, kk = i % klen;
      const int64_t kx = k0 + kk;
      xs[t * KS + kk] = (t < ntok && kx < p.K) ? __ldg(p.x + xrow[t] * p.ldx + kx) : 0.0f;
    }
    __syncthreads();

    for (int kb = lane * EPL; kb < klen; kb += STEP * kUnroll) {
      uint32_t wv[kUnroll][kRowsPerWarp][4];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int kk = kb + u * STEP;
        if (kk < klen) {
#pragma unroll
          for (int q = 0; q < kRowsPerWarp; ++q) ld_weight16(wrow[q] + (k0 + kk) * ESIZE, wv[u][q]);
        }
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int kk = kb + u * STEP;
        if (kk < klen) {
          float xv[kTok][EPL];
#pragma unroll
          for (int t = 0; t < kTok; ++t)
#pragma unroll
            for (int j = 0; j < EPL; j += 4) {
              const float4 v4 = *reinterpret_cast<const float4*>(&xs[t * KS + kk + j]);
              xv[t][j] = v4.x;
              xv[t][j + 1] = v4.y;
              xv[t][j + 2] = v4.z;
              xv[t][j + 3] = v4.w;
            }
#pragma unroll
          for (int q = 0; q < kRowsPerWarp; ++q) {
            float wf[EPL];
            decode16<ET>(wv[u][q], wf);
            float sb = 1.0f;
            if constexpr (kBlock) {
              const int m = q / R, r = q % R;
              const int64_t n = n0 + r < p.N ? n0 + r : p.N - 1;
              sb = __ldg(sc[m] + (n / p.block_rows) * p.scale_cols + (k0 + kk) / p.block_cols);
            }
#pragma unroll
            for (int t = 0; t < kTok; ++t) {
              float part = 0.0f;
#pragma unroll
              for (int j = 0; j < EPL; ++j) part = fmaf(wf[j], xv[t][j], part);
              if constexpr (kBlock)
                acc[q][t] = fmaf(part, sb, acc[q][t]);
              else
                acc[q][t] += part;
            }
          }
        }
      }
    }
  }

#pragma unroll
  for (int q = 0; q < kRowsPerWarp; ++q)
#pragma unroll
    for (int t = 0; t < kTok; ++t) {
      float v = acc[q][t];
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
      acc[q][t] = v;
    }
  // Lane r * 8 + t stores (row n0 + r, slot s0 + t).
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < kTok; ++t) {
      const int64_t n = n0 + r;
      if (lane != r * kTok + t || n >= p.N || t >= ntok) continue;
      float v[MATS];
#pragma unroll
      for (int m = 0; m < MATS; ++m) {
        float sw = 1.0f;
        if (p.mode == Scale::Tensor) sw = __ldg(sc[m]);
        else if (p.mode == Scale::Channel) sw = __ldg(sc[m] + n);
        v[m] = fmul(acc[m * R + r][t], sw);
        if (p.bias[m]) v[m] = fadd(v[m], __ldg(p.bias[m] + e * p.bias_stride + n));
      }
      float out = v[0];
      if constexpr (MATS == 2) out = expert_act(v[0], v[1], p.act, p.alpha, p.limit);
      p.y[static_cast<int64_t>(s0 + t) * p.ldy + n] = out;
    }
}

template <int ET, int MATS>
cudaError_t launch(const WArgs& p, int32_t by, cudaStream_t s) {
  constexpr int rows = kWarps * (kRowsPerWarp / MATS);
  const int64_t bx = (p.N + rows - 1) / rows;
  if (bx > 0x7fffffffLL || by > 65535) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(bx), static_cast<unsigned>(by));
  if (p.mode == Scale::Block)
    moe_wonly_kernel<ET, MATS, true><<<grid, kThreads, 0, s>>>(p);
  else
    moe_wonly_kernel<ET, MATS, false><<<grid, kThreads, 0, s>>>(p);
  return cudaGetLastError();
}

template <int MATS>
cudaError_t launch_type(const WArgs& p, Elem t, int32_t by, cudaStream_t s) {
  switch (t) {
    case Elem::F32: return launch<static_cast<int>(Elem::F32), MATS>(p, by, s);
    case Elem::F16: return launch<static_cast<int>(Elem::F16), MATS>(p, by, s);
    default: return launch<static_cast<int>(Elem::BF16), MATS>(p, by, s);
  }
}

int esize_of(Elem t) { return t == Elem::F32 ? 4 : (t == Elem::F16 || t == Elem::BF16) ? 2 : 0; }
bool al16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

}  // namespace

int moe_gemm_wonly(const MoeGroup& g, int32_t P, int32_t E, const MoeGemm& m, void* stream) {
  if (P == 0) return static_cast<int>(cudaSuccess);
  const DevWeight& w0 = m.w0.w;
  const DevWeight& w1 = m.w1.w;
  const bool two = w1.data != nullptr;
  const int es = esize_of(w0.type);
  if (P < 0 || E < 1 || es == 0 || w0.rows <= 0 || w0.cols <= 0 || w0.stride < w0.cols ||
      (w0.stride * es) % 16 != 0 || !al16(w0.data) || (m.w0.mat_stride * es) % 16 != 0 || !m.xf || m.ldx < w0.cols ||
      m.k < 1 || !m.y)
    return static_cast<int>(cudaErrorInvalidValue);
  if (two && (w1.type != w0.type || w1.rows != w0.rows || w1.cols != w0.cols || w1.stride != w0.stride ||
              w1.scale_mode != w0.scale_mode || w1.block_rows != w0.block_rows || w1.block_cols != w0.block_cols ||
              w1.scale_cols != w0.scale_cols || !al16(w1.data) || (m.w1.mat_stride * es) % 16 != 0))
    return static_cast<int>(cudaErrorInvalidValue);
  if (w0.scale_mode != Scale::None && (w0.scale == nullptr || (two && w1.scale == nullptr)))
    return static_cast<int>(cudaErrorInvalidValue);
  if (w0.scale_mode == Scale::Block && (w0.block_rows <= 0 || w0.block_cols <= 0 || w0.block_cols % 8 != 0))
    return static_cast<int>(cudaErrorInvalidValue);

  WArgs p{};
  p.offsets = g.offsets;
  p.order = g.order;
  p.tile_e = g.tile_e;
  p.tile_s0 = g.tile_s0;
  p.n_tiles = g.n_tiles;
  p.k = m.k;
  p.gathered = m.gathered;
  p.x = m.xf;
  p.ldx = m.ldx;
  p.K = w0.cols;
  p.w[0] = static_cast<const uint8_t*>(w0.data);
  p.w[1] = two ? static_cast<const uint8_t*>(w1.data) : nullptr;
  p.mat_bytes[0] = m.w0.mat_stride * es;
  p.mat_bytes[1] = two ? m.w1.mat_stride * es : 0;
  p.wstride_bytes = w0.stride * es;
  p.N = w0.rows;
  p.mode = w0.scale_mode;
  p.scale[0] = w0.scale;
  p.scale[1] = two ? w1.scale : nullptr;
  p.mss[0] = m.w0.mat_scale_stride;
  p.mss[1] = two ? m.w1.mat_scale_stride : 0;
  p.block_rows = w0.block_rows;
  p.block_cols = w0.block_cols;
  p.scale_cols = w0.scale_cols;
  p.bias[0] = m.b0;
  p.bias[1] = two ? m.b1 : nullptr;
  p.bias_stride = m.bias_stride;
  p.act = m.act;
  p.alpha = m.alpha;
  p.limit = m.limit;
  p.y = m.y;
  p.ldy = m.ldy;
  const int32_t by = max_tiles(P, E, kTok);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  return static_cast<int>(two ? launch_type<2>(p, w0.type, by, s) : launch_type<1>(p, w0.type, by, s));
}

}  // namespace f8k
