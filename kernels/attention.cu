// kernels/attention.cu — decode/prefill attention over the KV cache
// (flash-decoding), launchers declared in kernels/attention.cuh.
//
// What it computes (CPU reference: RefStream::attention in
// src/backend/cpu/ref/ref_backend.cpp): for each query token t (sequence
// seq[t], position pos[t]) and head h,
//   out[t, h*D:(h+1)*D] = sum_c softmax_c(q[t,h] . K[c,kvh] * scale) * V[c,kvh]
// over the cells that token sees (attn::visible), found through its sequence's pages, kvh = h / (n_heads /
// n_kv_heads) (GQA); zeros when it sees no cell. With sinks (gpt-oss) the
// head's sink logit joins the softmax denominator (attn::fold_sink, once, on
// the final state: the S = 1 epilogue or the merge kernel). K/V are decoded on load and
// multiplied by k_scale[layer] / v_scale[layer] (FP8 caches only: F32/F16/BF16
// ignore the scales, as the CPU does); with per-token scales (kv.k_ts set,
// kernels/kv_scale.h) the layer scales are 1 and each cell's score is
// multiplied by its K row's scale s and its probability by its V row's s
// before the P.V product (rounded: the CPU decodes code * s exactly first,
// so these kernels match it to rounding, not bit for bit);
// all arithmetic is FP32.
//
// Shapes: q, out [T, n_heads * D] F32 (D = head_dim <= 256); K, V
// [n_layers][n_cells][n_kv_heads][D] of kv.type; work: see
// attention_workspace_floats (acc [T][n_heads][S][D], then (m, l)
// [T][n_heads][S][2]; S = n_splits).
//
// Kernel 1, attn_split_kernel: grid (n_heads, T, S), block kWarps warps.
//   Block (h, t, s) reads token t's page table (the pages of its sequence,
//   DevKv list_off/list_pages) from device memory (a CUDA graph captured
//   once stays valid as the context grows) and takes split s of its entries
//   (attn::split_range), skipping pages whose position range the token
//   cannot see. In each page its warps take chunks of U consecutive cells
//   round-robin; the lanes of a warp take head_dim slices (D = 64/128/256:
//   lane owns D/32 contiguous elements, one vector load per cell; any other
//   D: lane owns elements lane + 32 j). Per chunk a warp loads the visibility
//   of its U cells (one ballot), then the K and V rows of the visible ones
//   (2U loads in flight per lane), computes U FP32 dot products (butterfly
//   reduced), and does one online-softmax step (attn::rescale / attn::prob)
//   in the log2 domain. The warps' (m, l, acc) are merged through shared
//   memory; with S = 1 the block writes out directly, else its partial goes
//   to work.
// Kernel 2, attn_merge_kernel (S > 1): grid (n_heads, T), merges the S
//   partials by log-sum-exp (attn::merge_weight) and writes out.
// attn_det_kernel (attention_det, --deterministic): grid (n_heads, T), the
//   order of kernels/attn_det.h: the token's cells in position order through
//   its sequence's list, position blocks computed by warps and folded in
//   block order; no split, no workspace, no dependence on T or the layout.
//
// Bytes moved (decode, per layer): every visible K/V row of each kv head is
// read by one warp of each of the n_heads / n_kv_heads blocks of its group
// (the group's blocks are adjacent in the grid, so DRAM sees it ~once and L2
// the rest): ~2 * n_visible * n_kv_heads * D * elem_size bytes from DRAM,
// plus 12 bytes of cell metadata per cell of the sequence's pages per block
// (from L2), plus
// T * n_heads * S * (D + 2) * 4 * 2 bytes of workspace.
#include "kernels/attention.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include "ggf8/fp8.h"
#include "kernels/attn_det.h"
#include "kernels/attn_math.h"
#include "kernels/kv_scale.h"

