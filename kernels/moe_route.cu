// kernels/moe_route.cu — f8k::moe_route (router logits -> k experts and
// their weights per token) and f8k::moe_group (the (token, slot) pairs
// sorted by expert, and the grouped GEMMs' tile list). Index math and
// arithmetic: kernels/moe_math.h; CPU reference: src/backend/moe_route.cpp
// (moe_route_token, moe_group_by_expert), replayed by
// tests/backend/test_cuda_moe_layout.cpp.
//
// moe_route: logits F32 [T, E] -> ids int32 [T, k], w F32 [T, k].
//   Grid: ceil(T / 4) blocks of 4 warps, one warp per token; the warp's E
//   scores in shared memory (4 * E floats, E <= 1024). SoftmaxTopK: max by a
//   warp reduction (exact), exp by each score's owner lane, the sum of the
//   E terms by lane 0 in ascending expert id (the host's order: bit-equal
//   sums given equal terms), probabilities by IEEE division. Top-k: k rounds
//   of a warp argmax under moe::better (higher score, then lower id), the
//   winner's owner lane marking it picked. Weights: lane 0, moe::route_weights.
//   Differs from the host only through expf (<= 2 ulp) vs std::exp.
//   Cost: reads 4 T E bytes; ~E / 32 + 10 k warp steps per token.
//
// moe_group: ids [P] -> offsets [E + 1], order [P], slot_of [P], tile_e /
//   tile_s0 [<= max_tiles], n_tiles [1]. One block of 256 threads (a decode
//   step has P = T k <= 64 * 32 pairs; a 4k-token prefill chunk 32k):
//   integer histogram (shared atomics: order-free), block scan -> offsets;
//   tiles per expert, block scan -> the tile list; then rounds of 256 pairs:
//   __match_any_sync ranks lanes with equal experts, moe::warp_bases turns
//   the warps' counts into bases in warp order: a stable counting sort
//   (= moe_group_by_expert). Shared memory: 4 (10 E + 1 + 512) bytes.
//   Cost: reads 4 P, writes 8 P + 4 E + 8 tiles bytes; 2 barriers per round.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/moe.cuh"
#include "kernels/moe_math.h"

