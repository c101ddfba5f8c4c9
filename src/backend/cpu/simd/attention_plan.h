// attention_plan.h — how cpu/simd splits one attention call into work items
// (kernels.h AttnItem / AttnFold): by query token and KV head, and for a
// token that sees a long context while the call has few tokens (decode), by
// ranges of 64-position blocks too, so one long sequence keeps every thread
// busy. The split changes where partials are computed, never their values
// or the order they are folded in (attention_portable.inc).
#pragma once

#include <cstdint>
#include <vector>

#include "backend/cpu/cpu_common.h"
#include "backend/cpu/simd/kernels.h"

namespace f8backend::cpu::simd {

struct AttnPlan {
  std::vector<AttnItem> items;
  std::vector<int32_t> units;   // AttnArgs::units: n_units + 1 item indices
  std::vector<AttnFold> folds;  // empty: no token was split
  int64_t slots = 0;            // partial slots the split items write
};

// Fewest position blocks (of 64) per split item: below this a token's
// blocks are computed by one item (the fold pass and its slots cost more
// than the balance wins).
constexpr int32_t kMinBlocksPerItem = 4;
// Split items per thread the planner aims at when it splits: a thread that
// is descheduled or slower holds up at most one of them.
constexpr int32_t kItemsPerThread = 8;

// Most tokens per tile (AttnItem): a tile computes on a 64-position
// block's K/V rows (96 KB of floats for SmolLM2's 3 KV heads) while they
// are in L2. Tiles are also kept to at most 1/kItemsPerThread of a thread's
// tokens, so short batches still spread over the threads.
constexpr int32_t kMaxTileTokens = 16;

// Items for attention over cache c of batch b, gs query heads per item (a
// divisor of the GQA group), `threads` workers, in units. Reuses plan's storage.
void plan_attention(const CpuKVCache& c, const AttnBatch& b, int32_t gs, int32_t threads, AttnPlan* plan);

}  // namespace f8backend::cpu::simd
