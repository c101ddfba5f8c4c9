// kernels/attn_det.h — the pure pieces of the deterministic (batch-
// invariant) decode/prefill attention, attn_det_kernel in kernels/
// attention.cu: where a token's visible cells are in its sequence's
// position-ordered cell list, the position blocks, and the fold of block
// partials. Host C++ and device code alike (no CUDA header needed);
// tests/backend/test_cuda_attn_det.cpp replays the kernel with them.
//
// The order the kernel sums in, a function of the visible (position, K, V)
// only (docs/backend.md "Invariance"; the same shape as the CPU rule, in
// the log2 domain with the GPU's own dot-product order):
//   - the token's visible cells, ascending position: the range [lo, hi) of
//     its sequence's list (DevKv::order_cells, KvCells::seq_cells);
//   - cut into position blocks b = pos / 64 (at most kRun cells per run
//     within a block; more only with repeated positions);
//   - per run, from nothing: scores s_j (a warp's lane-slice fma chains,
//     then an xor butterfly), m = max s_j, p_j = exp2(s_j - m), l = sum p_j
//     and acc[d] = sum p_j v_j[d] (fmaf), both in list order; the runs of a
//     block folded in order into the block's partial;
//   - the block partials folded in ascending block order into the running
//     (m, l, acc): first block as is, then M = max(m, mb), a = exp2(m - M),
//     b = exp2(mb - M), l = l a + lb b, acc = acc a + accb b (fold_coeffs);
//   - out[d] = acc[d] / l * v_scale.
// No split of the context across thread blocks and no dependence on T, the
// pool layout (cells are reached through the list, not the pages) or the
// number of warps: a warp computes whole blocks, and the block partials are
// folded in block order whichever warp made them.
#pragma once

#include <cstdint>

#include "kernels/attn_math.h"

namespace f8k {
namespace attn_det {

constexpr int kBlock = 64;  // positions per block (= the page size)
constexpr int kRun = 64;    // cells per run (a warp holds their scores in 2 registers a lane)

// First index i in [lo, hi) with pos(i) > v, for positions ascending in i
// (hi when none): a binary search every thread of a block does alike.
template <class PosAt>
F8K_HD int32_t upper_bound(int32_t lo, int32_t hi, int64_t v, PosAt pos) {
  while (lo < hi) {
    const int32_t mid = lo + (hi - lo) / 2;
    if (static_cast<int64_t>(pos(mid)) <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The block of position p (p >= 0).
F8K_HD int32_t block_of(int32_t p) { return p / kBlock; }

// Fold coefficients of a running partial with max m and a new partial with
// max mb (both non-empty): M = max(m, mb), a = exp2(m - M), b = exp2(mb - M).
F8K_HD void fold_coeffs(float m, float mb, float* M, float* a, float* b) {
  *M = m > mb ? m : mb;
  *a = attn::fexp2(m - *M);
  *b = attn::fexp2(mb - *M);
}

}  // namespace attn_det
}  // namespace f8k
