// simd_moe.cpp — see simd_moe.h. Per call, for ids[T, k]:
//   1. group the T*k (token, slot) pairs by expert (counting sort): expert e
//      owns rows offsets[e] .. offsets[e+1] of the gathered input xg[T*k, H];
//   2. dispatch 1: for every routed expert, G_e = xg_e . gate_e^T and
//      U_e = xg_e . up_e^T (+ biases), work items = row ranges of those
//      matrices, so one expert's rows are read once for all its tokens;
//   3. A = act(G, U) elementwise (MoeAct), in place in G;
//   4. dispatch 2: O_e = A_e . down_e^T (+ bias);
//   5. y[t] = 0 + w_1 O_1 + w_2 O_2 + ... over t's experts in ascending id.
// Each O row is a gemm_rows result for one token, so a token's output does
// not depend on which other tokens share the call (given gemm_rows' own rule).
#include "backend/cpu/simd/simd_moe.h"

#include <algorithm>
#include <cstring>

#include "backend/cpu/cpu_common.h"
#include "backend/moe_route.h"

namespace f8backend::cpu::simd {

namespace {
// Smallest piece of a matrix one work item covers, in weight bytes (as the
// dense gemm's chunks: each costs a counter update and a new prefetch stream).
constexpr int64_t kMinItemBytes = 16 * 1024;

Bias bias_rows(const Bias& b, int64_t first_row) {
  if (!b.data) return b;
  Bias r = b;
  r.data = static_cast<const uint8_t*>(b.data) + first_row * static_cast<int64_t>(elem_size(b.dtype));
  return r;
}
}  // namespace

void GroupedMoe::build_items(const std::vector<Mat>& mats, int32_t first, int32_t count, int threads) {
  items_.clear();
  // Item size from the whole dispatch, as the dense gemm sizes its chunks:
  // about kChunksPerThread items per thread (load balance), none under
  // kMinItemBytes. A decode step's routed matrices are small (Qwen3-30B-A3B:
  // 768 x 2048 bytes each), so this is usually one item per matrix: one
  // prefetch stream per matrix instead of a restart every 16 KiB (16 KiB
  // items read the experts at ~0.65-0.85x the dense model's GB/s).
  int64_t total = 0;
  for (int32_t m = first; m < first + count; ++m)
    total += mats[size_t(m)].w.rows * mats[size_t(m)].w.cols * static_cast<int64_t>(elem_size(mats[size_t(m)].w.dtype));
  const int64_t target =
      std::max<int64_t>(kMinItemBytes, total / std::max<int64_t>(1, int64_t(threads) * ThreadPool::kChunksPerThread));
  for (int32_t m = first; m < first + count; ++m) {
    const Weight& w = mats[size_t(m)].w;
    const int64_t align = mats[size_t(m)].a.T > kScratchRows ? kPanelRows : kScratchRows;
    const int64_t row_bytes = w.cols * static_cast<int64_t>(elem_size(w.dtype));
    // Rows per item: a multiple of align, about `target` bytes.
    const int64_t rows = std::max<int64_t>(align, (target / std::max<int64_t>(row_bytes, 1)) / align * align);
    for (int64_t r0 = 0; r0 < w.rows; r0 += rows) items_.push_back({m, r0, std::min(w.rows, r0 + rows)});
  }
}

void GroupedMoe::ffn(ThreadPool& pool, const Kernels& k, const std::vector<std::unique_ptr<Buffer>>& scratch,
                     const float* x, int32_t T, const MoeExperts& e, const int32_t* ids, const float* w,
                     int32_t n_used, float* y, ActQuant act) {
  const int32_t E = e.gate.n_mats;
  const int64_t H = e.gate.cols, F = e.gate.rows, P = int64_t(T) * n_used;
  const bool quant = act != ActQuant::None && (e.gate.dtype == DType::E4M3 || e.gate.dtype == DType::E5M2);
  offsets_.resize(size_t(E) + 1);
  cursor_.resize(size_t(E));
  order_.resize(size_t(P));
  slot_of_.resize(size_t(P));
  moe_group_by_expert(ids, T, n_used, E, offsets_.data(), order_.data(), cursor_.data());
  for (int64_t i = 0; i < P; ++i) slot_of_[size_t(order_[size_t(i)])] = int32_t(i);

  // Gathered inputs (and, emulating the GPU, their E4M3 rounding with the
  // token's dynamic scale: the same scale whichever expert reads the row).
  xg_.resize(size_t(P * H));
  g_.resize(size_t(P * F));
  u_.resize(size_t(P * F));
  o_.resize(size_t(P * H));
  sx_.resize(size_t(P));
  sg_.resize(size_t(P));
  for (int64_t i = 0; i < P; ++i) {
    const float* src = x + int64_t(order_[size_t(i)] / n_used) * H;
    if (quant)
      sx_[size_t(i)] = k.quantize_row(src, H, 0.0f, xg_.data() + i * H);
    else
      std::memcpy(xg_.data() + i * H, src, size_t(H) * sizeof(float));
  }

  // Matrices of the routed experts: [gate_e, up_e] for each, then down_e.
  mats_.clear();
  std::vector<int32_t>& routed = routed_;
  routed.clear();
  for (int32_t ex = 0; ex < E; ++ex)
    if (offsets_[size_t(ex) + 1] > offsets_[size_t(ex)]) routed.push_back(ex);
  const int32_t nr = int32_t(routed.size());
  mats_.reserve(size_t(nr) * 3);
  auto add_mat = [&](const Weight& stack, int32_t ex, const Bias& b, int64_t rows_per_expert, const float* in,
                     float* out, const float* tok_scale) {
    Mat m;
    m.w = stack.mat(ex);
    const int64_t o0 = offsets_[size_t(ex)], n = offsets_[size_t(ex) + 1] - o0;
    const int64_t K = stack.cols;
    m.a = GemmArgs{in + o0 * K, int32_t(n), nullptr, tok_scale ? tok_scale + o0 : nullptr,
                   bias_rows(b, int64_t(ex) * rows_per_expert), out + o0 * stack.rows};
    mats_.push_back(m);
  };
  const int64_t FB = e.fb_stride ? e.fb_stride : F;
  for (int32_t ex : routed) {
    add_mat(e.gate, ex, e.gate_b, FB, xg_.data(), g_.data(), quant ? sx_.data() : nullptr);
    add_mat(e.up, ex, e.up_b, FB, xg_.data(), u_.data(), quant ? sx_.data() : nullptr);
  }
  for (int32_t ex : routed) add_mat(e.down, ex, e.down_b, H, g_.data(), o_.data(), quant ? sg_.data() : nullptr);
  for (auto& m : mats_) m.a.w = &m.w;  // after the vector stopped growing

  auto run = [&](int32_t first, int32_t count) {
    build_items(mats_, first, count, pool.size());
    const int64_t n = int64_t(items_.size());
    pool.for_chunks(n, [&](int tid, int64_t c) {
      const Item& it = items_[size_t(c)];
      k.gemm_rows(mats_[size_t(it.mat)].a, it.r0, it.r1, scratch[size_t(tid)]->f32());
    });
  };
  run(0, 2 * nr);
  // Activation in place in G (and its E4M3 rounding per row when emulating).
  for (int64_t i = 0; i < P; ++i) {
    float* gi = g_.data() + i * F;
    const float* ui = u_.data() + i * F;
    if (e.act == MoeAct::SwiGLU) {
      k.swiglu(gi, ui, F, gi);
    } else {
      for (int64_t c = 0; c < F; ++c) gi[c] = moe_act(gi[c], ui[c], e);
    }
    if (quant) sg_[size_t(i)] = k.quantize_row(gi, F, 0.0f, gi);
  }
  run(2 * nr, nr);

  // y[t] = sum over t's experts in ascending id of w * O (starting from 0).
  for (int32_t t = 0; t < T; ++t) {
    int32_t js[kMaxExpertsUsed];
    for (int32_t j = 0; j < n_used; ++j) js[j] = j;
    std::sort(js, js + n_used, [&](int32_t a, int32_t b) { return ids[t * n_used + a] < ids[t * n_used + b]; });
    float* yt = y + int64_t(t) * H;
    std::fill(yt, yt + H, 0.0f);
    for (int32_t q = 0; q < n_used; ++q) {
      const int32_t j = js[q];
      const float wt = w[t * n_used + j];
      const float* oi = o_.data() + int64_t(slot_of_[size_t(t * n_used + j)]) * H;
      for (int64_t c = 0; c < H; ++c) yt[c] += wt * oi[c];
    }
  }
}

}  // namespace f8backend::cpu::simd
