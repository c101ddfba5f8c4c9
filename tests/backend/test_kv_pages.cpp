// test_kv_pages.cpp — the paged KV bookkeeping (backend/kv_cells.h): page
// summaries and per-sequence page lists always equal what a brute-force
// scan of the cells gives, and so do the per-sequence position orders
// (seq_cells), through random alloc / seq_rm / seq_cp / seq_keep / clear; allocation keeps sequences in pages of their own while
// free pages last; a pool shared by many sequences only ever holds what
// they use.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "backend/kv_cells.h"

namespace {

using f8backend::Code;
using f8backend::KvCells;
using f8backend::kMaxSeq;

// Page summaries and lists recomputed from the cells alone.
void expect_consistent(const KvCells& kc, const std::string& where) {
  const int32_t P = KvCells::kPage;
  std::vector<std::vector<int32_t>> lists(kMaxSeq);
  int32_t used = 0;
  for (int32_t p = 0; p < kc.n_pages(); ++p) {
    KvCells::Page want;
    for (int32_t c = p * P; c < std::min(kc.size(), (p + 1) * P); ++c) {
      const auto& cell = kc.cells()[c];
      if (!cell.seqs) continue;
      ++want.used;
      want.seqs |= cell.seqs;
      want.pos_min = std::min(want.pos_min, cell.pos);
      want.pos_max = std::max(want.pos_max, cell.pos);
    }
    used += want.used;
    const auto& got = kc.pages()[p];
    ASSERT_EQ(got.seqs, want.seqs) << where << " page " << p;
    ASSERT_EQ(got.used, want.used) << where << " page " << p;
    if (want.used) {
      ASSERT_EQ(got.pos_min, want.pos_min) << where << " page " << p;
      ASSERT_EQ(got.pos_max, want.pos_max) << where << " page " << p;
    }
    for (int s = 0; s < kMaxSeq; ++s)
      if ((want.seqs >> s) & 1) lists[s].push_back(p);
  }
  ASSERT_EQ(used, kc.n_used()) << where;
  for (int s = 0; s < kMaxSeq; ++s) ASSERT_EQ(kc.seq_pages(s), lists[s]) << where << " seq " << s;
  // Position order (seq_cells): every cell the sequence sees, by (position, cell).
  for (int s = 0; s < kMaxSeq; ++s) {
    std::vector<std::pair<int32_t, int32_t>> want;
    for (int32_t c = 0; c < kc.size(); ++c)
      if ((kc.cells()[c].seqs >> s) & 1) want.push_back({kc.cells()[c].pos, c});
    std::sort(want.begin(), want.end());
    std::vector<int32_t> want_cells;
    for (auto [p, c] : want) want_cells.push_back(c);
    ASSERT_EQ(kc.seq_cells(s), want_cells) << where << " seq " << s << " position order";
  }
}

TEST(KvPages, SummariesAndListsFollowEveryOperation) {
  std::mt19937 rng(7);
  for (int n_cells : {8, 64, 100, 1000}) {
    KvCells kc(n_cells);
    std::vector<int32_t> next_pos(kMaxSeq, 0);
    for (int step = 0; step < 400; ++step) {
      const int op = rng() % 10;
      if (op < 6) {  // a batch of tokens of up to 3 sequences
        const int n = 1 + rng() % 12;
        std::vector<int32_t> seq(n), pos(n), cells(n);
        for (int i = 0; i < n; ++i) {
          seq[i] = rng() % 5;
          pos[i] = next_pos[seq[i]]++;
        }
        const auto st = kc.alloc(n, seq.data(), pos.data(), cells.data());
        if (!st.ok()) {
          ASSERT_EQ(st.code, Code::CacheFull);
          for (int i = 0; i < n; ++i) next_pos[seq[i]] = std::min(next_pos[seq[i]], pos[i]);
          kc.seq_rm(rng() % 5, 0, -1);
        } else {
          for (int i = 0; i < n; ++i) ASSERT_EQ(kc.cells()[cells[i]].pos, pos[i]);
        }
      } else if (op == 6) {
        const int s = rng() % 5, p0 = rng() % 40;
        kc.seq_rm(s, p0, -1);
        next_pos[s] = std::max(0, kc.seq_pos_max(s) + 1);
      } else if (op == 7) {
        const int src = rng() % 5, dst = rng() % 5;
        if (src != dst) {
          kc.seq_rm(dst, 0, -1);
          kc.seq_cp(src, dst, 0, -1);
          next_pos[dst] = next_pos[src];
        }
      } else if (op == 8 && rng() % 8 == 0) {
        kc.seq_keep(rng() % 5);
        for (int s = 0; s < kMaxSeq; ++s) next_pos[s] = std::max(0, kc.seq_pos_max(s) + 1);
      } else if (rng() % 20 == 0) {
        kc.clear();
        std::fill(next_pos.begin(), next_pos.end(), 0);
      }
      expect_consistent(kc, "n_cells " + std::to_string(n_cells) + " step " + std::to_string(step));
      if (HasFatalFailure()) return;
    }
  }
}

// While wholly free pages exist, every page holds one sequence's tokens
// only, in position order, and a sequence's list grows a page per kPage tokens.
TEST(KvPages, SequencesKeepPagesOfTheirOwn) {
  const int32_t P = KvCells::kPage;
  KvCells kc(16 * P);
  // 4 sequences, decoded in lock step (the server's batch), 3 pages each.
  for (int32_t p = 0; p < 3 * P; ++p) {
    int32_t seq[4] = {0, 1, 2, 3}, pos[4] = {p, p, p, p}, cells[4];
    ASSERT_TRUE(kc.alloc(4, seq, pos, cells).ok());
  }
  for (int s = 0; s < 4; ++s) ASSERT_EQ(kc.seq_pages(s).size(), 3u) << s;
  for (int32_t pg = 0; pg < kc.n_pages(); ++pg) {
    const auto& ps = kc.pages()[pg];
    if (!ps.used) continue;
    EXPECT_EQ(__builtin_popcountll(ps.seqs), 1) << "page " << pg;
    EXPECT_EQ(ps.used, P);
    EXPECT_EQ(ps.pos_max - ps.pos_min, P - 1);
  }
  // A fork shares the pages (no copy) and its new tokens take a page of their own.
  kc.seq_cp(0, 5, 0, -1);
  EXPECT_EQ(kc.seq_pages(5), kc.seq_pages(0));
  EXPECT_EQ(kc.n_used(), 12 * P);
  int32_t s5 = 5, p5 = 3 * P, c5;
  ASSERT_TRUE(kc.alloc(1, &s5, &p5, &c5).ok());
  EXPECT_EQ(kc.seq_pages(5).size(), 4u);
  EXPECT_EQ(kc.seq_pages(0).size(), 3u);
  EXPECT_EQ(kc.pages()[c5 / P].seqs, uint64_t{1} << 5);
  // Freed pages return to the pool.
  kc.seq_rm(1, 0, -1);
  EXPECT_TRUE(kc.seq_pages(1).empty());
  EXPECT_EQ(kc.n_used(), 9 * P + 1);
  EXPECT_EQ(kc.seq_pos_max(5), 3 * P);
  EXPECT_EQ(kc.seq_pos_max(0), 3 * P - 1);
}

// The pool has no per-sequence reservation: 64 sequences of different
// lengths fill it to the last cell, whatever their mix.
TEST(KvPages, PoolFillsCompletely) {
  const int32_t P = KvCells::kPage;
  KvCells kc(10 * P);
  int32_t total = 0, p = 0;
  std::vector<int32_t> next(kMaxSeq, 0);
  std::mt19937 rng(3);
  while (total < kc.size()) {
    int32_t s = rng() % kMaxSeq, pos = next[s]++, c;
    ASSERT_TRUE(kc.alloc(1, &s, &pos, &c).ok()) << total;
    ++total;
    ++p;
  }
  EXPECT_EQ(kc.n_used(), kc.size());
  int32_t s = 0, pos = next[0], c;
  EXPECT_EQ(kc.alloc(1, &s, &pos, &c).code, Code::CacheFull);
  expect_consistent(kc, "full pool");
}

}  // namespace
