// kernels/moe_gemm.cu — f8k::moe_gemm_fp8: one grouped FP8 GEMM over every
// routed expert of a MoE layer, in one launch per projection (gate+up fused
// with the activation, then down). The tensor-core kernel of gemm_fp8.cu,
// with each block's weights and activation rows chosen through the grouping
// of kernels/moe_route.cu (index math: kernels/moe_math.h).
//
// What it computes (kernels/moe.cuh MoeGemm), for every slot s < P of
// expert e (tiles: moe::tile_*), input row i(s) = moe::act_row(s, ...):
//   acc_m[s,n] = sum_k xq[i(s),k] * wq_m,e[n,k] * sb_m,e(n,k)     (m = 0, 1)
//   v_m = (acc_m * sx[i(s)]) * sw_m,e(n) + b_m,e[n]   (mma::epilogue_value)
//   y[s,n] = MATS == 2 ? moe::expert_act(v_0, v_1) : v_0
// xq E4M3 [*, ldx] (gate/up: the tokens' rows, quantized once per token by
// quantize_act; down: the slots' activated rows A, quantized per slot),
// weights E4M3/E5M2 stacks [E][N, stride] (DevStack), y F32 [P, ldy].
// FP32 accumulation per 64-k chunk promoted into an FP32 accumulator (as
// gemm_fp8). CPU reference: cpu-ref moe_ffn (src/backend/cpu/ref/
// ref_moe.cpp: per token, per expert, cpu-ref gemm with DynamicToken).
//
// Mapping: grid.x = row tiles of 16 kMT rows, grid.y = tile list entries
// (moe::max_tiles bound; a block past the device count returns at once).
// Block (expert e, rows row0.., slots s0..s1): kWarps warps split the K
// chunks as gemm_fp8 does (same fragment layout and k-permutation, same
// fixed-order shared-memory reduction: deterministic), MATS weight matrices
// per row tile (gate and up: the same rows of both, so the epilogue has
// both values of an output), TILES token tiles of 8 slots whose rows are
// gathered through `order` (each lane loads its slot's row; a slot past s1
// loads zeros and is not stored). Blocks of one tile entry are adjacent in
// launch order, so one expert's rows stream together; only routed experts'
// rows are read (an expert with no slot has no tile).
// Floor: weight bytes of the routed experts, each read once per 8 * TILES
// slots (decode: once); FLOPs 2 * N * K per slot and matrix, padded to 8-slot
// tiles. Decode (few slots per expert) is memory-bound like gemm_fp8.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/moe.cuh"
#include "kernels/moe_math.h"