namespace f8k {
namespace {

constexpr int kWarps = 4;                // warps per block (tuning knob)
constexpr int kThreads = kWarps * 32;
constexpr int kMaxHeadDim = 256;
constexpr int kMaxSplits = 64;
constexpr int kSplitWaves = 2;           // attention_splits targets this many waves of n_sm blocks
constexpr int kRegBudgetWords = 16;      // 32-bit registers per lane per K (and per V) chunk
constexpr int kMaxGridY = 65535;

// ---- element types ----------------------------------------------------------------
template <Elem T> struct ElemTraits;
template <> struct ElemTraits<Elem::F32> { using S = float; };
template <> struct ElemTraits<Elem::F16> { using S = uint16_t; };
template <> struct ElemTraits<Elem::BF16> { using S = uint16_t; };
template <> struct ElemTraits<Elem::E4M3> { using S = uint8_t; };
template <> struct ElemTraits<Elem::E5M2> { using S = uint8_t; };

// One stored element to float, exact.
template <Elem T>
__device__ __forceinline__ float decode1(typename ElemTraits<T>::S x) {
  if constexpr (T == Elem::F32) return x;
  else if constexpr (T == Elem::F16) return __half2float(__ushort_as_half(x));
  else if constexpr (T == Elem::BF16) return __uint_as_float(static_cast<uint32_t>(x) << 16);
  else if constexpr (T == Elem::E4M3) return ggf8::e4m3_to_f32(x);
  else return ggf8::e5m2_to_f32(x);
}

// Two FP8 codes (low byte = first element) to two floats: one hardware
// cvt.rn.f16x2.{e4m3,e5m2}x2 on sm_89+ (exact: every FP8 value is an FP16).
template <Elem T>
__device__ __forceinline__ float2 fp8x2_to_float2(uint32_t two_bytes) {
  const __half2_raw hr = __nv_cvt_fp8x2_to_halfraw2(
      static_cast<__nv_fp8x2_storage_t>(two_bytes & 0xFFFFu), T == Elem::E4M3 ? __NV_E4M3 : __NV_E5M2);
  return __half22float2(__half2(hr));
}

// A lane's share of one K or V row of D elements.
//   VEC:  lane owns elements [lane*E, lane*E + E) (D == 32 E), one vector load.
//   !VEC: lane owns elements lane + 32 j, j < E, those < D (any D <= 32 E).
template <Elem T, int E, bool VEC>
struct LaneRow {
  using S = typename ElemTraits<T>::S;
  static constexpr int kBytes = E * static_cast<int>(sizeof(S));
  // Registers holding the raw bytes (VEC: packed; !VEC: one per element).
  static constexpr int kWords = VEC ? (kBytes < 4 ? 1 : kBytes / 4) : E;
  struct Raw {
    uint32_t w[kWords];
  };

  __device__ __forceinline__ static int dim(int lane, int j) { return VEC ? lane * E + j : lane + 32 * j; }
  __device__ __forceinline__ static bool valid(int lane, int j, int D) { return VEC || lane + 32 * j < D; }

  // row: the D elements of one (cell, kv head).
  __device__ __forceinline__ static void load(const S* __restrict__ row, int lane, int D, Raw& r) {
    if constexpr (VEC) {
      const S* p = row + lane * E;
      if constexpr (kBytes == 2) {
        r.w[0] = __ldg(reinterpret_cast<const unsigned short*>(p));
      } else if constexpr (kBytes == 4) {
        r.w[0] = __ldg(reinterpret_cast<const unsigned int*>(p));
      } else if constexpr (kBytes == 8) {
        const uint2 x = __ldg(reinterpret_cast<const uint2*>(p));
        r.w[0] = x.x; r.w[1] = x.y;
      } else {
        static_assert(kBytes % 16 == 0, "vector width");
#pragma unroll
        for (int i = 0; i < kBytes / 16; ++i) {
          const uint4 x = __ldg(reinterpret_cast<const uint4*>(p) + i);
          r.w[4 * i] = x.x; r.w[4 * i + 1] = x.y; r.w[4 * i + 2] = x.z; r.w[4 * i + 3] = x.w;
        }
      }
    } else {
#pragma unroll
      for (int j = 0; j < E; ++j) {
        const int d = lane + 32 * j;
        uint32_t x = 0;
        if (d < D) {
          if constexpr (sizeof(S) == 4) x = __float_as_uint(__ldg(reinterpret_cast<const float*>(row) + d));
          else if constexpr (sizeof(S) == 2) x = __ldg(reinterpret_cast<const unsigned short*>(row) + d);
          else x = __ldg(reinterpret_cast<const unsigned char*>(row) + d);
        }
        r.w[j] = x;
      }
    }
  }

  __device__ __forceinline__ static void zero(Raw& r) {
#pragma unroll
    for (int i = 0; i < kWords; ++i) r.w[i] = 0;
  }

