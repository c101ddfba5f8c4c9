// kernels/moe_math.h — index math and scalar arithmetic of the CUDA
// mixture-of-experts kernels (moe_route.cu, moe_gemm.cu, moe_gemm_wonly.cu,
// moe_combine.cu), as pure functions usable from host C++ (no CUDA header)
// and from device code. tests/backend/test_cuda_moe_layout.cpp replays the
// kernels on the CPU through exactly these functions and compares them with
// the host definitions (backend/moe_route.h: moe_route_token,
// moe_group_by_expert; cpu-ref moe_ffn).
//
// Data flow of one MoE layer on the GPU (docs/cuda.md "Mixture of experts"),
// P = T * k (token, slot) pairs, expert e owning the "slots"
// offsets[e] .. offsets[e + 1] of the pairs sorted by expert:
//   moe_route    router logits [T, E] -> ids [T, k], w [T, k]   (warp per token)
//   moe_group    ids -> offsets [E + 1], order [P] (slot -> pair t*k + j),
//                slot_of [P] (pair -> slot), the tile list      (one block)
//   quantize_act x [T, H] -> E4M3 per token (act_quant.cu, as the dense path)
//   moe_gemm     gate+up: A[s, :] = act(gate_e(x_t) + gb_e, up_e(x_t) + ub_e)
//                for every slot s of expert e, t = order[s] / k  (one launch)
//   quantize_act A [P, F] -> E4M3 per slot
//   moe_gemm     down: O[s, :] = down_e(A[s]) + db_e                (one launch)
//   moe_combine  y[t, :] = sum of w[t, j] O[slot_of[t k + j], :] over t's
//                experts in ascending id (ascending slot), from 0   (block per token)
// Every step computes each output element from its own token's data only,
// in a fixed order: a token's result does not depend on the batch.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/mma_fp8.h"  // F8K_HD, mma:: fragment layout, tiles_for, epilogue_value

