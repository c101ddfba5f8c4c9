// kernels/gemm_fp8.cu — f8k::gemm_fp8: the small-T (decode) FP8 GEMM on the
// tensor cores, one kernel for sm_89 and sm_90a.
//
// What it computes (the contract in kernels/gemm.cuh):
//   y[t,n] = (sum_k xq[t,k] * wq[n,k] * sb(n,k)) * sx[t] * sw(n) + bias[n]
//   xq: E4M3 [T, ldx] (a.xq, per-token multipliers a.sx), wq: E4M3 or E5M2
//   [N, stride] row-major (DevWeight invariants: stride % 64 == 0, bytes
//   [K, stride) zero, 256-byte aligned), y: F32 [T, N]. FP32 accumulation:
//   each 64-k chunk is summed by two tensor-core MMAs into a zeroed
//   temporary, which is then added (times its block scale, if any) to the
//   FP32 accumulator — the "promotion every 64 k" that keeps the tensor
//   core's reduced internal accumulation precision from growing with K.
//   Then y = (acc * sx) * sw + bias, each op rounded (mma::epilogue_value).
// CPU reference: cpu-ref gemm with ActQuant::DynamicToken / Static
//   (src/backend/cpu/ref/ref_backend.cpp; the same sum in double).
//
// Mapping (see kernels/mma_fp8.h for the fragment layout and the
// k-permutation that makes every load a 16-byte vector):
//   - MMA: m16n8k32, M = 16 weight rows, N = 8 tokens (a "token tile"), K = 32.
//   - block: kWarps warps; the block owns kMT * 16 consecutive weight rows
//     (grid.x = ceil(N / (16 kMT))) and up to 64 tokens (TILES token tiles,
//     grid.y = passes over the weights for T > 64, tokens >= T read as 0).
//   - the K chunks (64 bytes) are split across the warps, interleaved: at
//     each step the block's warps read consecutive chunks; each lane keeps
//     kUnroll chunks (2 kMT weight + TILES activation 16-byte loads each) in
//     flight before its MMAs.
//   - partial accumulators are reduced across warps in shared memory in a
//     fixed order (deterministic, no atomics); the same threads apply the
//     epilogue and store y with 64-byte runs per token.
// Floor (H200, 4.26 TB/s copy bandwidth): bytes = N * K weights (+ T*K
// activations, served from L2) ; FLOPs = 2 * T * N * K (the MMA pads T to
// 8-token tiles). Llama-3-8B per token: 7.18 GB -> ~1.7 ms at copy speed.
// At T <= 64 the work is memory-bound: the kernel's only job is to keep
// enough 16-byte weight loads in flight.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/gemm.cuh"
#include "kernels/mma_fp8.h"