  __device__ __forceinline__ static void decode(const Raw& r, float (&f)[E]) {
    if constexpr (!VEC) {
#pragma unroll
      for (int j = 0; j < E; ++j) {
        if constexpr (T == Elem::F32) f[j] = __uint_as_float(r.w[j]);
        else f[j] = decode1<T>(static_cast<S>(r.w[j]));
      }
    } else if constexpr (T == Elem::F32) {
#pragma unroll
      for (int j = 0; j < E; ++j) f[j] = __uint_as_float(r.w[j]);
    } else if constexpr (T == Elem::F16) {
#pragma unroll
      for (int i = 0; i < E / 2; ++i) {
        const float2 x = __half22float2(__halves2half2(__ushort_as_half(static_cast<unsigned short>(r.w[i] & 0xFFFFu)),
                                                       __ushort_as_half(static_cast<unsigned short>(r.w[i] >> 16))));
        f[2 * i] = x.x; f[2 * i + 1] = x.y;
      }
    } else if constexpr (T == Elem::BF16) {
#pragma unroll
      for (int i = 0; i < E / 2; ++i) {
        f[2 * i] = __uint_as_float(r.w[i] << 16);
        f[2 * i + 1] = __uint_as_float(r.w[i] & 0xFFFF0000u);
      }
    } else {  // FP8: two codes per cvt
#pragma unroll
      for (int i = 0; i < E / 2; ++i) {
        const float2 x = fp8x2_to_float2<T>(r.w[i / 2] >> (16 * (i % 2)));
        f[2 * i] = x.x; f[2 * i + 1] = x.y;
      }
    }
  }
};

// Cells per warp chunk: as many as fit kRegBudgetWords registers per K (and V).
template <Elem T, int E, bool VEC>
struct ChunkCells {
  static constexpr int kU = kRegBudgetWords / LaneRow<T, E, VEC>::kWords;
  static constexpr int value = kU < 2 ? 2 : (kU > 16 ? 16 : kU);
};

struct AttnArgs {
  KvLayer kv;                // the layer's cache, page tables and scales
  int32_t n_splits, t0;
  AttnQuery qb;              // the query tokens, heads, scale, window, softcap
  float* work_acc;           // [T][n_heads][S][D]
  float* work_ml;            // [T][n_heads][S][2]
  float* out;
};

template <Elem T, int E, bool VEC>
__global__ void __launch_bounds__(kThreads) attn_split_kernel(const AttnArgs a) {
  using LR = LaneRow<T, E, VEC>;
  using S = typename LR::S;
  constexpr int U = ChunkCells<T, E, VEC>::value;
  constexpr float kNegInf = -__builtin_huge_valf();

  const int h = blockIdx.x;
  const int t = blockIdx.y + a.t0;
  const int s = blockIdx.z;
  const int lane = threadIdx.x & 31;
  const int w = threadIdx.x >> 5;
  const int D = a.kv.head_dim;
  const int kvh = h / a.qb.group;

  const int sq = a.qb.seq[t];
  const int qp = a.qb.pos[t];
  // The token's page table: split s takes a balanced range of its entries.
  int n_list = 0;
  const int32_t* list = a.kv.list_pages;
  if (sq >= 0 && sq < kKvMaxSeq) {
    const int o0 = a.kv.list_off[sq];
    list += o0;
    n_list = a.kv.list_off[sq + 1] - o0;
  }
  const attn::SplitRange r = attn::split_range(s, a.n_splits, n_list);

  // q pre-multiplied so that a dot product with raw K is a log2-domain score.
  constexpr bool kFp8 = T == Elem::E4M3 || T == Elem::E5M2;  // scales apply to FP8 only (as on the CPU)
  const float qmul = a.qb.scale * (kFp8 ? a.kv.k_scale[0] : 1.0f) * attn::kLog2e;
  const float* qrow = a.qb.q + (static_cast<size_t>(t) * a.qb.n_heads + h) * D;
  float qf[E], acc[E];
#pragma unroll
  for (int j = 0; j < E; ++j) {
    qf[j] = LR::valid(lane, j, D) ? qrow[LR::dim(lane, j)] * qmul : 0.0f;
    acc[j] = 0.0f;
  }
  float m = kNegInf, l = 0.0f;

  const size_t row_stride = static_cast<size_t>(a.kv.n_kv_heads) * D;  // elements between cells
  const S* kb = reinterpret_cast<const S*>(a.kv.k) + static_cast<size_t>(kvh) * D;
  const S* vb = reinterpret_cast<const S*>(a.kv.v) + static_cast<size_t>(kvh) * D;

  for (int e = r.begin; e < r.end; ++e) {
  const int pg = list[e];
  // Block-uniform skip of a page with no position this token sees.
  if (a.kv.page_pos_min[pg] > qp ||
      (a.qb.window > 0 && static_cast<int64_t>(a.kv.page_pos_max[pg]) <= static_cast<int64_t>(qp) - a.qb.window))
    continue;
  const int pbeg = pg * kKvPage;
  const int pend = pbeg + kKvPage < a.kv.n_cells ? pbeg + kKvPage : a.kv.n_cells;
  for (int c0 = pbeg + w * U; c0 < pend; c0 += kWarps * U) {
    bool vis = false;
    if (lane < U) {
      const int c = c0 + lane;
      if (c < pend) vis = attn::visible(a.kv.cell_seqs[c], a.kv.cell_pos[c], sq, qp, a.qb.window);
    }
    const unsigned vmask = __ballot_sync(0xFFFFFFFFu, vis);
    if (vmask == 0) continue;  // warp-uniform

    typename LR::Raw kr[U], vr[U];
    const size_t off0 = static_cast<size_t>(c0) * row_stride;
    const S* kp = kb + off0;
    const S* vp = vb + off0;
    float kx[U], vx[U];  // per-token scales of the chunk's rows (1 without)
#pragma unroll
    for (int u = 0; u < U; ++u, kp += row_stride, vp += row_stride) {
      kx[u] = vx[u] = 1.0f;
      if ((vmask >> u) & 1u) {
        LR::load(kp, lane, D, kr[u]);
        LR::load(vp, lane, D, vr[u]);
        if (a.kv.k_ts) {
          const size_t ei = static_cast<size_t>(c0 + u) * a.kv.n_kv_heads + kvh;
          kx[u] = kvs::scale_value(a.kv.k_ts[ei]);
          vx[u] = kvs::scale_value(a.kv.v_ts[ei]);
        }
      } else {
        LR::zero(kr[u]);
        LR::zero(vr[u]);
      }
    }

    float sc[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      float kf[E];
      LR::decode(kr[u], kf);
      float d = 0.0f;
#pragma unroll
      for (int j = 0; j < E; ++j) d = fmaf(qf[j], kf[j], d);
      sc[u] = d;
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
#pragma unroll
      for (int u = 0; u < U; ++u) sc[u] += __shfl_xor_sync(0xFFFFFFFFu, sc[u], off);
    }
    float mb = kNegInf;
#pragma unroll
    for (int u = 0; u < U; ++u) {
      sc[u] = ((vmask >> u) & 1u) ? attn::softcap_log2(sc[u] * kx[u], a.qb.softcap) : kNegInf;
      mb = fmaxf(mb, sc[u]);
    }
    const float mn = fmaxf(m, mb);
    const float cf = attn::rescale(m, mn);
    l *= cf;
#pragma unroll
    for (int j = 0; j < E; ++j) acc[j] *= cf;
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const float p = attn::prob(sc[u], mn);
      l += p;
      const float pv = p * vx[u];
      float vf[E];
      LR::decode(vr[u], vf);
#pragma unroll
      for (int j = 0; j < E; ++j) acc[j] = fmaf(pv, vf[j], acc[j]);
    }
    m = mn;
  }
  }