namespace f8k {
namespace moe {

constexpr int kMaxExperts = 1024;  // E bound of the route and group kernels (shared memory)
constexpr int kMaxK = 32;          // = f8backend::kMaxExpertsUsed

// ---- float arithmetic with explicit rounding (no FMA contraction; the host
// compiles these as plain float operations, as src/backend/moe_route.cpp and
// cpu-ref's moe_ffn do) ------------------------------------------------------------
F8K_HD float fadd(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
F8K_HD float fmul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
F8K_HD float fdiv(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
// exp: CUDA's expf (max 2 ulp) on the device, std::exp (float) on the host.
// The only operation here whose device and host results may differ.
F8K_HD float fexp(float x) {
#if defined(__CUDA_ARCH__)
  return expf(x);
#else
  return std::exp(x);
#endif
}
F8K_HD float neg_inf() { return -__builtin_huge_valf(); }
F8K_HD int popc32(uint32_t v) {
#if defined(__CUDA_ARCH__)
  return __popc(v);
#else
  return __builtin_popcount(v);
#endif
}

// ---- routing (moe_route.cu): one warp per token ------------------------------------
// Gating ids as f8backend::MoeGating.
constexpr int32_t kSoftmaxTopK = 0;
constexpr int32_t kTopKSoftmax = 1;
constexpr int kRouteWarps = 4;  // tokens per block

// A candidate of the top-k selection. The selection order is the total order
// "higher score first, then lower id" — what moe_route_token's insertion top-k
// gives for non-NaN scores; a NaN score ranks as -inf here (so k distinct
// valid ids always come out; the host routine's NaN behaviour is not a rule).
struct Cand {
  float v;
  int32_t id;  // < 0: none
};
F8K_HD Cand no_cand() { return Cand{neg_inf(), -1}; }
F8K_HD float sel_key(float v) { return v == v ? v : neg_inf(); }
F8K_HD bool better(Cand a, Cand b) {
  if (a.id < 0) return false;
  if (b.id < 0) return true;
  const float x = sel_key(a.v), y = sel_key(b.v);
  return x > y || (x == y && a.id < b.id);
}
// Expert e's scores live with lane e % 32, as bit e / 32 of its `picked` mask
// (E <= kMaxExperts = 32 * 32).
F8K_HD int owner_lane(int32_t e) { return e & 31; }
F8K_HD uint32_t owner_bit(int32_t e) { return 1u << (e >> 5); }
// The best not-yet-picked candidate among lane's experts (e = lane + 32 i).
F8K_HD Cand lane_best(const float* score, int32_t E, int lane, uint32_t picked) {
  Cand best = no_cand();
  for (int32_t e = lane, i = 0; e < E; e += 32, ++i) {
    if ((picked >> i) & 1u) continue;
    const Cand c{score[e], e};
    if (better(c, best)) best = c;
  }
  return best;
}
// Sum of v[0..n) in ascending index, from 0 (the order moe_route_token sums).
F8K_HD float seq_sum(const float* v, int32_t n) {
  float s = 0.0f;
  for (int32_t i = 0; i < n; ++i) s = fadd(s, v[i]);
  return s;
}
// The k weights of the selected experts sel[0..k) (descending score):
//   SoftmaxTopK: sc = the softmax probabilities p; w_j = p[sel_j], divided by
//                their sum (ascending j) when norm_topk;
//   TopKSoftmax: sc = the logits; w_j = exp(l[sel_j] - l[sel_0]) / their sum.
// Exactly moe_route_token's operations in its order.
F8K_HD void route_weights(const float* sc, const int32_t* sel, int32_t k, int32_t gating, bool norm_topk, float* w) {
  if (gating == kTopKSoftmax) {
    const float m = sc[sel[0]];
    float s = 0.0f;
    for (int32_t j = 0; j < k; ++j) {
      w[j] = fexp(sc[sel[j]] - m);
      s = fadd(s, w[j]);
    }
    for (int32_t j = 0; j < k; ++j) w[j] = fdiv(w[j], s);
    return;
  }
  float sum = 0.0f;
  for (int32_t j = 0; j < k; ++j) {
    w[j] = sc[sel[j]];
    sum = fadd(sum, w[j]);
  }
  if (norm_topk)
    for (int32_t j = 0; j < k; ++j) w[j] = fdiv(w[j], sum);
}

// ---- grouping (moe_route.cu, moe_group kernel): one block --------------------------
// A stable counting sort of the P = T k (token, slot) pairs by expert, as
// moe_group_by_expert: offsets by an integer histogram and a block scan,
// then rounds of kGroupThreads pairs: within a warp the lanes with equal
// experts find each other (__match_any_sync; `peers` mask) and take ranks by
// lane; per expert the warps' counts are turned into bases in warp order; so
// every pair lands at offsets[e] + (number of earlier pairs of e): stable.
constexpr int kGroupWarps = 8;
constexpr int kGroupThreads = kGroupWarps * 32;

// Ids outside [0, E) (never produced by moe_route) are read as expert 0, so a
// bad id cannot send a kernel out of bounds.
F8K_HD int32_t clamp_expert(int32_t id, int32_t E) { return id >= 0 && id < E ? id : 0; }

// Block scan of v[0..n) (n <= kMaxExperts: at most 4 values per thread).
// Thread th owns v[th*per .. th*per + per), per = ceil(n / kGroupThreads):
//   1. part[th] = scan_local_sum(v, n, th)
//   2. Hillis-Steele over part in 8 steps d = 1, 2, ..., 128 (ping-pong
//      buffers, a barrier after each): out[th] = in[th] + in[th - d]
//   3. scan_write(v, n, th, incl[th] - part[th]): exclusive prefix in place.
F8K_HD int32_t scan_per(int32_t n) { return (n + kGroupThreads - 1) / kGroupThreads; }
F8K_HD int32_t scan_local_sum(const int32_t* v, int32_t n, int th) {
  const int32_t per = scan_per(n);
  int32_t s = 0;
  for (int32_t i = th * per; i < n && i < (th + 1) * per; ++i) s += v[i];
  return s;
}
F8K_HD void scan_step(const int32_t* in, int32_t* out, int th, int d) { out[th] = in[th] + (th >= d ? in[th - d] : 0); }
F8K_HD void scan_write(int32_t* v, int32_t n, int th, int32_t base) {
  const int32_t per = scan_per(n);
  for (int32_t i = th * per; i < n && i < (th + 1) * per; ++i) {
    const int32_t c = v[i];
    v[i] = base;
    base += c;
  }
}

// Within a warp: lanes below `lane` in its peer mask, and whether it leads.
F8K_HD uint32_t lanes_below(int lane) { return (1u << lane) - 1u; }
F8K_HD int32_t peer_rank(uint32_t peers, int lane) { return popc32(peers & lanes_below(lane)); }
F8K_HD bool peer_leader(uint32_t peers, int lane) { return (peers & lanes_below(lane)) == 0u; }
// After the warps' leaders wrote wcnt[w * E + e] = their pair count of
// expert e (slots nobody wrote are 0): turns the counts of expert e into
// bases in warp order, starting at cursor[e], and advances cursor[e].
// Zero counts stay 0 (so the next round only has to clear what it used).
F8K_HD void warp_bases(int32_t* wcnt, int32_t* cursor, int32_t E, int32_t e) {
  int32_t run = cursor[e];
  for (int w = 0; w < kGroupWarps; ++w) {
    const int32_t c = wcnt[w * E + e];
    if (c) {
      wcnt[w * E + e] = run;
      run += c;
    }
  }
  cursor[e] = run;
}

// ---- tiles: the grouped GEMM's work list -------------------------------------------
// A tile is up to B consecutive slots of one expert (B = 8 * token tiles of
// the GEMM's MMA). Expert e's slots [offsets[e], offsets[e + 1]) make
// tiles_of(n_e, B) tiles, listed by expert then slot: tile_e[j], tile_s0[j].
// The GEMM's grid is (row tiles, max_tiles): a block whose tile index is
// >= the actual count (device memory) returns at once.
F8K_HD int32_t tiles_of(int32_t n, int32_t B) { return (n + B - 1) / B; }
// An upper bound of sum over e of tiles_of(n_e, B) for any routing of P
// pairs to E experts: sum ceil(n_e / B) <= (P + nz (B - 1)) / B with nz <=
// min(E, P) experts routed.
F8K_HD int32_t max_tiles(int32_t P, int32_t E, int32_t B) {
  const int64_t nz = P < E ? P : E;
  return static_cast<int32_t>((static_cast<int64_t>(P) + nz * (B - 1)) / B);
}
F8K_HD int32_t tile_end(int32_t s0, int32_t B, int32_t group_end) { return s0 + B < group_end ? s0 + B : group_end; }
// The slot whose activation row lane loads for token tile `tt` of a tile at s0.
F8K_HD int32_t tile_slot(int32_t s0, int tt, int lane) { return s0 + tt * mma::kN + mma::load_token(lane); }
// Row of the GEMM's input for slot s: gate/up read the token's row of x
// (gathered: order[s] / k), down reads the slot's own row of A.
F8K_HD int64_t act_row(int32_t s, const int32_t* order, int32_t k, bool gathered) {
  return gathered ? static_cast<int64_t>(order[s] / k) : static_cast<int64_t>(s);
}
// Token tiles per GEMM block for P pairs over E experts: by the slots an
// expert gets on average (its weights are read once per 8 * tiles slots).
F8K_HD int tiles_for_pairs(int32_t P, int32_t E) {
  const int32_t nz = P < E ? P : E;
  const int32_t avg = nz > 0 ? (P + nz - 1) / nz : 1;
  return mma::tiles_for(avg < mma::kPassTokens ? avg : mma::kPassTokens);
}

// ---- grouped FP8 GEMM configuration (moe_gemm.cu) ------------------------------------
// MATS = 2: gate and up of the same rows in one block (their activation
// fused in the epilogue); MATS = 1: down. kWarps split K (as gemm_fp8; the
// same kWarps for every variant keeps each output's summation order, hence
// its bits, independent of the token-tile count and so of the batch), kMT
// 16-row tiles per matrix, kUnroll chunks in flight, kMinBlocks per SM.
// Registers: MATS * kMT * TILES * 4 accumulators, MATS * kMT * 2 * kUnroll
// + TILES * kUnroll 16-byte loads in flight. ptxas (CUDA 13.0): no spills on
// sm_89; on sm_90a only the 8-tile variants spill (64-76 bytes, as
// gemm_fp8's 8-tile variant does: 48 bytes), the prefill-sized ones.
// Tune on the GPU with bench_cuda_moe.
template <int TILES, int MATS>
struct GemmCfg;
template <>
struct GemmCfg<1, 2> {
  static constexpr int kWarps = 8, kMT = 1, kUnroll = 3, kMinBlocks = 2;
};
template <>
struct GemmCfg<2, 2> {
  static constexpr int kWarps = 8, kMT = 1, kUnroll = 2, kMinBlocks = 2;
};
template <>
struct GemmCfg<4, 2> {
  static constexpr int kWarps = 8, kMT = 1, kUnroll = 1, kMinBlocks = 1;
};
template <>
struct GemmCfg<8, 2> {
  static constexpr int kWarps = 8, kMT = 1, kUnroll = 1, kMinBlocks = 1;
};
template <int TILES>
struct GemmCfg<TILES, 1> : mma::Cfg<TILES> {};  // down: gemm_fp8's, but ...
template <>
struct GemmCfg<4, 1> {  // ... no 128-register cap at 4 token tiles (it spilled on sm_90a)
  static constexpr int kWarps = 8, kMT = 2, kUnroll = 1, kMinBlocks = 1;
};

// Per-thread share of a block's TILES * 128 reduced outputs (one 16-row tile).
template <int TILES, int MATS>
F8K_HD constexpr int red_per_thread() {
  return (TILES * mma::kM * mma::kN + GemmCfg<TILES, MATS>::kWarps * 32 - 1) / (GemmCfg<TILES, MATS>::kWarps * 32);
}

// ---- the experts' activation (MoeAct) -----------------------------------------------
constexpr int32_t kSwiGLU = 0;
constexpr int32_t kSwiGLUOss = 1;
// f8backend::moe_act's operations, rounded one by one.
F8K_HD float expert_act(float g, float u, int32_t act, float alpha, float limit) {
  if (act == kSwiGLUOss) {
    g = fminf(g, limit);
    u = fmaxf(fminf(u, limit), -limit);
    return fmul(fadd(u, 1.0f), fdiv(g, fadd(1.0f, fexp(fmul(-alpha, g)))));
  }
  return fmul(fdiv(g, fadd(1.0f, fexp(-g))), u);
}

// ---- combine (moe_combine.cu) --------------------------------------------------------
// A token's k (slot, weight) pairs sorted by slot: ascending slot is
// ascending expert id (slots are grouped by expert and a token's experts are
// distinct). Insertion sort, k <= kMaxK.
F8K_HD void sort_by_slot(int32_t* slot, float* w, int32_t k) {
  for (int32_t i = 1; i < k; ++i) {
    const int32_t s = slot[i];
    const float x = w[i];
    int32_t j = i;
    while (j > 0 && slot[j - 1] > s) {
      slot[j] = slot[j - 1];
      w[j] = w[j - 1];
      --j;
    }
    slot[j] = s;
    w[j] = x;
  }
}
// y = 0 + w_0 o_0 + w_1 o_1 + ... (cpu-ref's `acc += wt * o`, unfused).
F8K_HD float combine_step(float acc, float w, float o) { return fadd(acc, fmul(w, o)); }

}  // namespace moe
}  // namespace f8k