namespace f8k {
namespace {

// ---- tuning knobs: mma::Cfg<TILES> in kernels/mma_fp8.h (kWarps, kMT,
// kUnroll, kMinBlocks), kept there so the CPU layout test replays exactly
// the kernel's schedule.
template <int TILES>
using Fp8Cfg = mma::Cfg<TILES>;

// ---- device primitives ------------------------------------------------------------------
// Streaming weight load: read once, do not allocate in L1, ask L2 to fetch the
// whole 256-byte segment (neighbouring warps want it next).
__device__ __forceinline__ void ld_weight16(const uint8_t* p, uint32_t* r) {
  asm("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
      : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
      : "l"(p));
}
// Activation load: reused by every row block, keep it cached.
__device__ __forceinline__ void ld_act16(const uint8_t* p, uint32_t* r) {
  asm("ld.global.nc.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "l"(p));
}

// d += A * B with A = weights (E4M3 or E5M2), B = activations (E4M3).
template <bool kE5M2>
__device__ __forceinline__ void mma_fp8(float* d, const uint32_t* a, const uint32_t* b) {
  if constexpr (kE5M2) {
    asm("mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e4m3.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
}

struct Fp8Args {
  const uint8_t* w;
  int64_t wstride;  // bytes between weight rows
  int64_t N;
  int64_t nk;       // 64-byte chunks per row: ceil(K / 64)
  const uint8_t* xq;
  int64_t ldx;
  const float* sx;
  int32_t T;
  int32_t tok_base;  // first token of pass blockIdx.y = 0
  Scale mode;
  const float* scale;
  int32_t block_rows, block_cols;
  int64_t scale_cols;
  const float* bias;
  float* y;
};

template <int TILES, bool kE5M2, bool kBlock>
__global__ void __launch_bounds__(Fp8Cfg<TILES>::kWarps * 32, Fp8Cfg<TILES>::kMinBlocks)
    gemm_fp8_kernel(const Fp8Args p) {
  constexpr int W = Fp8Cfg<TILES>::kWarps;
  constexpr int MT = Fp8Cfg<TILES>::kMT;
  constexpr int U = Fp8Cfg<TILES>::kUnroll;
  __shared__ float red[W * TILES * mma::kRedTile];

  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * (16 * MT);
  const int32_t tok0 = p.tok_base + static_cast<int32_t>(blockIdx.y) * mma::kPassTokens;

  // Per-lane base pointers (chunk 0). Rows >= N are clamped to N - 1: they
  // load valid bytes whose results are never stored.
  const uint8_t* wp[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
      const int64_t r = mma::clamp_row(row0 + 16 * mt + mma::load_row(lane, hh), p.N);
      wp[mt][hh] = p.w + r * p.wstride + mma::load_byte(lane);
    }
  const uint8_t* xp[TILES];
  bool xv[TILES];
#pragma unroll
  for (int tile = 0; tile < TILES; ++tile) {
    const int32_t tok = tok0 + tile * mma::kN + mma::load_token(lane);
    xv[tile] = tok < p.T;
    xp[tile] = p.xq + static_cast<int64_t>(xv[tile] ? tok : 0) * p.ldx + mma::load_byte(lane);
  }
  // Block-scale rows of this block's tiles (clamped like the weight rows).
  int64_t srow[MT];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) srow[mt] = mma::scale_tile_row(row0 + 16 * mt, p.N);

  float acc[MT][TILES][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int tile = 0; tile < TILES; ++tile)
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[mt][tile][i] = 0.0f;

  for (int64_t it = 0; mma::chunk_of(warp, it, 0, W, U) < p.nk; ++it) {
    uint32_t wr[U][MT][2][4];
    uint32_t xr[U][TILES][4];
    // All loads of kUnroll chunks first (memory-level parallelism) ...
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t c = mma::chunk_of(warp, it, u, W, U);
      if (c < p.nk) {
        const int64_t off = c * mma::kChunk;
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int hh = 0; hh < 2; ++hh) ld_weight16(wp[mt][hh] + off, wr[u][mt][hh]);
#pragma unroll
        for (int tile = 0; tile < TILES; ++tile) {
          if (xv[tile]) {
            ld_act16(xp[tile] + off, xr[u][tile]);
          } else {
#pragma unroll
            for (int j = 0; j < 4; ++j) xr[u][tile][j] = 0u;
          }
        }
      }
    }
    // ... then the MMAs, chunk by chunk.
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t c = mma::chunk_of(warp, it, u, W, U);
      if (c < p.nk) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          float sb = 1.0f;
          if constexpr (kBlock)
            sb = __ldg(p.scale + mma::block_scale_index(srow[mt], c, p.block_rows, p.block_cols, p.scale_cols));
          uint32_t a0[4], a1[4];
          mma::assemble_a(wr[u][mt][0], wr[u][mt][1], 0, a0);
          mma::assemble_a(wr[u][mt][0], wr[u][mt][1], 1, a1);
#pragma unroll
          for (int tile = 0; tile < TILES; ++tile) {
            uint32_t b0[2], b1[2];
            mma::assemble_b(xr[u][tile], 0, b0);
            mma::assemble_b(xr[u][tile], 1, b1);
            float tmp[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            mma_fp8<kE5M2>(tmp, a0, b0);
            mma_fp8<kE5M2>(tmp, a1, b1);
#pragma unroll
            for (int i = 0; i < 4; ++i) {
              if constexpr (kBlock)
                acc[mt][tile][i] = fmaf(tmp[i], sb, acc[mt][tile][i]);
              else
                acc[mt][tile][i] += tmp[i];
            }
          }
        }
      }
    }
  }

  // Cross-warp reduction (fixed order: warp 0, 1, ...) and epilogue, one
  // 16-row tile at a time.
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    if (mt > 0) __syncthreads();
#pragma unroll
    for (int tile = 0; tile < TILES; ++tile)
#pragma unroll
      for (int i = 0; i < 4; ++i)
        red[(warp * TILES + tile) * mma::kRedTile + mma::red_index(lane, i)] = acc[mt][tile][i];
    __syncthreads();
    for (int j = threadIdx.x; j < TILES * mma::kM * mma::kN; j += W * 32) {
      const int tile = j / (mma::kM * mma::kN);
      const int e = j % (mma::kM * mma::kN);
      const int r = mma::red_elem_row(e), tk = mma::red_elem_tok(e);
      const int64_t n = row0 + 16 * mt + r;
      const int32_t t = tok0 + tile * mma::kN + tk;
      if (n >= p.N || t >= p.T) continue;
      float s = 0.0f;
#pragma unroll
      for (int w = 0; w < W; ++w) s += red[(w * TILES + tile) * mma::kRedTile + tk * mma::kRedTokStride + r];
      float sw = 1.0f;
      if (p.mode == Scale::Tensor) sw = __ldg(p.scale);
      else if (p.mode == Scale::Channel) sw = __ldg(p.scale + n);
      p.y[static_cast<int64_t>(t) * p.N + n] = mma::epilogue_value(s, __ldg(p.sx + t), sw, p.bias, n);
    }
  }
}