  // Merge the warps' partials.
  __shared__ float sm_m[kWarps], sm_l[kWarps];
  __shared__ float sm_acc[kWarps][kMaxHeadDim];
  if (lane == 0) {
    sm_m[w] = m;
    sm_l[w] = l;
  }
#pragma unroll
  for (int j = 0; j < E; ++j)
    if (LR::valid(lane, j, D)) sm_acc[w][LR::dim(lane, j)] = acc[j];
  __syncthreads();

  const float M = attn::merge_max(sm_m, kWarps, 1);
  float wt[kWarps];
  float L = 0.0f;
#pragma unroll
  for (int i = 0; i < kWarps; ++i) {
    wt[i] = attn::merge_weight(sm_m[i], M);
    L += wt[i] * sm_l[i];
  }
  const size_t th = static_cast<size_t>(t) * a.qb.n_heads + h;
  if (a.n_splits == 1) {
    const float vs = kFp8 ? a.kv.v_scale[0] : 1.0f;
    // gpt-oss: the head's sink joins the denominator of the final state.
    const float sc = a.qb.sinks ? attn::fold_sink(M, attn::sink_log2(a.qb.sinks[h]), &L) : 1.0f;
    float* o = a.out + th * D;
    for (int d = threadIdx.x; d < D; d += kThreads) {
      float x = 0.0f;
#pragma unroll
      for (int i = 0; i < kWarps; ++i) x = fmaf(wt[i], sm_acc[i][d], x);
      o[d] = attn::finalize(x * sc, L, vs);
    }
  } else {
    const size_t ps = th * a.n_splits + s;
    float* o = a.work_acc + ps * D;
    for (int d = threadIdx.x; d < D; d += kThreads) {
      float x = 0.0f;
#pragma unroll
      for (int i = 0; i < kWarps; ++i) x = fmaf(wt[i], sm_acc[i][d], x);
      o[d] = x;
    }
    if (threadIdx.x == 0) {
      a.work_ml[ps * 2] = M;
      a.work_ml[ps * 2 + 1] = L;
    }
  }
}

// Merges the n_splits partials of (t, h) = (blockIdx.y + t0, blockIdx.x).
__global__ void __launch_bounds__(kThreads) attn_merge_kernel(const float* __restrict__ work_acc,
                                                              const float* __restrict__ work_ml,
                                                              int32_t n_splits, int32_t D, int32_t n_heads,
                                                              int32_t t0, const float* __restrict__ v_scale,
                                                              bool fp8, const float* __restrict__ sinks,
                                                              float* __restrict__ out) {
  const int h = blockIdx.x;
  const int t = blockIdx.y + t0;
  const size_t th = static_cast<size_t>(t) * n_heads + h;
  const float* ml = work_ml + th * n_splits * 2;
  const float* acc = work_acc + th * n_splits * D;

  __shared__ float sw[kMaxSplits];
  const float M = attn::merge_max(ml, n_splits, 2);
  for (int i = threadIdx.x; i < n_splits; i += blockDim.x) sw[i] = attn::merge_weight(ml[2 * i], M);
  __syncthreads();
  float L = 0.0f;
  for (int i = 0; i < n_splits; ++i) L += sw[i] * ml[2 * i + 1];
  const float vs = fp8 ? v_scale[0] : 1.0f;
  const float sc = sinks ? attn::fold_sink(M, attn::sink_log2(sinks[h]), &L) : 1.0f;  // gpt-oss sinks
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float x = 0.0f;
    for (int i = 0; i < n_splits; ++i) x = fmaf(sw[i], acc[static_cast<size_t>(i) * D + d], x);
    out[th * D + d] = attn::finalize(x * sc, L, vs);
  }
}

