// kernels/moe.cuh — host-callable launchers of the mixture-of-experts
// kernels (moe_route.cu, moe_gemm.cu, moe_gemm_wonly.cu, moe_combine.cu).
// Plain C++: callers need not be compiled by nvcc. All pointers are DEVICE
// pointers; each launcher returns the cudaError_t of its launch as an int
// (0 = success) and does not synchronize; `stream` is a cudaStream_t. The
// data flow and the index math: kernels/moe_math.h. The semantics are those
// of the same-named ops in src/backend/backend.h (CPU reference:
// src/backend/cpu/ref/ref_moe.cpp, src/backend/moe_route.cpp).
#pragma once

#include <cstdint>

#include "kernels/types.h"

namespace f8k {

// A stack of n_mats matrices (MoE experts) on the device: `w` describes
// matrix 0; matrix e starts mat_stride elements and its scales
// mat_scale_stride floats after matrix 0's (0: one tensor scale shared).
// Each matrix keeps the DevWeight invariants (FP8: stride % 64 == 0, zero
// pad bytes; block_rows % 16 == 0, block_cols % 64 == 0; 16-byte aligned).
struct DevStack {
  DevWeight w;
  int32_t n_mats = 0;
  int64_t mat_stride = 0;
  int64_t mat_scale_stride = 0;
};

// ids[t, :] (descending score) and w[t, :] from logits[T, E] (f8backend::
// moe_route_token: gating 0 = softmax -> top-k [-> / sum], 1 = top-k ->
// softmax). E <= moe::kMaxExperts, 1 <= k <= min(E, moe::kMaxK).
int moe_route(const float* logits, int32_t T, int32_t E, int32_t k, int32_t gating, bool norm_topk, int32_t* ids,
              float* w, void* stream);

// The grouping of P = T k pairs by expert and the GEMMs' tile list.
struct MoeGroup {
  int32_t* offsets = nullptr;  // [E + 1]
  int32_t* order = nullptr;    // [P]  slot -> pair t * k + j
  int32_t* slot_of = nullptr;  // [P]  pair -> slot
  int32_t* tile_e = nullptr;   // [moe::max_tiles(P, E, B)]
  int32_t* tile_s0 = nullptr;  // [same]
  int32_t* n_tiles = nullptr;  // [1]
};
// ids [P] (any order of pairs; ids outside [0, E) count as expert 0);
// B = slots per tile (8, 16, 32 or 64). One block.
int moe_group(const int32_t* ids, int32_t P, int32_t E, int32_t B, const MoeGroup& g, void* stream);

// One grouped projection over every routed expert, in one launch:
//   two matrices (w1 set: gate w0, up w1):
//       y[s, n] = act(w0_e . in(s) + b0_e, w1_e . in(s) + b1_e),  act = moe::expert_act
//   one matrix (w1.w.data null: down w0):
//       y[s, n] = w0_e . in(s) + b0_e
// for every slot s < P, with e its expert and in(s) the input row
// moe::act_row(s, order, k, gathered). FP8 stacks (E4M3/E5M2): the rows are
// E4M3 codes xq [*, ldx] with per-row multipliers sx (gemm_fp8's numerics);
// F32/F16/BF16 stacks: the rows are F32 xf [*, ldx floats] (weight-only).
// Biases: F32 [n_mats, N] with expert e's at e * bias_stride (null: none).
struct MoeGemm {
  bool gathered = false;
  int32_t k = 1;
  const uint8_t* xq = nullptr;
  const float* sx = nullptr;
  const float* xf = nullptr;
  int64_t ldx = 0;
  DevStack w0, w1;
  const float* b0 = nullptr;
  const float* b1 = nullptr;
  int64_t bias_stride = 0;
  int32_t act = 0;  // moe::kSwiGLU / kSwiGLUOss
  float alpha = 1.702f, limit = 7.0f;
  float* y = nullptr;  // [P, ldy]
  int64_t ldy = 0;
};
// FP8 stacks. tiles: token tiles of 8 slots per block (1, 2, 4, 8); the
// tile list must have been built with B = 8 * tiles.
int moe_gemm_fp8(const MoeGroup& g, int32_t P, int32_t E, int tiles, const MoeGemm& m, void* stream);
// F32/F16/BF16 stacks (weight-only, FP32 rows); the tile list with B = 8.
int moe_gemm_wonly(const MoeGroup& g, int32_t P, int32_t E, const MoeGemm& m, void* stream);

// y[t, :] = sum over j of w[t, j] * o[slot_of[t k + j], :] in ascending slot
// (= ascending expert id), from 0. o: [P, H], y: [T, H] (not aliasing o).
int moe_combine(const float* o, const int32_t* slot_of, const float* w, int32_t T, int32_t k, int64_t H, float* y,
                void* stream);

// x[t, :] *= 1 / (1 + exp(-g[t])), t < T; x: [T, dim], g: [T].
int sigmoid_scale_rows(float* x, const float* g, int32_t T, int32_t dim, void* stream);

}  // namespace f8k
