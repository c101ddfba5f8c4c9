// kernels/fmha_fp8.cu — FP8 fused attention for prefill chunks (FMHA):
// Q.K^T and P.V on FP8 tensor cores (mma.sync.m16n8k32.e4m3.e4m3.f32, sm_89
// and sm_90), reading the E4M3 KV cache through each sequence's page table.
// Launcher declared in kernels/fmha.cuh.
//
// Numerics: kernels/fmha_math.h (its CPU emulation, which --emulate-gpu
// runs, is src/backend/cpu/fmha_emul.cpp). Index math: kernels/fmha_tile.h
// (replayed on the CPU by tests/backend/test_cuda_fmha_layout.cpp).
//
// Grid (n_heads, ceil(T / 64)); block 4 warps; warp w owns query rows
// t0 + 16 w .. + 16 of head h. Steps:
//   1. Q: each warp quantizes its 16 rows as two E4M3 terms (the codes of q
//      and of its residual, each with its own scale per row, amax by warp
//      reduction) into shared memory, then loads their A fragments into
//      registers (2 terms x D / 64 chunks x 2 MMAs x 4 words).
//   2. The block's sequences (usually one; a mixed batch may hold several)
//      and the position range of its rows go to shared memory.
//   3. For each of those sequences, for each page of its page table whose
//      positions the rows can see: stage K, V (transposed) and the cell
//      metadata of the page in shared memory; each warp computes its
//      16 x 64 scores S (8 key tiles x D / 64 chunks x 2 MMAs x 2 Q terms), masks the
//      cells its rows do not see (other sequence, later position, outside
//      the window), scales by the folded per-row multiplier, applies the
//      softcap, does one online-softmax step per row (max over the 4 lanes
//      of a row by two shuffles), writes P as E4M3 codes of p * 256 to its
//      P tile and adds P.V (D / 8 dim tiles x 2 MMAs) to its FP32
//      accumulators. Rows of another sequence than the one being walked see
//      nothing in that pass (a no-op step).
//   4. out = acc / l * v_scale, l summed over the 4 lanes of each row (with
//      sinks, gpt-oss: the head's sink folded into (m, l) first, fold_sink).
//
// Bytes: each block reads its sequence's K and V pages once (all of its 64
// rows share them), i.e. per layer ~ceil(T / 64) * n_heads * (visible
// cells) * 2 * D bytes, from L2 mostly (the blocks of one KV group read the
// same pages). FLOPs: 6 * D per (row, visible cell) on tensor cores (Q.K
// twice: the two Q terms), counted as the usual 4 * D in TFLOP/s figures.
#include "kernels/fmha.cuh"

#include <cuda_runtime.h>

#include "kernels/fmha_tile.h"

namespace f8k {
namespace {

using namespace fmha;

struct FmhaArgs {
  KvLayer kv;                // the layer's cache, page tables and scales
  int32_t T;
  AttnQuery qb;              // the query tokens, heads, scale, window, softcap
  float* out;                 // [T, n_heads, D]
};

__device__ __forceinline__ void mma_e4m3(float* d, const uint32_t* a, const uint32_t* b) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 "
      "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <int D>
__global__ void __launch_bounds__(kThreads, 1) fmha_fp8_kernel(const FmhaArgs a) {
  using L = Smem<D>;
  constexpr int KC = D / mma::kChunk;   // 64-dim chunks of Q.K
  constexpr int DT = D / 8;             // dim tiles of P.V
  constexpr int E = D / 32;             // Q elements per lane in the prologue
  constexpr float kNegInf = -__builtin_huge_valf();
  extern __shared__ __align__(16) uint8_t sm[];
  __shared__ unsigned long long s_mask;
  __shared__ int s_pos_min, s_pos_max;

  const int h = blockIdx.x;
  const int t0 = blockIdx.y * kRows;
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  const int g = mma::group_id(lane);
  const int kvh = h / a.qb.group;
  if (threadIdx.x == 0) {
    s_mask = 0;
    s_pos_min = 0x7fffffff;
    s_pos_max = -1;
  }
  __syncthreads();

  // 1. Q rows of this warp as two E4M3 terms (codes of q and of its
  //    residual) into shared memory, their scales in registers of the lanes
  //    that own the row in the C layout (rows g and g + 8).
  float row_qs[2][2] = {{1.0f, 1.0f}, {1.0f, 1.0f}};  // [term][slot]
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int r = w * kRowsPerWarp + rr, t = t0 + r;
    float x[E];
    float amax = 0.0f;
#pragma unroll
    for (int j = 0; j < E; ++j) {
      x[j] = t < a.T ? a.qb.q[(static_cast<size_t>(t) * a.qb.n_heads + h) * D + lane + 32 * j] : 0.0f;
      amax = fmaxf(amax, fabsf(x[j]));
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xFFFFFFFFu, amax, off));
    const float qs = q_scale(amax);
    float ramax = 0.0f;
#pragma unroll
    for (int j = 0; j < E; ++j) {
      const uint8_t hi = q_code(x[j], qs);
      sm[q_index<D>(0, r, lane + 32 * j)] = hi;
      x[j] = q_residual(x[j], hi, qs);
      ramax = fmaxf(ramax, fabsf(x[j]));
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) ramax = fmaxf(ramax, __shfl_xor_sync(0xFFFFFFFFu, ramax, off));
    const float rs = q_scale(ramax);
#pragma unroll
    for (int j = 0; j < E; ++j) sm[q_index<D>(1, r, lane + 32 * j)] = q_code(x[j], rs);
    if (rr == g) row_qs[0][0] = qs, row_qs[1][0] = rs;
    if (rr == g + 8) row_qs[0][1] = qs, row_qs[1][1] = rs;
  }
  __syncwarp();
  uint32_t qa[2][KC][2][4];  // [term][chunk][mma][word]
#pragma unroll
  for (int term = 0; term < 2; ++term)
#pragma unroll
    for (int kc = 0; kc < KC; ++kc) {
      uint32_t wa[4], wb[4];
      ld16(sm + q_frag_offset<D>(w, lane, 0, kc, term), wa);
      ld16(sm + q_frag_offset<D>(w, lane, 1, kc, term), wb);
      mma::assemble_a(wa, wb, 0, qa[term][kc][0]);
      mma::assemble_a(wa, wb, 1, qa[term][kc][1]);
    }

