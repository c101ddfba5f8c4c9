// moe_route.h — the MoE router's arithmetic for one token (MoeRoute in
// backend.h), shared by every backend's moe_route op and by the CUDA
// kernels' CPU references, so all of them pick the same experts with the
// same weights. Pure host code, no state.
#pragma once

#include <cmath>
#include <cstdint>

#include "backend/backend.h"

namespace f8backend {

// logits[E] -> ids[k] (descending score, ties to the lower id) and w[k].
// Softmax over E terms: m = max, e_i = exp(x_i - m), s = sum of e_i in
// ascending i, p_i = e_i / s (float32).
void moe_route_token(const float* logits, const MoeRoute& r, int32_t* ids, float* w);

// The experts' gated activation (MoeAct) on one element pair, float32 math;
// the scalar definition every backend's MoE path follows.
inline float moe_act(float g, float u, const MoeExperts& e) {
  if (e.act == MoeAct::SwiGLUOss) {
    g = std::fmin(g, e.limit);
    u = std::fmax(std::fmin(u, e.limit), -e.limit);
    return (u + 1.0f) * (g / (1.0f + std::exp(-e.alpha * g)));
  }
  return g / (1.0f + std::exp(-g)) * u;
}

// Validates a route description (E >= 1, 1 <= k <= min(E, kMaxExpertsUsed)).
Status check_moe_route(const MoeRoute& r);

// For a grouped pass over the experts: the (token, slot) pairs of ids[T, k]
// ordered by expert, then token, then slot. offsets[E + 1]: expert e owns
// order[offsets[e] .. offsets[e + 1]); order[i] = t * k + j. Counting sort,
// O(T k + E); the caller sizes offsets (E + 1), order (T k) and the scratch
// cursor (E), so a decode step allocates nothing.
void moe_group_by_expert(const int32_t* ids, int32_t T, int32_t k, int32_t n_expert, int32_t* offsets,
                         int32_t* order, int32_t* cursor);

}  // namespace f8backend