// ---- deterministic attention (kernels/attn_det.h) --------------------------------
// Block (h, t), kWarps warps. The token's visible cells are the range
// [lo, hi) of its sequence's position-ordered list; in rounds, warp w
// computes position block b0 + round * kWarps + w whole (its runs of <= 64
// cells: scores one cell at a time, lane j % 32 keeping cell j's score, then
// the probabilities and sums in list order), the round's block partials go
// to shared memory, and every thread folds them in block order into the
// running state of its head-dim elements (thread i owns d = i, i + 128).
// Explicit fmaf / __fmul_rn where a sum of products appears, so the
// arithmetic is the one written here whatever nvcc contracts.
template <Elem T, int E, bool VEC>
__global__ void __launch_bounds__(kThreads) attn_det_kernel(const AttnArgs a) {
  using LR = LaneRow<T, E, VEC>;
  using S = typename LR::S;
  constexpr float kNegInf = -__builtin_huge_valf();
  constexpr int kOwn = (kMaxHeadDim + kThreads - 1) / kThreads;  // head-dim elements a thread folds
  constexpr unsigned kAll = 0xFFFFFFFFu;

  const int h = blockIdx.x;
  const int t = blockIdx.y + a.t0;
  const int lane = threadIdx.x & 31;
  const int w = threadIdx.x >> 5;
  const int D = a.kv.head_dim;
  const int kvh = h / a.qb.group;
  const int sq = a.qb.seq[t];
  const int qp = a.qb.pos[t];

  const int32_t* list = nullptr;
  int32_t n = 0;
  if (sq >= 0 && sq < kKvMaxSeq) {
    list = a.kv.order_cells + static_cast<size_t>(sq) * a.kv.n_cells;
    n = a.kv.order_len[sq];
  }
  auto pos_at = [&](int32_t i) { return a.kv.cell_pos[list[i]]; };
  const int32_t hi = attn_det::upper_bound(0, n, qp, pos_at);
  const int32_t lo =
      a.qb.window > 0 ? attn_det::upper_bound(0, hi, static_cast<int64_t>(qp) - a.qb.window, pos_at) : 0;

  constexpr bool kFp8 = T == Elem::E4M3 || T == Elem::E5M2;  // scales apply to FP8 only (as on the CPU)
  const float qmul = a.qb.scale * (kFp8 ? a.kv.k_scale[0] : 1.0f) * attn::kLog2e;
  const float* qrow = a.qb.q + (static_cast<size_t>(t) * a.qb.n_heads + h) * D;
  float qf[E];
#pragma unroll
  for (int j = 0; j < E; ++j) qf[j] = LR::valid(lane, j, D) ? qrow[LR::dim(lane, j)] * qmul : 0.0f;

  const size_t row_stride = static_cast<size_t>(a.kv.n_kv_heads) * D;
  const S* kb = reinterpret_cast<const S*>(a.kv.k) + static_cast<size_t>(kvh) * D;
  const S* vb = reinterpret_cast<const S*>(a.kv.v) + static_cast<size_t>(kvh) * D;

  __shared__ float sm_m[kWarps], sm_l[kWarps];
  __shared__ int sm_has[kWarps];
  __shared__ float sm_acc[kWarps][kMaxHeadDim];

  float run_m = kNegInf, run_l = 0.0f, run_a[kOwn];
#pragma unroll
  for (int i = 0; i < kOwn; ++i) run_a[i] = 0.0f;
  bool have = false;

  if (lo < hi) {
    const int32_t b0 = attn_det::block_of(pos_at(lo)), b1 = attn_det::block_of(pos_at(hi - 1));
    for (int32_t base = b0; base <= b1; base += kWarps) {
      const int32_t b = base + w;
      float bm = kNegInf, bl = 0.0f, bacc[E];
#pragma unroll
      for (int j = 0; j < E; ++j) bacc[j] = 0.0f;
      bool bhas = false;
      if (b <= b1) {
        int32_t e = attn_det::upper_bound(lo, hi, static_cast<int64_t>(b) * attn_det::kBlock - 1, pos_at);
        const int32_t e_end =
            attn_det::upper_bound(e, hi, static_cast<int64_t>(b) * attn_det::kBlock + attn_det::kBlock - 1, pos_at);
        while (e < e_end) {  // runs of <= kRun cells
          const int nr = e_end - e < attn_det::kRun ? e_end - e : attn_det::kRun;
          float sc0 = kNegInf, sc1 = kNegInf, rm = kNegInf;
          for (int j = 0; j < nr; ++j) {
            typename LR::Raw kr;
            LR::load(kb + static_cast<size_t>(list[e + j]) * row_stride, lane, D, kr);
            float kf[E];
            LR::decode(kr, kf);
            float d = 0.0f;
#pragma unroll
            for (int jj = 0; jj < E; ++jj) d = fmaf(qf[jj], kf[jj], d);
#pragma unroll
            for (int off = 16; off > 0; off >>= 1) d = __fadd_rn(d, __shfl_xor_sync(kAll, d, off));
            if (a.kv.k_ts)  // per-token K scale s (one rounding)
              d = __fmul_rn(d, kvs::scale_value(a.kv.k_ts[static_cast<size_t>(list[e + j]) * a.kv.n_kv_heads + kvh]));
            d = attn::softcap_log2(d, a.qb.softcap);
            if (lane == (j & 31)) {
              if (j < 32) sc0 = d;
              else sc1 = d;
            }
            rm = fmaxf(rm, d);
          }
          float rl = 0.0f, racc[E];
#pragma unroll
          for (int jj = 0; jj < E; ++jj) racc[jj] = 0.0f;
          for (int j = 0; j < nr; ++j) {
            const float s = __shfl_sync(kAll, j < 32 ? sc0 : sc1, j & 31);
            const float p = attn::fexp2(s - rm);
            rl = __fadd_rn(rl, p);
            typename LR::Raw vr;
            LR::load(vb + static_cast<size_t>(list[e + j]) * row_stride, lane, D, vr);
            float vf[E];
            LR::decode(vr, vf);
            // per-token V scale s folded into p (one rounding): (p * s) * code
            const float pv = a.kv.v_ts ? __fmul_rn(p, kvs::scale_value(
                                                           a.kv.v_ts[static_cast<size_t>(list[e + j]) * a.kv.n_kv_heads + kvh]))
                                        : p;
#pragma unroll
            for (int jj = 0; jj < E; ++jj) racc[jj] = fmaf(pv, vf[jj], racc[jj]);
          }
          if (!bhas) {
            bm = rm;
            bl = rl;
#pragma unroll
            for (int jj = 0; jj < E; ++jj) bacc[jj] = racc[jj];
            bhas = true;
          } else {
            float M, ca, cb;
            attn_det::fold_coeffs(bm, rm, &M, &ca, &cb);
            bl = fmaf(bl, ca, __fmul_rn(rl, cb));
#pragma unroll
            for (int jj = 0; jj < E; ++jj) bacc[jj] = fmaf(bacc[jj], ca, __fmul_rn(racc[jj], cb));
            bm = M;
          }
          e += nr;
        }
      }
      if (lane == 0) {
        sm_m[w] = bm;
        sm_l[w] = bl;
        sm_has[w] = bhas ? 1 : 0;
      }
#pragma unroll
      for (int j = 0; j < E; ++j)
        if (LR::valid(lane, j, D)) sm_acc[w][LR::dim(lane, j)] = bacc[j];
      __syncthreads();
      // The round's blocks in ascending order (warp i holds block base + i).
      for (int i = 0; i < kWarps; ++i) {
        if (!sm_has[i]) continue;
        const float mb = sm_m[i], lb = sm_l[i];
        if (!have) {
          run_m = mb;
          run_l = lb;
#pragma unroll
          for (int k = 0; k < kOwn; ++k) {
            const int d = threadIdx.x + k * kThreads;
            if (d < D) run_a[k] = sm_acc[i][d];
          }
          have = true;
          continue;
        }
        float M, ca, cb;
        attn_det::fold_coeffs(run_m, mb, &M, &ca, &cb);
        run_l = fmaf(run_l, ca, __fmul_rn(lb, cb));
#pragma unroll
        for (int k = 0; k < kOwn; ++k) {
          const int d = threadIdx.x + k * kThreads;
          if (d < D) run_a[k] = fmaf(run_a[k], ca, __fmul_rn(sm_acc[i][d], cb));
        }
        run_m = M;
      }
      __syncthreads();
    }
  }
  const float vs = kFp8 ? a.kv.v_scale[0] : 1.0f;
  float* o = a.out + (static_cast<size_t>(t) * a.qb.n_heads + h) * D;
#pragma unroll
  for (int k = 0; k < kOwn; ++k) {
    const int d = threadIdx.x + k * kThreads;
    if (d < D) o[d] = have ? attn::finalize(run_a[k], run_l, vs) : 0.0f;
  }
}

