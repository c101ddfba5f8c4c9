// moe_route.cpp — see moe_route.h.
#include "backend/moe_route.h"

#include <cmath>
#include <memory>
#include <string>

namespace f8backend {

namespace {

constexpr int32_t kMaxGroups = 2048;  // n_group bound (stack arrays; check_moe_route enforces it)

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

// SigmoidGroupTopK, op for op as transformers' DeepseekV3TopkRouter in
// float32: s = sigmoid(l) = 1 / (1 + exp(-l)); c = s + bias; group score =
// (largest c) + (second largest c) of the group (torch topk(2).sum: the sum
// of two floats does not depend on their order); the topk_group best groups
// (ties to the lower group); the k best c of their experts (ties to the lower
// id), listed by descending c; w = s of those, norm: w / (sum_j w_j + 1e-20)
// with the sum in list order; then w * scale.
void route_sigmoid_group(const float* logits, const MoeRoute& r, int32_t* ids, float* w) {
  const int32_t E = r.n_expert, k = r.k, NG = r.n_group, G = E / NG;
  float buf[2 * 1024];
  std::unique_ptr<float[]> big;
  float* sig = buf;
  if (E > 1024) {
    big.reset(new float[2 * size_t(E)]);
    sig = big.get();
  }
  float* c = sig + E;
  for (int32_t e = 0; e < E; ++e) {
    sig[e] = 1.0f / (1.0f + std::exp(-logits[e]));
    c[e] = sig[e] + (r.score_bias ? r.score_bias[e] : 0.0f);
  }
  if (NG > 1) {
    float gs[kMaxGroups];
    int32_t keep[kMaxGroups];
    for (int32_t g = 0; g < NG; ++g) {
      int32_t best2[2];
      top_k(c + int64_t(g) * G, G, 2, best2);
      gs[g] = c[int64_t(g) * G + best2[0]] + c[int64_t(g) * G + best2[1]];
    }
    top_k(gs, NG, r.topk_group, keep);
    bool kept[kMaxGroups] = {};
    for (int32_t j = 0; j < r.topk_group; ++j) kept[keep[j]] = true;
    for (int32_t g = 0; g < NG; ++g)
      if (!kept[g])
        for (int32_t e = g * G; e < (g + 1) * G; ++e) c[e] = -INFINITY;
  }
  top_k(c, E, k, ids);
  float sum = 0;
  for (int32_t j = 0; j < k; ++j) sum += (w[j] = sig[ids[j]]);
  if (r.norm_topk) {
    const float den = sum + 1e-20f;
    for (int32_t j = 0; j < k; ++j) w[j] /= den;
  }
  for (int32_t j = 0; j < k; ++j) w[j] *= r.scale;
}

}  // namespace

Status check_moe_route(const MoeRoute& r) {
  if (r.n_expert < 1 || r.k < 1 || r.k > r.n_expert || r.k > kMaxExpertsUsed)
    return Status::Error(Code::InvalidArgument, "moe_route: need 1 <= k <= min(n_expert, " +
                                                    std::to_string(kMaxExpertsUsed) + "), got k = " +
                                                    std::to_string(r.k) + ", n_expert = " + std::to_string(r.n_expert));
  if (r.gating == MoeGating::SigmoidGroupTopK) {
    const std::string at = "moe_route (sigmoid_group_topk): ";
    if (r.n_group < 1 || r.n_group > kMaxGroups || r.n_expert % r.n_group)
      return Status::Error(Code::InvalidArgument, at + std::to_string(r.n_expert) + " experts do not form " +
                                                      std::to_string(r.n_group) + " equal groups");
    const int32_t G = r.n_expert / r.n_group;
    if (r.n_group > 1 && G < 2)
      return Status::Error(Code::InvalidArgument, at + "a group's score is the sum of its two best experts: groups "
                                                      "need >= 2 experts, got " + std::to_string(G));
    if (r.topk_group < 1 || r.topk_group > r.n_group)
      return Status::Error(Code::InvalidArgument, at + "topk_group " + std::to_string(r.topk_group) +
                                                      ": expected 1.." + std::to_string(r.n_group));
    if (r.k > r.topk_group * G)
      return Status::Error(Code::InvalidArgument, at + "k = " + std::to_string(r.k) + " exceeds the " +
                                                      std::to_string(r.topk_group * G) +
                                                      " experts of the kept groups");
    if (!(r.scale > 0) || !std::isfinite(r.scale))
      return Status::Error(Code::InvalidArgument, at + "scale must be finite and > 0");
  }
  return Status::Ok();
}

void moe_route_token(const float* logits, const MoeRoute& r, int32_t* ids, float* w) {
  const int32_t E = r.n_expert, k = r.k;
  if (r.gating == MoeGating::SigmoidGroupTopK) return route_sigmoid_group(logits, r, ids, w);
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
