// test_attention_plan.cpp — the cpu-simd attention planner
// (attention_plan.cpp): its units cover every (token, head group) once,
// tiles hold consecutive whole tokens of one sequence, a long decode token
// is split into block ranges with one fold, and short batches still give
// every thread work. (The outputs' bits under any plan are the attention
// tests' business: test_attention_long, tiles vs token by token.)
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "backend/cpu/cpu_common.h"
#include "backend/cpu/simd/attention_plan.h"

using namespace f8backend;
using namespace f8backend::cpu;
using namespace f8backend::cpu::simd;

namespace {

// A cache with sequence 0 at positions [0, 1000) and sequence 1 at [0, 100).
std::unique_ptr<KVCache> filled_cache() {
  KVCacheParams p;
  p.n_layers = 1, p.n_cells = 1100, p.n_kv_heads = 2, p.head_dim = 64, p.dtype = DType::E4M3;
  std::unique_ptr<KVCache> c;
  EXPECT_TRUE(CpuKVCache::create(p, &c).ok());
  for (auto [s, n] : {std::pair{0, 1000}, {1, 100}}) {
    std::vector<int32_t> seq(size_t(n), s), pos(size_t(n), 0), cells(size_t(n), 0);
    for (int i = 0; i < n; ++i) pos[size_t(i)] = i;
    EXPECT_TRUE(c->alloc_cells(n, seq.data(), pos.data(), cells.data()).ok());
  }
  return c;
}

struct Batch {
  std::vector<int32_t> seq, pos;
  AttnBatch b;
  Batch(std::vector<int32_t> s, std::vector<int32_t> p, int32_t heads) : seq(std::move(s)), pos(std::move(p)) {
    b.n_tokens = int32_t(seq.size()), b.seq = seq.data(), b.pos = pos.data(), b.n_heads = heads;
  }
};

// The invariants of any plan; returns the largest unit.
size_t check_plan(const AttnPlan& pl, const AttnBatch& b, int32_t gs) {
  EXPECT_FALSE(pl.units.empty());
  EXPECT_EQ(pl.units.front(), 0);
  EXPECT_EQ(size_t(pl.units.back()), pl.items.size());
  size_t largest = 0;
  for (size_t u = 0; u + 1 < pl.units.size(); ++u) {
    const int32_t j0 = pl.units[u], j1 = pl.units[u + 1];
    EXPECT_LT(j0, j1) << "unit " << u << " is empty";
    largest = std::max(largest, size_t(j1 - j0));
    if (j1 - j0 < 2) continue;
    EXPECT_LE(j1 - j0, kMaxTileTokens);
    for (int32_t j = j0; j < j1; ++j) {
      const AttnItem& it = pl.items[size_t(j)];
      EXPECT_LT(it.part, 0) << "a tile's items fold inline";
      EXPECT_EQ(it.h0, pl.items[size_t(j0)].h0);
      EXPECT_EQ(b.seq[it.t], b.seq[pl.items[size_t(j0)].t]) << "a tile holds one sequence";
      if (j > j0) {
        EXPECT_EQ(it.t, pl.items[size_t(j - 1)].t + 1) << "a tile's tokens are consecutive";
      }
    }
  }
  // Every (token, head) is written once: by an inline item (its group's
  // gs heads) or a fold (heads [g0, g0 + ng) of the group), whose split
  // items cover the group's blocks [k0, k1) once each.
  std::map<std::pair<int32_t, int32_t>, int> writes;  // (token, head)
  std::map<std::pair<int32_t, int32_t>, std::vector<std::pair<int32_t, int32_t>>> pieces;
  for (const AttnItem& it : pl.items) {
    if (it.part < 0)
      for (int32_t h = 0; h < gs; ++h) ++writes[{it.t, it.h0 + h}];
    else pieces[{it.t, it.h0}].push_back({it.k0, it.k1});
  }
  for (const AttnFold& f : pl.folds) {
    EXPECT_GE(f.g0, 0);
    EXPECT_GE(f.ng, 1);
    EXPECT_LE(f.g0 + f.ng, gs);
    for (int32_t h = f.g0; h < f.g0 + f.ng; ++h) ++writes[{f.t, f.h0 + h}];
    auto& v = pieces[{f.t, f.h0}];
    std::sort(v.begin(), v.end());
    EXPECT_FALSE(v.empty());
    for (size_t i = 1; i < v.size(); ++i) EXPECT_EQ(v[i].first, v[i - 1].second) << "split pieces are contiguous";
    if (!v.empty()) {
      EXPECT_EQ(v.back().second - v.front().first, f.n);
    }
  }
  for (int32_t t = 0; t < b.n_tokens; ++t)
    for (int32_t h = 0; h < b.n_heads; ++h) EXPECT_EQ((writes[{t, h}]), 1) << "token " << t << " head " << h;
  EXPECT_EQ(writes.size(), size_t(b.n_tokens) * size_t(b.n_heads));
  return largest;
}

}  // namespace

