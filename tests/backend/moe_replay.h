// tests/backend/moe_replay.h — CPU replays of the CUDA MoE routing and
// grouping kernels (kernels/moe_route.cu) through kernels/moe_math.h, and a
// random routing generator; shared by test_cuda_moe_layout.cpp and
// test_cuda_moe_replay.cpp.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/moe_math.h"

namespace moe_replay {

using namespace f8k::moe;

// ---- routing ------------------------------------------------------------------------------

// One warp of moe_route_kernel for one token.
inline void replay_route(const float* logits, int32_t E, int32_t k, int32_t gating, bool norm, int32_t* ids, float* w) {
  std::vector<float> sc(logits, logits + E);
  if (gating == kSoftmaxTopK) {
    float lm[32];
    for (int lane = 0; lane < 32; ++lane) {
      lm[lane] = neg_inf();
      for (int32_t e = lane; e < E; e += 32) lm[lane] = fmaxf(lm[lane], sc[e]);
    }
    for (int off = 16; off > 0; off >>= 1) {
      float nx[32];
      for (int lane = 0; lane < 32; ++lane) nx[lane] = fmaxf(lm[lane], lm[lane ^ off]);
      std::memcpy(lm, nx, sizeof lm);
    }
    for (int lane = 1; lane < 32; ++lane) ASSERT_EQ(std::memcmp(&lm[lane], &lm[0], 4), 0);
    for (int32_t e = 0; e < E; ++e) sc[e] = fexp(sc[e] - lm[0]);
    const float s = seq_sum(sc.data(), E);
    for (int32_t e = 0; e < E; ++e) sc[e] = fdiv(sc[e], s);
  }
  uint32_t picked[32] = {};
  int32_t sel[kMaxK];
  for (int32_t j = 0; j < k; ++j) {
    Cand c[32];
    for (int lane = 0; lane < 32; ++lane) c[lane] = lane_best(sc.data(), E, lane, picked[lane]);
    for (int off = 16; off > 0; off >>= 1) {
      Cand nx[32];
      for (int lane = 0; lane < 32; ++lane) nx[lane] = better(c[lane ^ off], c[lane]) ? c[lane ^ off] : c[lane];
      std::copy(nx, nx + 32, c);
    }
    for (int lane = 1; lane < 32; ++lane) ASSERT_EQ(c[lane].id, c[0].id) << "lanes disagree on the winner";
    ASSERT_GE(c[0].id, 0);
    picked[owner_lane(c[0].id)] |= owner_bit(c[0].id);
    sel[j] = c[0].id;
  }
  route_weights(sc.data(), sel, k, gating, norm, w);
  std::copy(sel, sel + k, ids);
}

// ---- grouping ----------------------------------------------------------------------------

struct Group {
  std::vector<int32_t> offsets, order, slot_of, tile_e, tile_s0;
  int32_t n_tiles = 0;
};

// moe_group_kernel, phase by phase (one block of kGroupThreads threads).
inline Group replay_group(const std::vector<int32_t>& ids, int32_t E, int32_t B) {
  const int32_t P = int32_t(ids.size());
  std::vector<int32_t> off(size_t(E) + 1, 0), cur(size_t(E), 0), wcnt(size_t(kGroupWarps) * E, 0),
      part(2 * kGroupThreads), local(kGroupThreads);
  auto block_scan = [&](int32_t* v, int32_t n) {
    for (int th = 0; th < kGroupThreads; ++th) local[th] = part[th] = scan_local_sum(v, n, th);
    int32_t* in = part.data();
    int32_t* out = part.data() + kGroupThreads;
    for (int d = 1; d < kGroupThreads; d <<= 1) {
      for (int th = 0; th < kGroupThreads; ++th) scan_step(in, out, th, d);
      std::swap(in, out);
    }
    const int32_t total = in[kGroupThreads - 1];
    for (int th = 0; th < kGroupThreads; ++th) scan_write(v, n, th, in[th] - local[th]);
    return total;
  };
  for (int32_t i = 0; i < P; ++i) ++off[size_t(clamp_expert(ids[size_t(i)], E))];
  block_scan(off.data(), E);
  off[size_t(E)] = P;
  Group g;
  g.offsets = off;
  for (int32_t e = 0; e < E; ++e) {
    cur[size_t(e)] = off[size_t(e)];
    wcnt[size_t(e)] = tiles_of(off[size_t(e) + 1] - off[size_t(e)], B);
  }
  g.n_tiles = block_scan(wcnt.data(), E);
  g.tile_e.assign(size_t(std::max(g.n_tiles, 1)), -1);
  g.tile_s0.assign(size_t(std::max(g.n_tiles, 1)), -1);
  for (int32_t e = 0; e < E; ++e) {
    const int32_t first = wcnt[size_t(e)], n = tiles_of(off[size_t(e) + 1] - off[size_t(e)], B);
    for (int32_t q = 0; q < n; ++q) {
      g.tile_e[size_t(first + q)] = e;
      g.tile_s0[size_t(first + q)] = off[size_t(e)] + q * B;
    }
  }
  for (int32_t e = 0; e < E; ++e) wcnt[size_t(e)] = 0;
  g.order.assign(size_t(P), -1);
  g.slot_of.assign(size_t(P), -1);
  for (int32_t base = 0; base < P; base += kGroupThreads) {
    int32_t ex[kGroupThreads];
    uint32_t peers[kGroupThreads];
    for (int th = 0; th < kGroupThreads; ++th)
      ex[th] = base + th < P ? clamp_expert(ids[size_t(base + th)], E) : -1;
    for (int th = 0; th < kGroupThreads; ++th) {  // __match_any_sync within each warp
      const int w0 = th & ~31;
      peers[th] = 0;
      for (int l = 0; l < 32; ++l)
        if (ex[w0 + l] == ex[th]) peers[th] |= 1u << l;
    }
    for (int th = 0; th < kGroupThreads; ++th)
      if (ex[th] >= 0 && peer_leader(peers[th], th & 31)) wcnt[size_t((th >> 5) * E + ex[th])] = popc32(peers[th]);
    for (int32_t x = 0; x < E; ++x) warp_bases(wcnt.data(), cur.data(), E, x);
    for (int th = 0; th < kGroupThreads; ++th) {
      if (ex[th] < 0) continue;
      const int32_t pos = wcnt[size_t((th >> 5) * E + ex[th])] + peer_rank(peers[th], th & 31);
      g.order[size_t(pos)] = base + th;
      g.slot_of[size_t(base + th)] = pos;
    }
    for (int th = 0; th < kGroupThreads; ++th)
      if (ex[th] >= 0 && peer_leader(peers[th], th & 31)) wcnt[size_t((th >> 5) * E + ex[th])] = 0;
    for (int32_t v : wcnt) EXPECT_EQ(v, 0) << "a count survived its round";
  }
  return g;
}

// T tokens, k distinct experts each, drawn with a skew over 2/3 of the E
// experts and scattered by a random permutation: some experts empty, some
// crowded, the empty ones anywhere. Tokens list their experts in draw order.
inline std::vector<int32_t> random_routing(int32_t T, int32_t k, int32_t E, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> perm(static_cast<size_t>(E));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  const int32_t live = std::max(k, int32_t(E * 2 / 3));
  std::uniform_real_distribution<double> ud(0.0, 1.0);
  std::vector<int32_t> ids;
  for (int32_t t = 0; t < T; ++t) {
    std::vector<int32_t> pick;
    while (int32_t(pick.size()) < k) {
      const double u = ud(rng);
      const int32_t e = perm[size_t(std::min(live - 1, int32_t(u * u * live)))];
      if (std::find(pick.begin(), pick.end(), e) == pick.end()) pick.push_back(e);
    }
    ids.insert(ids.end(), pick.begin(), pick.end());
  }
  return ids;
}

}  // namespace moe_replay
