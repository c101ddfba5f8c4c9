// ref_moe.cpp — cpu/ref's MoE ops: each token's experts one at a time, in
// ascending expert id, through the stream's own scalar gemm (the oracle the
// grouped CPU and CUDA paths are tested against).
#include "backend/cpu/ref/ref_moe.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_common.h"
#include "backend/moe_route.h"

namespace f8backend::cpu {

void ref_moe_route(const float* logits, int32_t T, const MoeRoute& r, int32_t* ids, float* w) {
  for (int32_t t = 0; t < T; ++t)
    moe_route_token(logits + int64_t(t) * r.n_expert, r, ids + int64_t(t) * r.k, w + int64_t(t) * r.k);
}

void ref_moe_ffn(Stream& s, const float* x, int32_t T, const MoeExperts& e, const int32_t* ids, const float* w,
                 int32_t k, float* y, ActQuant act) {
  const int64_t H = e.gate.cols, F = e.gate.rows, FB = e.fb_stride ? e.fb_stride : F;
  std::vector<float> g(F), u(F), o(H), acc(H);
  GemmOpts opts;
  opts.act = act == ActQuant::None ? ActQuant::None : ActQuant::DynamicToken;
  for (int32_t t = 0; t < T; ++t) {
    const float* xt = x + int64_t(t) * H;
    // This token's experts in ascending id (ties in id cannot happen: top-k picks distinct experts).
    std::vector<std::pair<int32_t, float>> sel;
    for (int32_t j = 0; j < k; ++j) sel.push_back({ids[int64_t(t) * k + j], w[int64_t(t) * k + j]});
    std::sort(sel.begin(), sel.end());
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (const auto& [ex, wt] : sel) {
      const Weight wg = e.gate.mat(ex), wu = e.up.mat(ex), wd = e.down.mat(ex);
      s.gemm(xt, 1, wg, g.data(), opts);
      s.gemm(xt, 1, wu, u.data(), opts);
      for (int64_t i = 0; i < F; ++i) {
        const float gb = g[i] + bias_at(e.gate_b, int64_t(ex) * FB + i);
        const float ub = u[i] + bias_at(e.up_b, int64_t(ex) * FB + i);
        g[i] = moe_act(gb, ub, e);
      }
      s.gemm(g.data(), 1, wd, o.data(), opts);
      for (int64_t i = 0; i < H; ++i) acc[i] += wt * (o[i] + bias_at(e.down_b, int64_t(ex) * H + i));
    }
    std::copy(acc.begin(), acc.end(), y + int64_t(t) * H);
  }
}

void ref_sigmoid_scale_rows(float* x, const float* g, int32_t T, int32_t dim) {
  for (int32_t t = 0; t < T; ++t) {
    const float sg = 1.0f / (1.0f + std::exp(-g[t]));
    for (int32_t i = 0; i < dim; ++i) x[int64_t(t) * dim + i] *= sg;
  }
}

}  // namespace f8backend::cpu