TEST(AttentionPlan, PrefillChunkRunsInTilesOfOneSequence) {
  const auto c = filled_cache();
  const auto& cc = static_cast<const CpuKVCache&>(*c);
  // 200 prompt tokens of sequence 0, a decode token of sequence 1 inside,
  // 30 more of sequence 0: two head groups of 3 (6 heads, 2 KV heads).
  std::vector<int32_t> seq, pos;
  for (int i = 0; i < 200; ++i) seq.push_back(0), pos.push_back(700 + i);
  seq.push_back(1), pos.push_back(99);
  for (int i = 0; i < 30; ++i) seq.push_back(0), pos.push_back(900 + i);
  const Batch x(seq, pos, 6);
  for (int32_t threads : {1, 2, 4}) {
    AttnPlan pl;
    plan_attention(cc, x.b, 3, threads, &pl);
    // Tiles of 231 tokens / (threads x kItemsPerThread), at most kMaxTileTokens.
    const int32_t want = std::min<int32_t>(kMaxTileTokens, 231 / (threads * kItemsPerThread));
    EXPECT_EQ(check_plan(pl, x.b, 3), size_t(want)) << threads << " threads";
    EXPECT_TRUE(pl.folds.empty()) << "a prefill chunk needs no split";
    // Enough units for the threads: at least kItemsPerThread each.
    EXPECT_GE(int64_t(pl.units.size()) - 1, int64_t(threads) * kItemsPerThread);
  }
}

TEST(AttentionPlan, ShortBatchesAndLongDecodeAreNotTiled) {
  const auto c = filled_cache();
  const auto& cc = static_cast<const CpuKVCache&>(*c);
  // 6 tokens of a speculative verification on 2 threads: one unit each.
  {
    const Batch x({0, 0, 0, 0, 0, 0}, {994, 995, 996, 997, 998, 999}, 6);
    AttnPlan pl;
    plan_attention(cc, x.b, 6, 2, &pl);
    EXPECT_EQ(check_plan(pl, x.b, 6), 1u);
  }
  // One decode token at 1000 positions (16 blocks) on 2 threads: split.
  {
    const Batch x({0}, {999}, 6);
    AttnPlan pl;
    plan_attention(cc, x.b, 6, 2, &pl);
    EXPECT_EQ(check_plan(pl, x.b, 6), 1u);
    ASSERT_EQ(pl.folds.size(), 2u) << "the group's 6 heads in one fold per thread";
    EXPECT_EQ(pl.folds[0].g0, 0);
    EXPECT_EQ(pl.folds[0].ng, 3);
    EXPECT_EQ(pl.folds[1].g0, 3);
    EXPECT_EQ(pl.folds[1].ng, 3);
    EXPECT_EQ(pl.slots, 16);
  }
  // A token that sees nothing (sequence 5 is empty) sits in a tile fine.
  {
    std::vector<int32_t> seq(40, 5), pos(40);
    for (int i = 0; i < 40; ++i) pos[size_t(i)] = i;
    const Batch x(seq, pos, 6);
    AttnPlan pl;
    plan_attention(cc, x.b, 6, 1, &pl);
    EXPECT_EQ(check_plan(pl, x.b, 6), 5u);
    for (const AttnItem& it : pl.items) EXPECT_EQ(it.e0, it.e1);
  }
}