  // 2. This lane's two rows.
  const float kmul = k_mul(a.qb.scale, a.kv.k_scale[0]);
  int row_seq[2], row_pos[2];
  float rmul[2][2];  // [term][slot]
#pragma unroll
  for (int sl = 0; sl < 2; ++sl) {
    const int t = t0 + w * kRowsPerWarp + g + 8 * sl;
    row_seq[sl] = t < a.T ? a.qb.seq[t] : -1;
    row_pos[sl] = t < a.T ? a.qb.pos[t] : -1;
    rmul[0][sl] = row_mul(row_qs[0][sl], kmul);
    rmul[1][sl] = row_mul(row_qs[1][sl], kmul);
    if ((lane & 3) == 0 && row_seq[sl] >= 0 && row_seq[sl] < kKvMaxSeq) {
      atomicOr(&s_mask, 1ull << row_seq[sl]);
      atomicMin(&s_pos_min, row_pos[sl]);
      atomicMax(&s_pos_max, row_pos[sl]);
    }
  }
  __syncthreads();
  unsigned long long mask = s_mask;
  const int tile_pos_min = s_pos_min, tile_pos_max = s_pos_max;

  float m[2] = {kNegInf, kNegInf}, l[2] = {0.0f, 0.0f};
  float acc[DT][4];
#pragma unroll
  for (int j = 0; j < DT; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;

  const size_t row_stride = static_cast<size_t>(a.kv.n_kv_heads) * D;  // bytes between cells
  const uint8_t* kbase = a.kv.k + static_cast<size_t>(kvh) * D;
  const uint8_t* vbase = a.kv.v + static_cast<size_t>(kvh) * D;
  auto* s_pos = reinterpret_cast<int32_t*>(sm + L::kPos);
  auto* s_seqs = reinterpret_cast<unsigned long long*>(sm + L::kSeqs);

  // 3. Pages of each sequence present.
  while (mask) {
    const int sq = __ffsll(static_cast<long long>(mask)) - 1;
    mask &= mask - 1;
    const int e1 = a.kv.list_off[sq + 1];
    for (int e = a.kv.list_off[sq]; e < e1; ++e) {
      const int pg = a.kv.list_pages[e];
      if (a.kv.page_pos_min[pg] > tile_pos_max ||
          (a.qb.window > 0 && static_cast<int64_t>(a.kv.page_pos_max[pg]) <= static_cast<int64_t>(tile_pos_min) - a.qb.window))
        continue;  // block-uniform
      const int c0 = pg * kPage;
      __syncthreads();  // the previous page's shared memory is no longer read
      for (int vi = threadIdx.x; vi < kPage * D / 16; vi += kThreads) {
        const int key = stage_key(vi, D), d0 = stage_dim0(vi, D), c = c0 + key;
        uint4 kx = make_uint4(0, 0, 0, 0);
        if (c < a.kv.n_cells) kx = __ldg(reinterpret_cast<const uint4*>(kbase + static_cast<size_t>(c) * row_stride + d0));
        *reinterpret_cast<uint4*>(sm + L::kK + key * L::kLdq + d0) = kx;
      }
      for (int vi = threadIdx.x; vi < kPage / 4 * D / 16; vi += kThreads) {
        const int k0 = vstage_key0(vi, D), d0 = vstage_dim0(vi, D);
        uint32_t rw[4][4];  // [key][word]
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          uint4 x = make_uint4(0, 0, 0, 0);
          if (c0 + k0 + k < a.kv.n_cells)
            x = __ldg(reinterpret_cast<const uint4*>(vbase + static_cast<size_t>(c0 + k0 + k) * row_stride + d0));
          rw[k][0] = x.x; rw[k][1] = x.y; rw[k][2] = x.z; rw[k][3] = x.w;
        }
#pragma unroll
        for (int wd = 0; wd < 4; ++wd) {
          const uint32_t in[4] = {rw[0][wd], rw[1][wd], rw[2][wd], rw[3][wd]};
          uint32_t tr[4];
          transpose4x4(in, tr);
#pragma unroll
          for (int r = 0; r < 4; ++r)
            *reinterpret_cast<uint32_t*>(sm + L::kVt + vt_index<D>(k0, d0 + 4 * wd + r)) = tr[r];
        }
      }
      if (threadIdx.x < kPage) {
        const int c = c0 + threadIdx.x;
        s_pos[threadIdx.x] = c < a.kv.n_cells ? a.kv.cell_pos[c] : -1;
        s_seqs[threadIdx.x] = c < a.kv.n_cells ? a.kv.cell_seqs[c] : 0ull;
      }
      __syncthreads();

      // S = Q.K^T for the warp's 16 rows x 64 keys: both Q terms against
      // each K fragment, combined into the score right away (mask, scale,
      // softcap) so only one 16 x 64 tile of scores stays in registers.
      float s[8][4];
      float mb[2] = {kNegInf, kNegInf};
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        float hi[4] = {0.0f, 0.0f, 0.0f, 0.0f}, lo[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int kc = 0; kc < KC; ++kc) {
          uint32_t xb[4], b[2];
          ld16(sm + k_frag_offset<D>(lane, j, kc), xb);
          mma::assemble_b(xb, 0, b);
          mma_e4m3(hi, qa[0][kc][0], b);
          mma_e4m3(lo, qa[1][kc][0], b);
          mma::assemble_b(xb, 1, b);
          mma_e4m3(hi, qa[0][kc][1], b);
          mma_e4m3(lo, qa[1][kc][1], b);
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int sl = acc_row_slot(i), key = 8 * j + mma::c_col(lane, i);
          const bool vis = row_seq[sl] == sq &&
                           attn::visible(s_seqs[key], s_pos[key], sq, row_pos[sl], a.qb.window);
          s[j][i] = vis ? score(hi[i], lo[i], rmul[0][sl], rmul[1][sl], a.qb.softcap) : kNegInf;
          mb[sl] = fmaxf(mb[sl], s[j][i]);
        }
      }
      float corr[2];
#pragma unroll
      for (int sl = 0; sl < 2; ++sl) {
        mb[sl] = fmaxf(mb[sl], __shfl_xor_sync(0xFFFFFFFFu, mb[sl], 1));
        mb[sl] = fmaxf(mb[sl], __shfl_xor_sync(0xFFFFFFFFu, mb[sl], 2));
        const float mn = fmaxf(m[sl], mb[sl]);
        corr[sl] = attn::rescale(m[sl], mn);
        m[sl] = mn;
        l[sl] *= corr[sl];
      }
#pragma unroll
      for (int j = 0; j < DT; ++j)
#pragma unroll
        for (int i = 0; i < 4; ++i) acc[j][i] *= corr[acc_row_slot(i)];
      // P codes to the warp's tile; the row sums take the quantized values.
#pragma unroll
      for (int j = 0; j < 8; ++j)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int sl = acc_row_slot(i);
          const uint8_t p8 = p_code(s[j][i], m[sl]);
          l[sl] += p_value(p8);
          sm[p_index<D>(w, mma::c_row(lane, i), 8 * j + mma::c_col(lane, i))] = p8;
        }
      __syncwarp();
      // O += P.V
      uint32_t pa[2][4];
      {
        uint32_t wa[4], wb[4];
        ld16(sm + p_frag_offset<D>(w, lane, 0), wa);
        ld16(sm + p_frag_offset<D>(w, lane, 1), wb);
        mma::assemble_a(wa, wb, 0, pa[0]);
        mma::assemble_a(wa, wb, 1, pa[1]);
      }
#pragma unroll
      for (int j = 0; j < DT; ++j) {
        uint32_t xb[4], b[2];
        ld16(sm + vt_frag_offset<D>(lane, j), xb);
        mma::assemble_b(xb, 0, b);
        mma_e4m3(acc[j], pa[0], b);
        mma::assemble_b(xb, 1, b);
        mma_e4m3(acc[j], pa[1], b);
      }
    }
  }

  // 4. Row sums over the 4 lanes of each row, then the output.
