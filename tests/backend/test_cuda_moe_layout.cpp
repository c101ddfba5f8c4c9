// tests/backend/test_cuda_moe_layout.cpp — the index math of the CUDA
// mixture-of-experts kernels replayed on the CPU, no GPU needed, through the
// functions of kernels/moe_math.h and kernels/mma_fp8.h the kernels
// themselves call (replays in moe_replay.h):
//   - moe_route (moe_route.cu): the warp's lane-strided scores, the
//     butterfly max and arg-max reductions, lane 0's sums — bit-identical to
//     moe_route_token (host exp in both: the kernel's only difference is
//     expf), with ties, -inf and NaN scores;
//   - moe_group: the histogram, the Hillis-Steele block scans, the
//     __match_any_sync ranks and per-warp bases — equal to
//     moe_group_by_expert; the tile list and its max_tiles bound;
//   - the grouped GEMMs' work mapping (moe_gemm.cu, moe_gemm_wonly.cu):
//     every (expert, slot, row) produced exactly once and only by a block of
//     the slot's expert, each lane loading the row its MMA column stores, for
//     random routings (T = 1, 7, 64, 512, k = 1..8, E up to 128, empty
//     experts) and every token-tile count.
// The numerics (lane-by-lane GEMMs, the whole layer vs cpu-ref):
// test_cuda_moe_replay.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_common.h"
#include "backend/cuda/weight_image.h"
#include "backend/moe_route.h"
#include "backend_test_util.h"
#include "ggf8/fp8.h"
#include "kernels/mma_fp8.h"
#include "kernels/moe_math.h"
#include "moe_replay.h"