namespace f8k {
namespace {

using namespace moe;

__device__ __forceinline__ Cand shfl_cand(Cand c, int off) {
  Cand o;
  o.v = __shfl_xor_sync(0xffffffffu, c.v, off);
  o.id = __shfl_xor_sync(0xffffffffu, c.id, off);
  return o;
}

__global__ void __launch_bounds__(kRouteWarps * 32)
    moe_route_kernel(const float* __restrict__ logits, int32_t T, int32_t E, int32_t k, int32_t gating,
                     bool norm_topk, int32_t* __restrict__ ids, float* __restrict__ w) {
  extern __shared__ float route_sm[];
  __shared__ int32_t sel_sh[kRouteWarps][kMaxK];
  __shared__ float w_sh[kRouteWarps][kMaxK];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kRouteWarps + warp;
  if (t >= T) return;  // whole warps only (no block barrier below)
  float* sc = route_sm + static_cast<int64_t>(warp) * E;
  const float* lt = logits + t * E;
  for (int32_t e = lane; e < E; e += 32) sc[e] = __ldg(lt + e);

  if (gating == kSoftmaxTopK) {
    float m = neg_inf();
    for (int32_t e = lane; e < E; e += 32) m = fmaxf(m, sc[e]);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    for (int32_t e = lane; e < E; e += 32) sc[e] = fexp(sc[e] - m);
    __syncwarp();
    float s = 0.0f;
    if (lane == 0) s = seq_sum(sc, E);
    s = __shfl_sync(0xffffffffu, s, 0);
    __syncwarp();
    for (int32_t e = lane; e < E; e += 32) sc[e] = fdiv(sc[e], s);
  }
  __syncwarp();

  uint32_t picked = 0;
  for (int32_t j = 0; j < k; ++j) {
    Cand best = lane_best(sc, E, lane, picked);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      const Cand o = shfl_cand(best, off);
      if (better(o, best)) best = o;
    }
    if (best.id >= 0 && lane == owner_lane(best.id)) picked |= owner_bit(best.id);
    if (lane == 0) sel_sh[warp][j] = best.id;
  }
  __syncwarp();
  if (lane == 0) route_weights(sc, sel_sh[warp], k, gating, norm_topk, w_sh[warp]);
  __syncwarp();
  for (int32_t j = lane; j < k; j += 32) {
    ids[t * k + j] = sel_sh[warp][j];
    w[t * k + j] = w_sh[warp][j];
  }
}

// Shared memory of moe_group_kernel (int32 units): off[E + 1] | cur[E] |
// wcnt[kGroupWarps * E] | part[2][kGroupThreads].
__device__ __forceinline__ int32_t block_scan(int32_t* v, int32_t n, int32_t* part) {
  const int th = threadIdx.x;
  const int32_t local = scan_local_sum(v, n, th);
  part[th] = local;
  __syncthreads();
  int32_t* in = part;
  int32_t* out = part + kGroupThreads;
  for (int d = 1; d < kGroupThreads; d <<= 1) {
    scan_step(in, out, th, d);
    __syncthreads();
    int32_t* x = in;
    in = out;
    out = x;
  }
  const int32_t total = in[kGroupThreads - 1];
  scan_write(v, n, th, in[th] - local);
  __syncthreads();  // `part` is reused by the next scan; v is read by all
  return total;
}

__global__ void __launch_bounds__(kGroupThreads)
    moe_group_kernel(const int32_t* __restrict__ ids, int32_t P, int32_t E, int32_t B, MoeGroup g) {
  extern __shared__ int32_t grp_sm[];
  int32_t* off = grp_sm;          // counts, then exclusive offsets; off[E] = P
  int32_t* cur = off + E + 1;     // placement cursors
  int32_t* wcnt = cur + E;        // per-warp counts / bases, [kGroupWarps][E]; tile counts first
  int32_t* part = wcnt + kGroupWarps * E;
  const int th = threadIdx.x;
  const int lane = th & 31, warp = th >> 5;

  for (int32_t e = th; e <= E; e += kGroupThreads) off[e] = 0;
  for (int32_t i = th; i < kGroupWarps * E; i += kGroupThreads) wcnt[i] = 0;
  __syncthreads();
  for (int32_t i = th; i < P; i += kGroupThreads) atomicAdd(&off[clamp_expert(__ldg(ids + i), E)], 1);
  __syncthreads();
  block_scan(off, E, part);
  if (th == 0) off[E] = P;
  __syncthreads();
  for (int32_t e = th; e <= E; e += kGroupThreads) {
    g.offsets[e] = off[e];
    if (e < E) {
      cur[e] = off[e];
      wcnt[e] = tiles_of(off[e + 1] - off[e], B);
    }
  }
  __syncthreads();
  const int32_t n_tiles = block_scan(wcnt, E, part);  // wcnt[e] = first tile of expert e
  for (int32_t e = th; e < E; e += kGroupThreads) {
    const int32_t first = wcnt[e], n = tiles_of(off[e + 1] - off[e], B);
    for (int32_t q = 0; q < n; ++q) {
      g.tile_e[first + q] = e;
      g.tile_s0[first + q] = off[e] + q * B;
    }
  }
  if (th == 0) *g.n_tiles = n_tiles;
  __syncthreads();
  for (int32_t i = th; i < E; i += kGroupThreads) wcnt[i] = 0;  // warp 0's row held the tile offsets
  __syncthreads();

  for (int32_t base = 0; base < P; base += kGroupThreads) {
    const int32_t i = base + th;
    const bool valid = i < P;
    const int32_t e = valid ? clamp_expert(__ldg(ids + i), E) : -1;
    const uint32_t peers = __match_any_sync(0xffffffffu, e);
    const bool lead = valid && peer_leader(peers, lane);
    if (lead) wcnt[warp * E + e] = popc32(peers);
    __syncthreads();
    for (int32_t x = th; x < E; x += kGroupThreads) warp_bases(wcnt, cur, E, x);
    __syncthreads();
    if (valid) {
      const int32_t pos = wcnt[warp * E + e] + peer_rank(peers, lane);
      g.order[pos] = i;
      g.slot_of[i] = pos;
    }
    __syncwarp();
    if (lead) wcnt[warp * E + e] = 0;  // every other slot is still 0 (warp_bases keeps zeros)
  }
}

}  // namespace

int moe_route(const float* logits, int32_t T, int32_t E, int32_t k, int32_t gating, bool norm_topk, int32_t* ids,
              float* w, void* stream) {
  if (T == 0) return static_cast<int>(cudaSuccess);
  if (T < 0 || E < 1 || E > kMaxExperts || k < 1 || k > E || k > kMaxK) return static_cast<int>(cudaErrorInvalidValue);
  const unsigned blocks = static_cast<unsigned>((T + kRouteWarps - 1) / kRouteWarps);
  const size_t smem = static_cast<size_t>(kRouteWarps) * E * sizeof(float);
  moe_route_kernel<<<blocks, kRouteWarps * 32, smem, static_cast<cudaStream_t>(stream)>>>(logits, T, E, k, gating,
                                                                                          norm_topk, ids, w);
  return static_cast<int>(cudaGetLastError());
}

int moe_group(const int32_t* ids, int32_t P, int32_t E, int32_t B, const MoeGroup& g, void* stream) {
  if (P < 0 || E < 1 || E > kMaxExperts || !(B == 8 || B == 16 || B == 32 || B == 64))
    return static_cast<int>(cudaErrorInvalidValue);
  const size_t smem = (static_cast<size_t>(E) * (2 + kGroupWarps) + 1 + 2 * kGroupThreads) * sizeof(int32_t);
  moe_group_kernel<<<1, kGroupThreads, smem, static_cast<cudaStream_t>(stream)>>>(ids, P, E, B, g);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace f8k
