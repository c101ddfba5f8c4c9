// attention_plan.cpp — see attention_plan.h.
#include "backend/cpu/simd/attention_plan.h"

#include <algorithm>

namespace f8backend::cpu::simd {

void plan_attention(const CpuKVCache& c, const AttnBatch& b, int32_t gs, int32_t threads, AttnPlan* plan) {
  plan->items.clear();
  plan->folds.clear();
  plan->slots = 0;
  const KvCells& kc = c.bookkeeping();
  const auto& cells = c.cells();
  const int32_t groups = b.n_heads / gs;
  // Per token: its visible entries [e0, e1) (positions in (p - window, p])
  // and its first / last position block.
  struct Tok {
    int32_t e0 = 0, e1 = 0, k0 = 0, k1 = 0;
  };
  thread_local std::vector<Tok> toks;
  toks.assign(size_t(b.n_tokens), Tok{});
  int64_t work = 0;  // blocks x head groups
  for (int32_t t = 0; t < b.n_tokens; ++t) {
    const int32_t s = b.seq[t], p = b.pos[t];
    if (s < 0 || s >= kMaxSeq) continue;
    const std::vector<int32_t>& order = kc.seq_cells(s);
    auto pos_less = [&](int64_t v, int32_t cell) { return v < int64_t(cells[cell].pos); };
    Tok& k = toks[size_t(t)];
    k.e1 = int32_t(std::upper_bound(order.begin(), order.end(), int64_t(p), pos_less) - order.begin());
    if (b.window > 0)
      k.e0 = int32_t(std::upper_bound(order.begin(), order.begin() + k.e1, int64_t(p) - b.window, pos_less) -
                     order.begin());
    if (k.e0 >= k.e1) continue;
    k.k0 = cells[order[size_t(k.e0)]].pos / kAttnBlock;
    k.k1 = cells[order[size_t(k.e1 - 1)]].pos / kAttnBlock + 1;
    work += int64_t(k.k1 - k.k0) * groups;
  }
  // Blocks per split item: the call's work over kItemsPerThread items per
  // thread; a token with more blocks than that is split (one thread: never).
  const int64_t per_item =
      threads > 1 ? std::max<int64_t>(kMinBlocksPerItem, (work + int64_t(threads) * kItemsPerThread - 1) /
                                                             (int64_t(threads) * kItemsPerThread))
                  : INT64_MAX;
  auto split = [&](const Tok& k) { return int64_t(k.k1 - k.k0) > per_item; };
  // Tile size: tokens that are computed whole, over kItemsPerThread units
  // per thread, at most kMaxTileTokens.
  int32_t whole = 0;
  for (int32_t t = 0; t < b.n_tokens; ++t) whole += !split(toks[size_t(t)]);
  const int32_t tile = std::clamp<int32_t>(whole / std::max(1, threads * kItemsPerThread), 1, kMaxTileTokens);
  plan->units.clear();
  for (int32_t t = 0; t < b.n_tokens;) {
    const Tok& k = toks[size_t(t)];
    if (split(k)) {  // one unit per piece, then the token's fold
      const int64_t nb = k.k1 - k.k0, n = (nb + per_item - 1) / per_item;
      for (int32_t g = 0; g < groups; ++g) {
        AttnItem it;
        it.t = t, it.h0 = g * gs, it.e0 = k.e0, it.e1 = k.e1;
        for (int64_t i = 0; i < n; ++i) {
          it.k0 = k.k0 + int32_t(nb * i / n);
          it.k1 = k.k0 + int32_t(nb * (i + 1) / n);
          it.part = plan->slots + (it.k0 - k.k0);
          plan->units.push_back(int32_t(plan->items.size()));
          plan->items.push_back(it);
        }
        // The fold pass: the group's heads cut in min(gs, threads) folds.
        const int32_t nf = std::min(gs, threads);
        for (int32_t i = 0; i < nf; ++i) {
          AttnFold f;
          f.t = t, f.h0 = g * gs, f.n = int32_t(nb), f.part = plan->slots;
          f.g0 = gs * i / nf, f.ng = gs * (i + 1) / nf - f.g0;
          plan->folds.push_back(f);
        }
        plan->slots += nb;
      }
      ++t;
      continue;
    }
    // A tile: the next tokens of t's sequence computed whole (a batch lists
    // a sequence's tokens together).
    int32_t t1 = t + 1;
    while (t1 < b.n_tokens && t1 - t < tile && b.seq[t1] == b.seq[t] && !split(toks[size_t(t1)])) ++t1;
    for (int32_t g = 0; g < groups; ++g) {
      plan->units.push_back(int32_t(plan->items.size()));
      for (int32_t u = t; u < t1; ++u) {
        const Tok& ku = toks[size_t(u)];
        AttnItem it;
        it.t = u, it.h0 = g * gs, it.e0 = ku.e0, it.e1 = ku.e1, it.k0 = ku.k0, it.k1 = ku.k1;
        plan->items.push_back(it);
      }
    }
    t = t1;
  }
  plan->units.push_back(int32_t(plan->items.size()));
}

}  // namespace f8backend::cpu::simd