using SplitKernel = void (*)(AttnArgs);

template <Elem T>
SplitKernel pick_kernel(int D) {
  switch (D) {
    case 64: return attn_split_kernel<T, 2, true>;
    case 128: return attn_split_kernel<T, 4, true>;
    case 256: return attn_split_kernel<T, 8, true>;
    default: break;
  }
  if (D <= 64) return attn_split_kernel<T, 2, false>;
  if (D <= 128) return attn_split_kernel<T, 4, false>;
  return attn_split_kernel<T, 8, false>;
}

SplitKernel pick_kernel(Elem type, int D) {
  switch (type) {
    case Elem::F32: return pick_kernel<Elem::F32>(D);
    case Elem::F16: return pick_kernel<Elem::F16>(D);
    case Elem::BF16: return pick_kernel<Elem::BF16>(D);
    case Elem::E4M3: return pick_kernel<Elem::E4M3>(D);
    case Elem::E5M2: return pick_kernel<Elem::E5M2>(D);
  }
  return nullptr;
}

template <Elem T>
SplitKernel pick_det_kernel(int D) {
  switch (D) {
    case 64: return attn_det_kernel<T, 2, true>;
    case 128: return attn_det_kernel<T, 4, true>;
    case 256: return attn_det_kernel<T, 8, true>;
    default: break;
  }
  if (D <= 64) return attn_det_kernel<T, 2, false>;
  if (D <= 128) return attn_det_kernel<T, 4, false>;
  return attn_det_kernel<T, 8, false>;
}