#pragma unroll
  for (int sl = 0; sl < 2; ++sl) {
    l[sl] += __shfl_xor_sync(0xFFFFFFFFu, l[sl], 1);
    l[sl] += __shfl_xor_sync(0xFFFFFFFFu, l[sl], 2);
  }
  const float vs = a.kv.v_scale[0];
  // gpt-oss: the head's sink joins each row's denominator (l counts P x 256).
  float sc[2] = {1.0f, 1.0f};
  if (a.qb.sinks) {
    const float s2 = attn::sink_log2(a.qb.sinks[h]);
#pragma unroll
    for (int sl = 0; sl < 2; ++sl) sc[sl] = attn::fold_sink(m[sl], s2, &l[sl], kPScale);
  }
#pragma unroll
  for (int j = 0; j < DT; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int sl = acc_row_slot(i);
      const int t = t0 + w * kRowsPerWarp + mma::c_row(lane, i);
      if (t < a.T) a.out[(static_cast<size_t>(t) * a.qb.n_heads + h) * D + 8 * j + mma::c_col(lane, i)] =
          attn::finalize(__fmul_rn(acc[j][i], sc[sl]), l[sl], vs);
    }
}

template <int D>
int launch(const FmhaArgs& a, cudaStream_t st) {
  // Every launch (a few microseconds of host time per prefill layer): the
  // attribute belongs to the current device, and tensor-parallel ranks on
  // several GPUs launch from several threads.
  const cudaError_t e =
      cudaFuncSetAttribute(fmha_fp8_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, Smem<D>::kBytes);
  if (e != cudaSuccess) return static_cast<int>(e);
  const dim3 grid(a.qb.n_heads, (a.T + kRows - 1) / kRows);
  fmha_fp8_kernel<D><<<grid, kThreads, Smem<D>::kBytes, st>>>(a);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

size_t fmha_smem_bytes(int32_t head_dim) {
  switch (head_dim) {
    case 64: return Smem<64>::kBytes;
    case 128: return Smem<128>::kBytes;
    case 256: return Smem<256>::kBytes;
    default: return 0;
  }
}

int fmha_fp8(const DevKv& kv, int32_t layer, const float* q, int32_t T, const int32_t* seq, const int32_t* pos,
             int32_t n_heads, float scale, float* out, void* stream, int32_t window, float softcap,
             const float* sinks) {
  if (T <= 0) return static_cast<int>(cudaSuccess);
  const int D = kv.head_dim;
  // Per-layer scales only: per-token scales (kv.k_ts) would have to be
  // folded into the FP8 score and P tiles (the backends run the FP32 kernel).
  if (kv.type != Elem::E4M3 || kv.k_ts || !head_dim_ok(D) || n_heads <= 0 || kv.n_kv_heads <= 0 ||
      n_heads % kv.n_kv_heads != 0 || layer < 0 || layer >= kv.n_layers || n_heads > 65535 ||
      (T + kRows - 1) / kRows > 65535)
    return static_cast<int>(cudaErrorInvalidValue);
  const size_t layer_bytes = static_cast<size_t>(kv.n_cells) * kv.n_kv_heads * D;
  if ((reinterpret_cast<uintptr_t>(kv.k) | reinterpret_cast<uintptr_t>(kv.v) | layer_bytes) % 16 != 0)
    return static_cast<int>(cudaErrorMisalignedAddress);
  FmhaArgs a;
  a.kv = kv_layer(kv, layer, 1);
  a.qb = attn_query(q, seq, pos, n_heads, kv.n_kv_heads, scale, window, softcap, sinks);
  a.T = T;
  a.out = out;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  switch (D) {
    case 64: return launch<64>(a, st);
    case 128: return launch<128>(a, st);
    default: return launch<256>(a, st);
  }
}

}  // namespace f8k