namespace f8k {
namespace {

using namespace moe;

// Streaming weight load (read once: no L1 allocation, 256-byte L2 fetch).
__device__ __forceinline__ void ld_weight16(const uint8_t* p, uint32_t* r) {
  asm("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
      : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
      : "l"(p));
}
// Activation load (reused by every row tile of the expert: cached).
__device__ __forceinline__ void ld_act16(const uint8_t* p, uint32_t* r) {
  asm("ld.global.nc.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "l"(p));
}
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

struct Args {
  const int32_t* offsets;
  const int32_t* order;
  const int32_t* tile_e;
  const int32_t* tile_s0;
  const int32_t* n_tiles;
  int32_t B, k;
  bool gathered;
  const uint8_t* w[2];
  int64_t mat_bytes[2];  // bytes between experts' matrices
  int64_t wstride;       // bytes between rows (both matrices)
  int64_t N, nk;         // rows per matrix, 64-byte chunks per row
  Scale mode;
  const float* scale[2];
  int64_t mss[2];        // floats between experts' scales (0: shared tensor scale)
  int32_t block_rows, block_cols;
  int64_t scale_cols;
  const float* bias[2];
  int64_t bias_stride;
  const uint8_t* xq;
  int64_t ldx;
  const float* sx;
  int32_t act;
  float alpha, limit;
  float* y;
  int64_t ldy;
};

template <int TILES, int MATS, bool kE5M2, bool kBlock>
__global__ void __launch_bounds__(GemmCfg<TILES, MATS>::kWarps * 32, GemmCfg<TILES, MATS>::kMinBlocks)
    moe_fp8_kernel(const Args p) {
  constexpr int W = GemmCfg<TILES, MATS>::kWarps;
  constexpr int MT = GemmCfg<TILES, MATS>::kMT;
  constexpr int U = GemmCfg<TILES, MATS>::kUnroll;
  constexpr int NR = red_per_thread<TILES, MATS>();
  constexpr int TILE_OUT = mma::kM * mma::kN;  // outputs of one (16-row tile, token tile)
  __shared__ float red[W * TILES * mma::kRedTile];

  const int32_t jt = static_cast<int32_t>(blockIdx.y);
  if (jt >= __ldg(p.n_tiles)) return;  // uniform per block, before any barrier
  const int32_t e = __ldg(p.tile_e + jt), s0 = __ldg(p.tile_s0 + jt);
  const int32_t s1 = tile_end(s0, p.B, __ldg(p.offsets + e + 1));
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * (16 * MT);

  const uint8_t* wp[MATS][MT][2];
  const float* sc[MATS];
#pragma unroll
  for (int m = 0; m < MATS; ++m) {
    const uint8_t* base = p.w[m] + e * p.mat_bytes[m];
    sc[m] = p.scale[m] ? p.scale[m] + e * p.mss[m] : nullptr;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int hh = 0; hh < 2; ++hh) {
        const int64_t r = mma::clamp_row(row0 + 16 * mt + mma::load_row(lane, hh), p.N);
        wp[m][mt][hh] = base + r * p.wstride + mma::load_byte(lane);
      }
  }
  const uint8_t* xp[TILES];
  bool xv[TILES];
#pragma unroll
  for (int tt = 0; tt < TILES; ++tt) {
    const int32_t s = tile_slot(s0, tt, lane);
    xv[tt] = s < s1;
    xp[tt] = p.xq + (xv[tt] ? act_row(s, p.order, p.k, p.gathered) : 0) * p.ldx + mma::load_byte(lane);
  }
  int64_t srow[MT];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) srow[mt] = mma::scale_tile_row(row0 + 16 * mt, p.N);

  float acc[MATS][MT][TILES][4];
#pragma unroll
  for (int m = 0; m < MATS; ++m)
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int tt = 0; tt < TILES; ++tt)
#pragma unroll
        for (int i = 0; i < 4; ++i) acc[m][mt][tt][i] = 0.0f;

  for (int64_t it = 0; mma::chunk_of(warp, it, 0, W, U) < p.nk; ++it) {
    uint32_t wr[U][MATS][MT][2][4];
    uint32_t xr[U][TILES][4];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t c = mma::chunk_of(warp, it, u, W, U);
      if (c < p.nk) {
        const int64_t off = c * mma::kChunk;
#pragma unroll
        for (int m = 0; m < MATS; ++m)
#pragma unroll
          for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int hh = 0; hh < 2; ++hh) ld_weight16(wp[m][mt][hh] + off, wr[u][m][mt][hh]);
#pragma unroll
        for (int tt = 0; tt < TILES; ++tt) {
          if (xv[tt]) {
            ld_act16(xp[tt] + off, xr[u][tt]);
          } else {
#pragma unroll
            for (int q = 0; q < 4; ++q) xr[u][tt][q] = 0u;
          }
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t c = mma::chunk_of(warp, it, u, W, U);
      if (c < p.nk) {
#pragma unroll
        for (int m = 0; m < MATS; ++m)
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            float sb = 1.0f;
            if constexpr (kBlock)
              sb = __ldg(sc[m] + mma::block_scale_index(srow[mt], c, p.block_rows, p.block_cols, p.scale_cols));
            uint32_t a0[4], a1[4];
            mma::assemble_a(wr[u][m][mt][0], wr[u][m][mt][1], 0, a0);
            mma::assemble_a(wr[u][m][mt][0], wr[u][m][mt][1], 1, a1);
#pragma unroll
            for (int tt = 0; tt < TILES; ++tt) {
              uint32_t b0[2], b1[2];
              mma::assemble_b(xr[u][tt], 0, b0);
              mma::assemble_b(xr[u][tt], 1, b1);
              float tmp[4] = {0.0f, 0.0f, 0.0f, 0.0f};
              mma_fp8<kE5M2>(tmp, a0, b0);
              mma_fp8<kE5M2>(tmp, a1, b1);
#pragma unroll
              for (int i = 0; i < 4; ++i) {
                if constexpr (kBlock)
                  acc[m][mt][tt][i] = fmaf(tmp[i], sb, acc[m][mt][tt][i]);
                else
                  acc[m][mt][tt][i] += tmp[i];
              }
            }
          }
      }
    }
  }

  // Cross-warp reduction in a fixed order (warp 0, 1, ...), one matrix of
  // one 16-row tile at a time; each thread keeps its outputs' sums of both
  // matrices, then applies the epilogue.
  const float* b0 = p.bias[0] ? p.bias[0] + e * p.bias_stride : nullptr;
  const float* b1 = MATS == 2 && p.bias[1] ? p.bias[1] + e * p.bias_stride : nullptr;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    float part[MATS][NR];
