// kernels/attn_math.h — the scalar pieces of flash-decoding attention
// (kernels/attention.cu), as pure functions usable from host C++ (no CUDA
// header needed) and from device code. tests/backend/test_cuda_attn_math.cpp
// runs the kernel's algorithm on the CPU with exactly these functions.
//
// Conventions:
//   * Scores live in the log2 domain: the kernel multiplies q by
//     scale * k_scale * log2(e) once, so a score is s2 = (q.k * scale) * log2(e)
//     and every exponential is exp2 (exp(x) = exp2(x * log2 e)).
//   * A partial result over a set of cells is (m, l, acc[D]):
//       m = max s2 over the visible cells (-inf when none),
//       l = sum exp2(s2 - m), acc[d] = sum exp2(s2 - m) * v_raw[d]
//     (v_raw: the stored value decoded, before v_scale). The empty partial is
//     (m = -inf, l = 0, acc = 0) and every function below keeps it NaN-free.
//   * Final output: out[d] = l > 0 ? acc[d] / l * v_scale : 0.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define F8K_HD __host__ __device__ __forceinline__
#else
#define F8K_HD inline
#endif

namespace f8k {
namespace attn {

constexpr float kLog2e = 1.4426950408889634f;

F8K_HD float neg_inf() { return -__builtin_huge_valf(); }

F8K_HD float fexp2(float x) {
#if defined(__CUDA_ARCH__)
  return exp2f(x);
#else
  return std::exp2(x);
#endif
}

// Split s (0 <= s < n) of the context [0, hi): [begin, end). Balanced (sizes
// differ by at most one), consecutive, covering [0, hi) exactly once; a split
// is empty when n > hi.
struct SplitRange {
  int32_t begin, end;
};
F8K_HD SplitRange split_range(int32_t s, int32_t n, int32_t hi) {
  const int64_t h = hi > 0 ? hi : 0;
  SplitRange r;
  r.begin = static_cast<int32_t>(h * s / n);
  r.end = static_cast<int32_t>(h * (s + 1) / n);
  return r;
}

// Context splits for T query tokens x n_heads heads on n_sm multiprocessors:
// 1 when T * n_heads blocks already fill `waves` waves, else enough splits
// that T * n_heads * splits >= waves * n_sm, clamped to [1, max_splits].
// A pure function of its arguments (a captured CUDA graph stays valid).
F8K_HD int32_t num_splits(int32_t T, int32_t n_heads, int32_t n_sm, int32_t waves, int32_t max_splits) {
  const int64_t bh = static_cast<int64_t>(T > 0 ? T : 1) * (n_heads > 0 ? n_heads : 1);
  const int64_t target = static_cast<int64_t>(waves > 0 ? waves : 1) * (n_sm > 0 ? n_sm : 1);
  if (bh >= target) return 1;
  int64_t s = (target + bh - 1) / bh;
  if (s > max_splits) s = max_splits;
  return static_cast<int32_t>(s < 1 ? 1 : s);
}

// Query token (seq, qpos) sees a cell iff the cell's seq bit is set and its
// position is <= qpos, and, with a sliding window W > 0, > qpos - W (the
// window counts the query's own position). seq outside [0, 64) sees nothing.
F8K_HD bool visible(unsigned long long cell_seqs, int32_t cell_pos, int32_t seq, int32_t qpos, int32_t window = 0) {
  if (seq < 0 || seq >= 64) return false;
  return ((cell_seqs >> seq) & 1ull) != 0 && cell_pos <= qpos &&
         (window <= 0 || static_cast<int64_t>(cell_pos) > static_cast<int64_t>(qpos) - window);
}

// Attention logit soft-capping (Gemma 2) on a log2-domain score:
// s2 = s * log2(e) becomes cap * tanh(s / cap) * log2(e), i.e.
// cap2 * tanh(s2 / cap2) with cap2 = cap * log2(e). cap <= 0: s2 unchanged;
// -inf (masked) stays -inf.
F8K_HD float softcap_log2(float s2, float cap) {
  if (!(cap > 0.0f) || s2 == neg_inf()) return s2;
  const float cap2 = cap * kLog2e;
#if defined(__CUDA_ARCH__)
  return cap2 * tanhf(s2 / cap2);
#else
  return cap2 * std::tanh(s2 / cap2);
#endif
}

// ---- online softmax ------------------------------------------------------------
// One step over a batch of scores: m_new = max(m_old, max over the batch).
// The running (l, acc) is multiplied by rescale(m_old, m_new), then each
// score adds prob(s, m_new) to l and prob * v to acc.

// exp2(m_old - m_new), with an empty running state (m_old = -inf) giving 0
// even when m_new is -inf too (never NaN). Requires m_new >= m_old.
F8K_HD float rescale(float m_old, float m_new) {
  return m_old == neg_inf() ? 0.0f : fexp2(m_old - m_new);
}
// exp2(s - m) for a score s of the batch whose max is m; a masked score
// (s = -inf) gives 0 even when m is -inf.
F8K_HD float prob(float s, float m) { return s == neg_inf() ? 0.0f : fexp2(s - m); }

// ---- merging partials by log-sum-exp -------------------------------------------
// M = max of the partials' m (n of them, stride floats apart): -inf when all
// are empty.
F8K_HD float merge_max(const float* m, int32_t n, int32_t stride) {
  float M = neg_inf();
  for (int32_t i = 0; i < n; ++i) M = m[i * stride] > M ? m[i * stride] : M;
  return M;
}
// Weight of a partial with max m_i in the merge whose overall max is M:
// exp2(m_i - M), 0 for an empty partial (so an all-empty merge gives all 0).
F8K_HD float merge_weight(float m_i, float M) { return m_i == neg_inf() ? 0.0f : fexp2(m_i - M); }
// The merged (m, l, acc) is (M, sum w_i l_i, sum w_i acc_i) with
// w_i = merge_weight(m_i, M).

// ---- attention sinks (gpt-oss) -------------------------------------------------
// A sink is one learned logit per query head that joins the softmax's
// denominator and adds no value: out = sum_c exp(s_c) v_c / (sum_c exp(s_c) +
// exp(sink)). Applied once, to the final (merged) state of a row.

// The sink as a log2-domain score: sink * log2 e, rounded once (the sink is
// not multiplied by the softmax scale, nor soft-capped).
F8K_HD float sink_log2(float sink) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(sink, kLog2e);
#else
  volatile float s2 = sink * kLog2e;
  return s2;
#endif
}
// Folds the sink s2 into a final state (m, *l): with M = max(m, s2), returns
// the factor acc must be multiplied by (rescale(m, M): 0 for an empty state)
// and sets *l = *l * factor + p_scale * exp2(s2 - M). p_scale: 1 for the FP32
// kernels, the P scale (fmha::kPScale) for FMHA, whose l sums P * 256. A row
// that sees no cell keeps acc = 0 and gets l = p_scale: its output stays 0.
F8K_HD float fold_sink(float m, float s2, float* l, float p_scale = 1.0f) {
  const float M = s2 > m ? s2 : m;
  const float c = rescale(m, M);
#if defined(__CUDA_ARCH__)
  *l = __fadd_rn(__fmul_rn(*l, c), __fmul_rn(p_scale, fexp2(__fsub_rn(s2, M))));
#else
  volatile float a = *l * c;
  volatile float b = p_scale * fexp2(s2 - M);
  *l = a + b;
#endif
  return c;
}

// Output from the final (l, acc[d]): acc / l * v_scale, 0 when l = 0.
F8K_HD float finalize(float acc, float l, float v_scale) {
  return l > 0.0f ? acc / l * v_scale : 0.0f;
}

}  // namespace attn
}  // namespace f8k
