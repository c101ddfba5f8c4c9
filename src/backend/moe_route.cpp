// moe_route.cpp — see moe_route.h.
#include "backend/moe_route.h"

#include <cmath>
#include <memory>
#include <string>

namespace f8backend {

namespace {

// The k best of score[E] by descending value, ties to the lower index
// (insertion into a sorted list of k: E * k compares, k <= 32).
void top_k(const float* score, int32_t E, int32_t k, int32_t* ids) {
  int32_t n = 0;
  for (int32_t e = 0; e < E; ++e) {
    const float v = score[e];
    if (n == k && !(v > score[ids[k - 1]])) continue;  // not better than the worst kept (ties keep the lower id)
    int32_t i = n < k ? n++ : k - 1;
    while (i > 0 && v > score[ids[i - 1]]) {
      ids[i] = ids[i - 1];
      --i;
    }
    ids[i] = e;
  }
}

}  // namespace

Status check_moe_route(const MoeRoute& r) {
  if (r.n_expert < 1 || r.k < 1 || r.k > r.n_expert || r.k > kMaxExpertsUsed)
    return Status::Error(Code::InvalidArgument, "moe_route: need 1 <= k <= min(n_expert, " +
                                                    std::to_string(kMaxExpertsUsed) + "), got k = " +
                                                    std::to_string(r.k) + ", n_expert = " + std::to_string(r.n_expert));
  return Status::Ok();
}

void moe_route_token(const float* logits, const MoeRoute& r, int32_t* ids, float* w) {
  const int32_t E = r.n_expert, k = r.k;
  if (r.gating == MoeGating::TopKSoftmax) {
    top_k(logits, E, k, ids);
    const float m = logits[ids[0]];
    float s = 0;
    for (int32_t j = 0; j < k; ++j) s += (w[j] = std::exp(logits[ids[j]] - m));
    for (int32_t j = 0; j < k; ++j) w[j] /= s;
    return;
  }
  // SoftmaxTopK: probabilities over all experts first (the selection is by
  // p, as transformers does it; exp may round distinct logits to equal p).
  float p[4096];
  float* pp = p;
  std::unique_ptr<float[]> big;
  if (E > 4096) {
    big.reset(new float[size_t(E)]);
    pp = big.get();
  }
  float m = logits[0];
  for (int32_t e = 1; e < E; ++e) m = std::fmax(m, logits[e]);
  float s = 0;
  for (int32_t e = 0; e < E; ++e) s += (pp[e] = std::exp(logits[e] - m));
  for (int32_t e = 0; e < E; ++e) pp[e] /= s;
  top_k(pp, E, k, ids);
  float sum = 0;
  for (int32_t j = 0; j < k; ++j) sum += (w[j] = pp[ids[j]]);
  if (r.norm_topk)
    for (int32_t j = 0; j < k; ++j) w[j] /= sum;
}

void moe_group_by_expert(const int32_t* ids, int32_t T, int32_t k, int32_t n_expert, int32_t* offsets,
                         int32_t* order, int32_t* cursor) {
  for (int32_t e = 0; e <= n_expert; ++e) offsets[e] = 0;
  for (int32_t i = 0; i < T * k; ++i) ++offsets[ids[i] + 1];
  for (int32_t e = 0; e < n_expert; ++e) offsets[e + 1] += offsets[e];
  // Stable placement in (token, slot) order within each expert.
  for (int32_t e = 0; e < n_expert; ++e) cursor[e] = offsets[e];
  for (int32_t i = 0; i < T * k; ++i) order[cursor[ids[i]]++] = i;
}

}  // namespace f8backend