SplitKernel pick_det_kernel(Elem type, int D) {
  switch (type) {
    case Elem::F32: return pick_det_kernel<Elem::F32>(D);
    case Elem::F16: return pick_det_kernel<Elem::F16>(D);
    case Elem::BF16: return pick_det_kernel<Elem::BF16>(D);
    case Elem::E4M3: return pick_det_kernel<Elem::E4M3>(D);
    case Elem::E5M2: return pick_det_kernel<Elem::E5M2>(D);
  }
  return nullptr;
}

size_t elem_bytes(Elem t) {
  switch (t) {
    case Elem::F32: return 4;
    case Elem::F16: case Elem::BF16: return 2;
    default: return 1;
  }
}

}  // namespace

int32_t attention_splits(int32_t T, int32_t n_heads, int32_t n_sm) {
  return attn::num_splits(T, n_heads, n_sm, kSplitWaves, kMaxSplits);
}

size_t attention_workspace_floats(int32_t T, int32_t n_heads, int32_t head_dim, int32_t n_splits) {
  if (n_splits <= 1 || T <= 0) return 0;  // one split writes out directly
  return static_cast<size_t>(T) * n_heads * n_splits * (static_cast<size_t>(head_dim) + 2);
}

int attention(const DevKv& kv, int32_t layer, const float* q, int32_t T, const int32_t* seq,
              const int32_t* pos, int32_t n_heads, float scale, int32_t n_splits, float* work,
              float* out, void* stream, int32_t window, float softcap, const float* sinks) {
  if (T <= 0) return static_cast<int>(cudaSuccess);
  const int D = kv.head_dim;
  if (D <= 0 || D > kMaxHeadDim || n_heads <= 0 || kv.n_kv_heads <= 0 || n_heads % kv.n_kv_heads != 0 ||
      n_splits < 1 || n_splits > kMaxSplits || layer < 0 || layer >= kv.n_layers || (n_splits > 1 && !work))
    return static_cast<int>(cudaErrorInvalidValue);
  const SplitKernel kern = pick_kernel(kv.type, D);
  if (!kern) return static_cast<int>(cudaErrorInvalidValue);
  const bool vec = D == 64 || D == 128 || D == 256;
  const size_t eb = elem_bytes(kv.type);
  const size_t layer_bytes = static_cast<size_t>(kv.n_cells) * kv.n_kv_heads * D * eb;
  if (vec) {  // vector loads need the row bases aligned to a lane's share
    const size_t a = static_cast<size_t>(D / 32) * eb;
    const size_t align = a >= 16 ? 16 : a;
    if ((reinterpret_cast<uintptr_t>(kv.k) | reinterpret_cast<uintptr_t>(kv.v) | layer_bytes) % align != 0)
      return static_cast<int>(cudaErrorMisalignedAddress);
  }

  AttnArgs a;
  a.kv = kv_layer(kv, layer, eb);
  a.qb = attn_query(q, seq, pos, n_heads, kv.n_kv_heads, scale, window, softcap, sinks);
  a.n_splits = n_splits;
  const size_t n_part = static_cast<size_t>(T) * n_heads * n_splits;
  a.work_acc = work;
  a.work_ml = work ? work + n_part * D : nullptr;
  a.out = out;

  const bool fp8 = kv.type == Elem::E4M3 || kv.type == Elem::E5M2;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  for (int32_t t0 = 0; t0 < T; t0 += kMaxGridY) {
    const int32_t tn = T - t0 < kMaxGridY ? T - t0 : kMaxGridY;
    a.t0 = t0;
    kern<<<dim3(n_heads, tn, n_splits), kThreads, 0, st>>>(a);
    if (n_splits > 1)
      attn_merge_kernel<<<dim3(n_heads, tn), kThreads, 0, st>>>(a.work_acc, a.work_ml, n_splits, D, n_heads, t0,
                                                                a.kv.v_scale, fp8, sinks, out);
  }
  return static_cast<int>(cudaGetLastError());
}