namespace {

using namespace f8test;
using namespace f8k::moe;
using namespace moe_replay;
namespace mma = f8k::mma;

TEST(CudaMoeLayout, RouteReplayEqualsMoeRouteToken) {
  std::mt19937 rng(5);
  int cases = 0;
  for (int32_t E : {1, 2, 3, 8, 31, 32, 33, 60, 64, 128, 257, 1024})
    for (int32_t k : {1, 2, 4, 8, 32})
      for (int gating : {kSoftmaxTopK, kTopKSoftmax})
        for (bool norm : {false, true}) {
          if (k > E) continue;
          std::vector<float> lg = randn(size_t(E), rng(), 2.0f);
          // exact ties (broken to the lower id), a -inf (a masked expert)
          for (int32_t e = 3; e < E; e += 7) lg[size_t(e)] = lg[size_t(e) - 3];
          if (E > 5) lg[4] = neg_inf();
          f8backend::MoeRoute r{gating == kTopKSoftmax ? f8backend::MoeGating::TopKSoftmax
                                                       : f8backend::MoeGating::SoftmaxTopK,
                                E, k, norm};
          std::vector<int32_t> ih(static_cast<size_t>(k)), id(static_cast<size_t>(k));
          std::vector<float> wh(static_cast<size_t>(k)), wd(static_cast<size_t>(k));
          f8backend::moe_route_token(lg.data(), r, ih.data(), wh.data());
          replay_route(lg.data(), E, k, gating, norm, id.data(), wd.data());
          ASSERT_EQ(id, ih) << "E " << E << " k " << k << " gating " << gating;
          ASSERT_EQ(std::memcmp(wd.data(), wh.data(), size_t(k) * 4), 0) << "E " << E << " k " << k;
          ++cases;
        }
  EXPECT_GT(cases, 150);
}

// NaN scores still give k distinct valid experts (the kernel's rule).
TEST(CudaMoeLayout, RouteWithNaNPicksDistinctExperts) {
  std::vector<float> lg = randn(40, 9);
  lg[3] = lg[17] = std::nanf("");
  for (int gating : {kSoftmaxTopK, kTopKSoftmax}) {
    int32_t ids[8];
    float w[8];
    replay_route(lg.data(), 40, 8, gating, true, ids, w);
    std::vector<int32_t> v(ids, ids + 8);
    std::sort(v.begin(), v.end());
    EXPECT_TRUE(std::adjacent_find(v.begin(), v.end()) == v.end());
    for (int32_t x : v) EXPECT_TRUE(x >= 0 && x < 40);
  }
}

void check_group(const std::vector<int32_t>& ids, int32_t T, int32_t k, int32_t E, int32_t B, const Group& g) {
  const int32_t P = T * k;
  std::vector<int32_t> off(size_t(E) + 1), order(static_cast<size_t>(P)), cur(static_cast<size_t>(E));
  f8backend::moe_group_by_expert(ids.data(), T, k, E, off.data(), order.data(), cur.data());
  ASSERT_EQ(g.offsets, off);
  ASSERT_EQ(g.order, order);
  for (int32_t i = 0; i < P; ++i) ASSERT_EQ(g.order[size_t(g.slot_of[size_t(i)])], i);
  int32_t want = 0;
  for (int32_t e = 0; e < E; ++e) want += tiles_of(off[size_t(e) + 1] - off[size_t(e)], B);
  ASSERT_EQ(g.n_tiles, want);
  ASSERT_LE(g.n_tiles, max_tiles(P, E, B));
  std::vector<int> seen(size_t(P), 0);
  for (int32_t j = 0; j < g.n_tiles; ++j) {
    const int32_t e = g.tile_e[size_t(j)], s0 = g.tile_s0[size_t(j)];
    ASSERT_TRUE(e >= 0 && e < E);
    if (j > 0) {
      ASSERT_LE(g.tile_e[size_t(j) - 1], e) << "tiles listed by expert";
    }
    ASSERT_GE(s0, off[size_t(e)]);
    for (int32_t s = s0; s < tile_end(s0, B, off[size_t(e) + 1]); ++s) ++seen[size_t(s)];
  }
  for (int32_t s = 0; s < P; ++s) ASSERT_EQ(seen[size_t(s)], 1) << "slot " << s;
}

TEST(CudaMoeLayout, GroupReplayEqualsMoeGroupByExpert) {
  uint32_t seed = 1;
  for (int32_t T : {1, 7, 64, 512})
    for (int32_t k = 1; k <= 8; ++k)
      for (int32_t E : {8, 60, 128}) {
        if (k > E) continue;
        const auto ids = random_routing(T, k, E, seed++);
        for (int32_t B : {8, 64}) {
          SCOPED_TRACE("T " + std::to_string(T) + " k " + std::to_string(k) + " E " + std::to_string(E) + " B " +
                       std::to_string(B));
          const Group g = replay_group(ids, E, B);
          check_group(ids, T, k, E, B, g);
          if (HasFatalFailure()) return;
        }
      }
  // E = 1 and E = 1024 (the kernels' bound: 4 experts per scan thread).
  for (int32_t E : {1, 1024}) {
    const auto ids = random_routing(100, 1, E, 77);
    check_group(ids, 100, 1, E, 16, replay_group(ids, E, 16));
  }
}

TEST(CudaMoeLayout, GroupClampsBadIdsToExpertZero) {
  std::vector<int32_t> ids = {3, -5, 1, 9, 0, 2};  // E = 4: -5 and 9 count as expert 0
  const Group g = replay_group(ids, 4, 8);
  std::vector<int32_t> fixed = {3, 0, 1, 0, 0, 2};
  check_group(fixed, 6, 1, 4, 8, g);
}

TEST(CudaMoeLayout, MaxTilesBoundsEveryRouting) {
  std::mt19937 rng(3);
  for (int it = 0; it < 2000; ++it) {
    const int32_t E = 1 + int32_t(rng() % 130), P = int32_t(rng() % 700), B = 8 << (rng() % 4);
    std::vector<int32_t> n(size_t(E), 0);
    for (int32_t i = 0; i < P; ++i) ++n[size_t(rng() % (rng() % 2 ? E : std::min<int32_t>(E, 3)))];
    int32_t tiles = 0;
    for (int32_t c : n) tiles += tiles_of(c, B);
    ASSERT_LE(tiles, max_tiles(P, E, B)) << "P " << P << " E " << E << " B " << B;
  }
  // Tight when every routed expert has one slot.
  EXPECT_EQ(max_tiles(8, 128, 64), 8);
  EXPECT_EQ(max_tiles(0, 128, 8), 0);
}

// ---- the grouped GEMMs' work mapping --------------------------------------------------------

template <int TILES, int MATS>
void check_fp8_cover(const Group& g, int32_t P, int32_t k, int32_t E, int64_t N) {
  using C = GemmCfg<TILES, MATS>;
  constexpr int W = C::kWarps, MT = C::kMT, NR = red_per_thread<TILES, MATS>();
  const int32_t B = mma::kN * TILES;
  std::vector<int> cover(size_t(P) * size_t(N), 0);
  const int64_t bx = (N + 16 * MT - 1) / (16 * MT);
  for (int64_t b = 0; b < bx; ++b)
    for (int32_t jt = 0; jt < max_tiles(P, E, B); ++jt) {
      if (jt >= g.n_tiles) continue;
      const int32_t e = g.tile_e[size_t(jt)], s0 = g.tile_s0[size_t(jt)];
      const int32_t s1 = tile_end(s0, B, g.offsets[size_t(e) + 1]);
      for (int tt = 0; tt < TILES; ++tt)
        for (int lane = 0; lane < 32; ++lane) {
          const int32_t s = tile_slot(s0, tt, lane);
          // The lane loads the activation row of the MMA column (token) its B fragment holds,
          // which the reduction maps back to slot s0 + tt * 8 + column.
          ASSERT_EQ(s, s0 + tt * mma::kN + mma::b_col(lane, 0));
          if (s >= s1) continue;
          ASSERT_EQ(act_row(s, g.order.data(), k, true), g.order[size_t(s)] / k);
          ASSERT_EQ(act_row(s, g.order.data(), k, false), s);
        }
      for (int mt = 0; mt < MT; ++mt)
        for (int th = 0; th < W * 32; ++th)
          for (int q = 0; q < NR; ++q) {
            const int jj = th + q * W * 32;
            if (jj >= TILES * mma::kM * mma::kN) continue;
            const int tt = jj / (mma::kM * mma::kN), el = jj % (mma::kM * mma::kN);
            const int64_t n = b * 16 * MT + 16 * mt + mma::red_elem_row(el);
            const int32_t s = s0 + tt * mma::kN + mma::red_elem_tok(el);
            if (n >= N || s >= s1) continue;
            ASSERT_TRUE(s >= g.offsets[size_t(e)] && s < g.offsets[size_t(e) + 1]) << "slot of another expert";
            ++cover[size_t(s) * size_t(N) + size_t(n)];
          }
    }
  for (size_t i = 0; i < cover.size(); ++i)
    ASSERT_EQ(cover[i], 1) << "slot " << i / size_t(N) << " row " << i % size_t(N) << " TILES " << TILES << " MATS "
                           << MATS;
}

void check_wonly_cover(const Group& g, int32_t P, int32_t E, int64_t N, int mats) {
  const int R = 2 / mats;
  std::vector<int> cover(size_t(P) * size_t(N), 0);
  const int64_t bx = (N + 8 * R - 1) / (8 * R);
  for (int64_t b = 0; b < bx; ++b)
    for (int32_t jt = 0; jt < max_tiles(P, E, 8); ++jt) {
      if (jt >= g.n_tiles) continue;
      const int32_t e = g.tile_e[size_t(jt)], s0 = g.tile_s0[size_t(jt)];
      const int32_t ntok = tile_end(s0, 8, g.offsets[size_t(e) + 1]) - s0;
      for (int warp = 0; warp < 8; ++warp)
        for (int r = 0; r < R; ++r)
          for (int t = 0; t < 8; ++t) {
            const int64_t n = b * 8 * R + warp * R + r;
            if (n >= N || t >= ntok) continue;
            ++cover[size_t(s0 + t) * size_t(N) + size_t(n)];
          }
    }
  for (size_t i = 0; i < cover.size(); ++i) ASSERT_EQ(cover[i], 1) << "wonly slot " << i / size_t(N);
}

TEST(CudaMoeLayout, GemmTilesCoverEverySlotAndRowOnce) {
  uint32_t seed = 500;
  for (int32_t T : {1, 7, 64, 512})
    for (int32_t k : {1, 2, 5, 8})
      for (int32_t E : {1, 4, 16, 128}) {
        if (k > E) continue;
        const int32_t P = T * k;
        const auto ids = random_routing(T, k, E, seed++);
        SCOPED_TRACE("T " + std::to_string(T) + " k " + std::to_string(k) + " E " + std::to_string(E));
        for (int tiles : {1, 2, 4, 8}) {
          const Group g = replay_group(ids, E, 8 * tiles);
          for (int64_t N : {16, 40, 77}) {
            switch (tiles) {
              case 1: check_fp8_cover<1, 2>(g, P, k, E, N), check_fp8_cover<1, 1>(g, P, k, E, N); break;
              case 2: check_fp8_cover<2, 2>(g, P, k, E, N), check_fp8_cover<2, 1>(g, P, k, E, N); break;
              case 4: check_fp8_cover<4, 2>(g, P, k, E, N), check_fp8_cover<4, 1>(g, P, k, E, N); break;
              default: check_fp8_cover<8, 2>(g, P, k, E, N), check_fp8_cover<8, 1>(g, P, k, E, N); break;
            }
            if (tiles == 1) check_wonly_cover(g, P, E, N, 2), check_wonly_cover(g, P, E, N, 1);
            if (HasFatalFailure()) return;
          }
        }
        // The host's choice stays within the four kernels.
        const int t = tiles_for_pairs(P, E);
        ASSERT_TRUE(t == 1 || t == 2 || t == 4 || t == 8);
      }
  EXPECT_EQ(tiles_for_pairs(8, 128), 1);   // decode: one slot per routed expert
  EXPECT_EQ(tiles_for_pairs(4096, 128), 4);  // 512 tokens x 8: 32 slots per expert
  EXPECT_EQ(tiles_for_pairs(64, 4), 2);   // 16 slots per expert
  EXPECT_EQ(tiles_for_pairs(1024, 8), 8);
}

}  // namespace