#pragma unroll
    for (int m = 0; m < MATS; ++m) {
      if (mt > 0 || m > 0) __syncthreads();
#pragma unroll
      for (int tt = 0; tt < TILES; ++tt)
#pragma unroll
        for (int i = 0; i < 4; ++i)
          red[(warp * TILES + tt) * mma::kRedTile + mma::red_index(lane, i)] = acc[m][mt][tt][i];
      __syncthreads();
#pragma unroll
      for (int q = 0; q < NR; ++q) {
        const int jj = threadIdx.x + q * W * 32;
        float s = 0.0f;
        if (jj < TILES * TILE_OUT) {
          const int tt = jj / TILE_OUT, el = jj % TILE_OUT;
          const int r = mma::red_elem_row(el), tk = mma::red_elem_tok(el);
#pragma unroll
          for (int w = 0; w < W; ++w) s += red[(w * TILES + tt) * mma::kRedTile + tk * mma::kRedTokStride + r];
        }
        part[m][q] = s;
      }
    }
#pragma unroll
    for (int q = 0; q < NR; ++q) {
      const int jj = threadIdx.x + q * W * 32;
      if (jj >= TILES * TILE_OUT) continue;
      const int tt = jj / TILE_OUT, el = jj % TILE_OUT;
      const int64_t n = row0 + 16 * mt + mma::red_elem_row(el);
      const int32_t s = s0 + tt * mma::kN + mma::red_elem_tok(el);
      if (n >= p.N || s >= s1) continue;
      const float sx = __ldg(p.sx + act_row(s, p.order, p.k, p.gathered));
      float sw0 = 1.0f, sw1 = 1.0f;
      if (p.mode == Scale::Tensor) {
        sw0 = __ldg(sc[0]);
        if constexpr (MATS == 2) sw1 = __ldg(sc[1]);
      } else if (p.mode == Scale::Channel) {
        sw0 = __ldg(sc[0] + n);
        if constexpr (MATS == 2) sw1 = __ldg(sc[1] + n);
      }
      float v = mma::epilogue_value(part[0][q], sx, sw0, b0, n);
      if constexpr (MATS == 2) v = expert_act(v, mma::epilogue_value(part[1][q], sx, sw1, b1, n), p.act, p.alpha, p.limit);
      p.y[static_cast<int64_t>(s) * p.ldy + n] = v;
    }
  }
}

template <int TILES, int MATS, bool kE5M2, bool kBlock>
cudaError_t launch_t(const Args& p, int32_t by, cudaStream_t s) {
  constexpr int rows = 16 * GemmCfg<TILES, MATS>::kMT;
  const int64_t bx = (p.N + rows - 1) / rows;
  if (bx > 0x7fffffffLL || by > 65535) return cudaErrorInvalidValue;
  moe_fp8_kernel<TILES, MATS, kE5M2, kBlock>
      <<<dim3(static_cast<unsigned>(bx), static_cast<unsigned>(by)), GemmCfg<TILES, MATS>::kWarps * 32, 0, s>>>(p);
  return cudaGetLastError();
}