int attention_det(const DevKv& kv, int32_t layer, const float* q, int32_t T, const int32_t* seq,
                  const int32_t* pos, int32_t n_heads, float scale, float* out, void* stream,
                  int32_t window, float softcap) {
  if (T <= 0) return static_cast<int>(cudaSuccess);
  const int D = kv.head_dim;
  if (D <= 0 || D > kMaxHeadDim || n_heads <= 0 || kv.n_kv_heads <= 0 || n_heads % kv.n_kv_heads != 0 ||
      layer < 0 || layer >= kv.n_layers || !kv.order_cells || !kv.order_len)
    return static_cast<int>(cudaErrorInvalidValue);
  const SplitKernel kern = pick_det_kernel(kv.type, D);
  if (!kern) return static_cast<int>(cudaErrorInvalidValue);
  const bool vec = D == 64 || D == 128 || D == 256;
  const size_t eb = elem_bytes(kv.type);
  const size_t layer_bytes = static_cast<size_t>(kv.n_cells) * kv.n_kv_heads * D * eb;
  if (vec) {
    const size_t al = static_cast<size_t>(D / 32) * eb;
    const size_t align = al >= 16 ? 16 : al;
    if ((reinterpret_cast<uintptr_t>(kv.k) | reinterpret_cast<uintptr_t>(kv.v) | layer_bytes) % align != 0)
      return static_cast<int>(cudaErrorMisalignedAddress);
  }
  AttnArgs a;
  a.kv = kv_layer(kv, layer, eb);
  a.qb = attn_query(q, seq, pos, n_heads, kv.n_kv_heads, scale, window, softcap);
  a.n_splits = 1;
  a.work_acc = nullptr;
  a.work_ml = nullptr;
  a.out = out;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  for (int32_t t0 = 0; t0 < T; t0 += kMaxGridY) {
    a.t0 = t0;
    const int32_t tn = T - t0 < kMaxGridY ? T - t0 : kMaxGridY;
    kern<<<dim3(n_heads, tn), kThreads, 0, st>>>(a);
  }
  return static_cast<int>(cudaGetLastError());
}

}  // namespace f8k
