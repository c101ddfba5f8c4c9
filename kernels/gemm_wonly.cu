// kernels/gemm_wonly.cu — f8k::gemm_wonly: weight-only GEMM for F32, F16
// and BF16 weights (e.g. a BF16 tied output projection 49152 x 576), FP32
// math, no activation quantization.
//
// What it computes (kernels/gemm.cuh):
//   y[t,n] = sum_k x[t,k] * w[n,k] * s(n,k) + bias[n]
//   x: F32 [T, K] (row stride K, any alignment), w: [N, stride] elements of
//   F32/F16/BF16 (stride * elem size % 16 == 0, pad elements zero), s: any
//   Scale mode (Block needs block_cols % 8 == 0; the host guarantees % 64),
//   y: F32 [T, N]. Tensor/channel scales multiply the finished sum; block
//   scales multiply each 16-byte group's partial sums.
// CPU reference: cpu-ref gemm with a non-FP8 weight (src/backend/cpu/ref/
//   ref_backend.cpp: the same sum in double, ActQuant ignored).
//
// Mapping: a block = kWarps warps, each warp owns kRows consecutive rows;
// grid.x = ceil(N / (kWarps kRows)), grid.y = groups of up to 8 tokens
// (each weight byte is read once per group: T <= 8 reads the weights once).
// The block stages x of its tokens in shared memory in K slices (FP32,
// zero-filled past K, so the K tail needs no special case: pad weights are
// zero too), then every lane streams 16-byte weight vectors (4 F32 or 8
// F16/BF16) of its warp's rows — kUnroll vectors per row in flight — and
// multiplies them with the staged x. Lane partials are reduced with a fixed
// xor-shuffle tree (deterministic).
// Floor: N * K * elem size bytes (BF16 49152 x 576: 56.6 MB, ~13 us at
// 4.26 TB/s); FLOPs 2 T N K on the FP32 pipes (T <= 8: far below their rate).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/gemm.cuh"

namespace f8k {
namespace {

// ---- tuning knobs -------------------------------------------------------------------------
// kWarps  warps per block; kRows rows per warp (x is read from shared memory
// once per k step for all of them: more rows = fewer shared loads per weight
// byte, more registers); kUnroll 16-byte loads per row a lane issues before
// using them (memory-level parallelism: kRows * kUnroll loads in flight per
// lane); kSliceFloats shared floats for staged x (TOK tokens x kSliceFloats /
// TOK k values; 32 KB). Tune with bench_cuda_gemm (BF16 49152 x 576 line).
constexpr int kWarps = 8;
constexpr int kRows = 2;
constexpr int kUnroll = 2;
constexpr int kSliceFloats = 8192;
constexpr int kThreads = kWarps * 32;

__device__ __forceinline__ void ld_weight16(const uint8_t* p, uint32_t* r) {
  asm("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
      : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
      : "l"(p));
}

// 16 bytes of weights -> EPL floats.
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

struct WonlyArgs {
  const float* x;
  int32_t T;
  int64_t K;
  const uint8_t* w;
  int64_t wstride_bytes;
  int64_t N;
  Scale mode;
  const float* scale;
  int32_t block_rows, block_cols;
  int64_t scale_cols;
  const float* bias;
  float* y;
};

template <int ET, int TOK, bool kBlock>
__global__ void __launch_bounds__(kThreads) gemm_wonly_kernel(const WonlyArgs p) {
  constexpr int ESIZE = ET == static_cast<int>(Elem::F32) ? 4 : 2;
  constexpr int EPL = 16 / ESIZE;                 // elements per 16-byte load
  constexpr int KS = kSliceFloats / TOK;          // k values per staged slice
  constexpr int STEP = 32 * EPL;                  // k values per warp-wide load
  static_assert(KS % (STEP * kUnroll) == 0, "slice must hold whole unrolled steps");
  __shared__ __align__(16) float xs[TOK * KS];

  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int32_t t0 = static_cast<int32_t>(blockIdx.y) * TOK;
  const int32_t ntok = p.T - t0 < TOK ? p.T - t0 : TOK;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * (kWarps * kRows) + warp * kRows;
  const int64_t Kp = (p.K + EPL - 1) / EPL * EPL;  // whole 16-byte groups (<= stride)

  const uint8_t* wrow[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t n = n0 + r < p.N ? n0 + r : p.N - 1;
    wrow[r] = p.w + n * p.wstride_bytes;
  }
  float acc[kRows][TOK];
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int t = 0; t < TOK; ++t) acc[r][t] = 0.0f;