template <int TILES, bool kE5M2, bool kBlock>
cudaError_t launch_t(const Fp8Args& p, unsigned passes, cudaStream_t s) {
  constexpr int rows = 16 * Fp8Cfg<TILES>::kMT;
  const int64_t bx = (p.N + rows - 1) / rows;
  if (bx > 0x7fffffffLL || passes > 65535u) return cudaErrorInvalidValue;
  gemm_fp8_kernel<TILES, kE5M2, kBlock>
      <<<dim3(static_cast<unsigned>(bx), passes), Fp8Cfg<TILES>::kWarps * 32, 0, s>>>(p);
  return cudaGetLastError();
}

template <bool kE5M2, bool kBlock>
cudaError_t launch(const Fp8Args& p, int tiles, unsigned passes, cudaStream_t s) {
  switch (tiles) {
    case 1: return launch_t<1, kE5M2, kBlock>(p, passes, s);
    case 2: return launch_t<2, kE5M2, kBlock>(p, passes, s);
    case 4: return launch_t<4, kE5M2, kBlock>(p, passes, s);
    default: return launch_t<8, kE5M2, kBlock>(p, passes, s);
  }
}

cudaError_t dispatch(const Fp8Args& p, bool e5m2, int tiles, unsigned passes, cudaStream_t s) {
  const bool block = p.mode == Scale::Block;
  if (e5m2) return block ? launch<true, true>(p, tiles, passes, s) : launch<true, false>(p, tiles, passes, s);
  return block ? launch<false, true>(p, tiles, passes, s) : launch<false, false>(p, tiles, passes, s);
}

}  // namespace

int gemm_fp8(const DevActQ& a, int32_t T, const DevWeight& w, const float* bias, float* y, void* stream) {
  if (T <= 0 || w.rows <= 0 || w.cols <= 0) return static_cast<int>(T == 0 ? cudaSuccess : cudaErrorInvalidValue);
  if (w.type != Elem::E4M3 && w.type != Elem::E5M2) return static_cast<int>(cudaErrorInvalidValue);
  if (w.stride % mma::kChunk != 0 || w.stride < w.cols || a.ldx % mma::kChunk != 0 || a.ldx < w.cols ||
      reinterpret_cast<uintptr_t>(w.data) % 16 != 0 || reinterpret_cast<uintptr_t>(a.xq) % 16 != 0)
    return static_cast<int>(cudaErrorInvalidValue);
  if (w.scale_mode != Scale::None && w.scale == nullptr) return static_cast<int>(cudaErrorInvalidValue);
  if (w.scale_mode == Scale::Block &&
      (w.block_rows <= 0 || w.block_cols <= 0 || w.block_rows % mma::kM != 0 || w.block_cols % mma::kChunk != 0))
    return static_cast<int>(cudaErrorInvalidValue);

  Fp8Args p{};
  p.w = static_cast<const uint8_t*>(w.data);
  p.wstride = w.stride;
  p.N = w.rows;
  p.nk = (w.cols + mma::kChunk - 1) / mma::kChunk;
  p.xq = a.xq;
  p.ldx = a.ldx;
  p.sx = a.sx;
  p.T = T;
  p.mode = w.scale_mode;
  p.scale = w.scale;
  p.block_rows = w.block_rows;
  p.block_cols = w.block_cols;
  p.scale_cols = w.scale_cols;
  p.bias = bias;
  p.y = y;
  const bool e5m2 = w.type == Elem::E5M2;
  cudaStream_t s = static_cast<cudaStream_t>(stream);

  // Full 64-token passes, then one pass for the rest with the fewest tiles.
  const int32_t full = T / mma::kPassTokens, rest = T % mma::kPassTokens;
  if (full > 0) {
    p.tok_base = 0;
    const cudaError_t e = dispatch(p, e5m2, mma::kMaxTiles, static_cast<unsigned>(full), s);
    if (e != cudaSuccess) return static_cast<int>(e);
  }
  if (rest > 0) {
    p.tok_base = full * mma::kPassTokens;
    const int tiles = mma::tiles_for(rest);
    const cudaError_t e = dispatch(p, e5m2, tiles, 1u, s);
    if (e != cudaSuccess) return static_cast<int>(e);
  }
  return static_cast<int>(cudaSuccess);
}

}  // namespace f8k