template <int MATS, bool kE5M2, bool kBlock>
cudaError_t launch(const Args& p, int tiles, int32_t by, cudaStream_t s) {
  switch (tiles) {
    case 1: return launch_t<1, MATS, kE5M2, kBlock>(p, by, s);
    case 2: return launch_t<2, MATS, kE5M2, kBlock>(p, by, s);
    case 4: return launch_t<4, MATS, kE5M2, kBlock>(p, by, s);
    default: return launch_t<8, MATS, kE5M2, kBlock>(p, by, s);
  }
}

template <int MATS>
cudaError_t dispatch(const Args& p, bool e5m2, int tiles, int32_t by, cudaStream_t s) {
  const bool block = p.mode == Scale::Block;
  if (e5m2) return block ? launch<MATS, true, true>(p, tiles, by, s) : launch<MATS, true, false>(p, tiles, by, s);
  return block ? launch<MATS, false, true>(p, tiles, by, s) : launch<MATS, false, false>(p, tiles, by, s);
}

bool fp8(Elem t) { return t == Elem::E4M3 || t == Elem::E5M2; }
bool al16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

}  // namespace

int moe_gemm_fp8(const MoeGroup& g, int32_t P, int32_t E, int tiles, const MoeGemm& m, void* stream) {
  if (P == 0) return static_cast<int>(cudaSuccess);
  const DevWeight& w0 = m.w0.w;
  const DevWeight& w1 = m.w1.w;
  const bool two = w1.data != nullptr;
  if (P < 0 || E < 1 || !(tiles == 1 || tiles == 2 || tiles == 4 || tiles == 8) || !fp8(w0.type) || w0.rows <= 0 ||
      w0.cols <= 0 || w0.stride % mma::kChunk != 0 || w0.stride < w0.cols || m.ldx % mma::kChunk != 0 ||
      m.ldx < w0.cols || !al16(w0.data) || m.w0.mat_stride % 16 != 0 || !al16(m.xq) || m.k < 1 || !m.sx || !m.y)
    return static_cast<int>(cudaErrorInvalidValue);
  if (two && (w1.type != w0.type || w1.rows != w0.rows || w1.cols != w0.cols || w1.stride != w0.stride ||
              w1.scale_mode != w0.scale_mode || w1.block_rows != w0.block_rows || w1.block_cols != w0.block_cols ||
              w1.scale_cols != w0.scale_cols || !al16(w1.data) || m.w1.mat_stride % 16 != 0))
    return static_cast<int>(cudaErrorInvalidValue);
  if (w0.scale_mode != Scale::None && (w0.scale == nullptr || (two && w1.scale == nullptr)))
    return static_cast<int>(cudaErrorInvalidValue);
  if (w0.scale_mode == Scale::Block &&
      (w0.block_rows <= 0 || w0.block_cols <= 0 || w0.block_rows % mma::kM != 0 || w0.block_cols % mma::kChunk != 0))
    return static_cast<int>(cudaErrorInvalidValue);

  Args p{};
  p.offsets = g.offsets;
  p.order = g.order;
  p.tile_e = g.tile_e;
  p.tile_s0 = g.tile_s0;
  p.n_tiles = g.n_tiles;
  p.B = mma::kN * tiles;
  p.k = m.k;
  p.gathered = m.gathered;
  p.w[0] = static_cast<const uint8_t*>(w0.data);
  p.w[1] = two ? static_cast<const uint8_t*>(w1.data) : nullptr;
  p.mat_bytes[0] = m.w0.mat_stride;
  p.mat_bytes[1] = two ? m.w1.mat_stride : 0;
  p.wstride = w0.stride;
  p.N = w0.rows;
  p.nk = (w0.cols + mma::kChunk - 1) / mma::kChunk;
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
  p.xq = m.xq;
  p.ldx = m.ldx;
  p.sx = m.sx;
  p.act = m.act;
  p.alpha = m.alpha;
  p.limit = m.limit;
  p.y = m.y;
  p.ldy = m.ldy;
  const int32_t by = max_tiles(P, E, p.B);
  const bool e5m2 = w0.type == Elem::E5M2;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  return static_cast<int>(two ? dispatch<2>(p, e5m2, tiles, by, s) : dispatch<1>(p, e5m2, tiles, by, s));
}

}  // namespace f8k