  for (int64_t k0 = 0; k0 < Kp; k0 += KS) {
    const int klen = static_cast<int>(Kp - k0 < KS ? Kp - k0 : KS);
    __syncthreads();  // the previous slice is no longer read
    for (int i = threadIdx.x; i < TOK * klen; i += kThreads) {
      const int t = i / klen, kk = i % klen;
      const int64_t k = k0 + kk;
      xs[t * KS + kk] = (t < ntok && k < p.K) ? __ldg(p.x + static_cast<int64_t>(t0 + t) * p.K + k) : 0.0f;
    }
    __syncthreads();

    for (int kb = lane * EPL; kb < klen; kb += STEP * kUnroll) {
      uint32_t wv[kUnroll][kRows][4];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int kk = kb + u * STEP;
        if (kk < klen) {
#pragma unroll
          for (int r = 0; r < kRows; ++r) ld_weight16(wrow[r] + (k0 + kk) * ESIZE, wv[u][r]);
        }
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int kk = kb + u * STEP;
        if (kk < klen) {
          float xv[TOK][EPL];
#pragma unroll
          for (int t = 0; t < TOK; ++t)
#pragma unroll
            for (int j = 0; j < EPL; j += 4) {
              const float4 q = *reinterpret_cast<const float4*>(&xs[t * KS + kk + j]);
              xv[t][j] = q.x;
              xv[t][j + 1] = q.y;
              xv[t][j + 2] = q.z;
              xv[t][j + 3] = q.w;
            }
#pragma unroll
          for (int r = 0; r < kRows; ++r) {
            float wf[EPL];
            decode16<ET>(wv[u][r], wf);
            float sb = 1.0f;
            if constexpr (kBlock) {
              const int64_t n = n0 + r < p.N ? n0 + r : p.N - 1;
              sb = __ldg(p.scale + (n / p.block_rows) * p.scale_cols + (k0 + kk) / p.block_cols);
            }
#pragma unroll
            for (int t = 0; t < TOK; ++t) {
              float part = 0.0f;
#pragma unroll
              for (int e = 0; e < EPL; ++e) part = fmaf(wf[e], xv[t][e], part);
              if constexpr (kBlock)
                acc[r][t] = fmaf(part, sb, acc[r][t]);
              else
                acc[r][t] += part;
            }
          }
        }
      }
    }
  }

  // Warp reduction (xor tree: every lane ends with the full sums), then lane
  // r * TOK + t stores (row r, token t).
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int t = 0; t < TOK; ++t) {
      float v = acc[r][t];
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
      acc[r][t] = v;
    }
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int t = 0; t < TOK; ++t) {
      const int64_t n = n0 + r;
      if (lane == (r * TOK + t) % 32 && n < p.N && t < ntok) {
        float sw = 1.0f;
        if (p.mode == Scale::Tensor) sw = __ldg(p.scale);
        else if (p.mode == Scale::Channel) sw = __ldg(p.scale + n);
        float v = __fmul_rn(acc[r][t], sw);
        if (p.bias) v = __fadd_rn(v, __ldg(p.bias + n));
        p.y[static_cast<int64_t>(t0 + t) * p.N + n] = v;
      }
    }
}

template <int ET, int TOK>
cudaError_t launch_tok(const WonlyArgs& p, cudaStream_t s) {
  const int64_t bx = (p.N + kWarps * kRows - 1) / (kWarps * kRows);
  const int64_t by = (p.T + TOK - 1) / TOK;
  if (bx > 0x7fffffffLL || by > 65535) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(bx), static_cast<unsigned>(by));
  if (p.mode == Scale::Block)
    gemm_wonly_kernel<ET, TOK, true><<<grid, kThreads, 0, s>>>(p);
  else
    gemm_wonly_kernel<ET, TOK, false><<<grid, kThreads, 0, s>>>(p);
  return cudaGetLastError();
}

template <int ET>
cudaError_t launch(const WonlyArgs& p, cudaStream_t s) {
  if (p.T <= 1) return launch_tok<ET, 1>(p, s);
  if (p.T <= 2) return launch_tok<ET, 2>(p, s);
  if (p.T <= 4) return launch_tok<ET, 4>(p, s);
  return launch_tok<ET, 8>(p, s);
}

}  // namespace

int gemm_wonly(const float* x, int32_t T, const DevWeight& w, const float* bias, float* y, void* stream) {
  if (T == 0) return static_cast<int>(cudaSuccess);
  if (T < 0 || w.rows <= 0 || w.cols <= 0) return static_cast<int>(cudaErrorInvalidValue);
  int esize = 0;
  switch (w.type) {
    case Elem::F32: esize = 4; break;
    case Elem::F16:
    case Elem::BF16: esize = 2; break;
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
  if (w.stride < w.cols || (w.stride * esize) % 16 != 0 || reinterpret_cast<uintptr_t>(w.data) % 16 != 0)
    return static_cast<int>(cudaErrorInvalidValue);
  if (w.scale_mode != Scale::None && w.scale == nullptr) return static_cast<int>(cudaErrorInvalidValue);
  if (w.scale_mode == Scale::Block && (w.block_rows <= 0 || w.block_cols <= 0 || w.block_cols % 8 != 0))
    return static_cast<int>(cudaErrorInvalidValue);

  WonlyArgs p{};
  p.x = x;
  p.T = T;
  p.K = w.cols;
  p.w = static_cast<const uint8_t*>(w.data);
  p.wstride_bytes = w.stride * esize;
  p.N = w.rows;
  p.mode = w.scale_mode;
  p.scale = w.scale;
  p.block_rows = w.block_rows;
  p.block_cols = w.block_cols;
  p.scale_cols = w.scale_cols;
  p.bias = bias;
  p.y = y;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (w.type) {
    case Elem::F32: return static_cast<int>(launch<static_cast<int>(Elem::F32)>(p, s));
    case Elem::F16: return static_cast<int>(launch<static_cast<int>(Elem::F16)>(p, s));
    default: return static_cast<int>(launch<static_cast<int>(Elem::BF16)>(p, s));
  }
}

}  // namespace f8k
