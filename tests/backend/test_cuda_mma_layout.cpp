// tests/backend/test_cuda_mma_layout.cpp — the FP8 tensor-core GEMM
// (kernels/gemm_fp8.cu) replayed on the CPU, no GPU needed: every lane's
// 16-byte loads, the k-permuted register assembly, an emulated
// mma.sync.m16n8k32 per the PTX ISA fragment layouts, the chunk schedule
// across warps, the block-scale lookup, the shared-memory reduction and the
// epilogue — all through the functions of kernels/mma_fp8.h that the kernel
// itself calls — against a direct double-precision dot product; and a
// token's outputs bit-identical in launches of T = 1, 7, 64, 70 (what
// --deterministic relies on when it keeps every FP8 GEMM on this kernel).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "ggf8/fp8.h"
#include "kernels/mma_fp8.h"

namespace {

using namespace f8k::mma;

// ---- fragment layout facts --------------------------------------------------------------

TEST(CudaMmaLayout, FragmentsCoverEachElementOnce) {
  std::set<std::pair<int, int>> a, b, c;
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 16; ++i) a.insert({a_row(lane, i), a_col(lane, i)});
    for (int i = 0; i < 8; ++i) b.insert({b_row(lane, i), b_col(lane, i)});
    for (int i = 0; i < 4; ++i) c.insert({c_row(lane, i), c_col(lane, i)});
  }
  EXPECT_EQ(a.size(), 16u * 32u);
  EXPECT_EQ(b.size(), 32u * 8u);
  EXPECT_EQ(c.size(), 16u * 8u);
  for (auto [r, k] : a) EXPECT_TRUE(r >= 0 && r < 16 && k >= 0 && k < 32);
  for (auto [k, n] : b) EXPECT_TRUE(k >= 0 && k < 32 && n >= 0 && n < 8);
  for (auto [r, n] : c) EXPECT_TRUE(r >= 0 && r < 16 && n >= 0 && n < 8);
}

// Literal values of the PTX ISA formulas (9.7.14.5, m16n8k32, .e4m3/.e5m2)
// for lane 5 (groupID 1, threadID_in_group 1) and lane 30 (7, 2).
TEST(CudaMmaLayout, MatchesPtxIsaTable) {
  // A: row = g for a0..a3, a8..a11, g + 8 otherwise; col = 4t + (i & 3) (+16 for i >= 8).
  EXPECT_EQ(a_row(5, 0), 1);  EXPECT_EQ(a_col(5, 0), 4);
  EXPECT_EQ(a_row(5, 3), 1);  EXPECT_EQ(a_col(5, 3), 7);
  EXPECT_EQ(a_row(5, 4), 9);  EXPECT_EQ(a_col(5, 4), 4);
  EXPECT_EQ(a_row(5, 8), 1);  EXPECT_EQ(a_col(5, 8), 20);
  EXPECT_EQ(a_row(5, 15), 9); EXPECT_EQ(a_col(5, 15), 23);
  EXPECT_EQ(a_row(30, 12), 15); EXPECT_EQ(a_col(30, 12), 24);
  // B: row (k) = 4t + (i & 3) (+16 for i >= 4), col = g.
  EXPECT_EQ(b_row(5, 0), 4);  EXPECT_EQ(b_col(5, 0), 1);
  EXPECT_EQ(b_row(5, 4), 20); EXPECT_EQ(b_row(30, 7), 27); EXPECT_EQ(b_col(30, 7), 7);
  // C/D: row = g (c0, c1), g + 8 (c2, c3); col = 2t + (i & 1).
  EXPECT_EQ(c_row(5, 0), 1);  EXPECT_EQ(c_col(5, 0), 2);
  EXPECT_EQ(c_row(5, 3), 9);  EXPECT_EQ(c_col(5, 3), 3);
  EXPECT_EQ(c_row(30, 1), 7); EXPECT_EQ(c_col(30, 1), 5);
}

// The register assembly puts, in A and B alike, chunk byte slot_k(h, s) into
// k-slot s of MMA h, and the two MMAs cover the 64 bytes of a chunk once.
TEST(CudaMmaLayout, KPermutationIsConsistent) {
  std::set<int> covered;
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 32; ++s) covered.insert(slot_k(h, s));
  EXPECT_EQ(covered.size(), 64u);
  EXPECT_EQ(*covered.begin(), 0);
  EXPECT_EQ(*covered.rbegin(), 63);

  for (int lane = 0; lane < 32; ++lane) {
    // Tag every loaded byte with (row or token, chunk byte): wa rows, wb rows, xb tokens.
    uint32_t wa[4], wb[4], xb[4];
    for (int j = 0; j < 4; ++j) {
      wa[j] = wb[j] = xb[j] = 0;
      for (int by = 0; by < 4; ++by) {
        const uint32_t k = static_cast<uint32_t>(load_byte(lane) + 4 * j + by);  // < 64
        wa[j] |= (k | 0x00u) << (8 * by);
        wb[j] |= (k | 0x40u) << (8 * by);  // bit 6: row g + 8
        xb[j] |= k << (8 * by);
      }
    }
    for (int h = 0; h < 2; ++h) {
      uint32_t a[4], b[2];
      assemble_a(wa, wb, h, a);
      assemble_b(xb, h, b);
      for (int i = 0; i < 16; ++i) {
        const uint32_t v = (a[i >> 2] >> (8 * (i & 3))) & 0xFF;
        const int row_in_tile = load_row(lane, (v >> 6) & 1);
        EXPECT_EQ(row_in_tile, a_row(lane, i)) << "lane " << lane << " h " << h << " a" << i;
        EXPECT_EQ(static_cast<int>(v & 0x3F), slot_k(h, a_col(lane, i))) << "lane " << lane << " a" << i;
      }
      for (int i = 0; i < 8; ++i) {
        const uint32_t v = (b[i >> 2] >> (8 * (i & 3))) & 0xFF;
        EXPECT_EQ(load_token(lane), b_col(lane, i));
        EXPECT_EQ(static_cast<int>(v), slot_k(h, b_row(lane, i))) << "lane " << lane << " b" << i;
      }
    }
  }
}

// ---- the whole kernel, replayed -------------------------------------------------------------

uint8_t random_fp8(std::mt19937& rng, bool e5m2) {
  for (;;) {
    const uint8_t b = static_cast<uint8_t>(rng());
    if (e5m2 ? ((b & 0x7C) == 0x7C) : ((b & 0x7F) == 0x7F)) continue;  // no NaN / inf
    return b;
  }
}

struct Problem {
  int64_t N, K, stride, ldx;
  int32_t T;
  bool e5m2;
  int mode;  // 0 None, 1 Tensor, 2 Channel, 3 Block
  int32_t block_rows = 0, block_cols = 0;
  int64_t scale_cols = 0;
  bool bias;
  std::vector<uint8_t> w, xq;
  std::vector<float> sx, scale, b;
};

Problem make_problem(int64_t N, int64_t K, int32_t T, bool e5m2, int mode, bool bias, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> pos(0.25f, 2.0f), sym(-1.0f, 1.0f);
  Problem p;
  p.N = N;
  p.K = K;
  p.T = T;
  p.e5m2 = e5m2;
  p.mode = mode;
  p.bias = bias;
  p.stride = (K + 63) / 64 * 64;
  p.ldx = p.stride + 64;  // a wider activation row than needed is allowed
  p.w.assign(static_cast<size_t>(N * p.stride), 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) p.w[n * p.stride + k] = random_fp8(rng, e5m2);
  p.xq.assign(static_cast<size_t>(T * p.ldx), 0);
  for (int32_t t = 0; t < T; ++t)
    for (int64_t k = 0; k < K; ++k) p.xq[t * p.ldx + k] = random_fp8(rng, false);
  for (int32_t t = 0; t < T; ++t) p.sx.push_back(pos(rng) / 448.0f);
  if (mode == 1) p.scale = {pos(rng)};
  if (mode == 2)
    for (int64_t n = 0; n < N; ++n) p.scale.push_back(pos(rng));
  if (mode == 3) {
    p.block_rows = 32;
    p.block_cols = 128;
    p.scale_cols = (K + p.block_cols - 1) / p.block_cols + 1;  // padded scale row
    const int64_t srows = (N + p.block_rows - 1) / p.block_rows;
    for (int64_t i = 0; i < srows * p.scale_cols; ++i) p.scale.push_back(pos(rng));
  }
  if (bias)
    for (int64_t n = 0; n < N; ++n) p.b.push_back(sym(rng));
  return p;
}

float sw_of(const Problem& p, int64_t n) {
  return p.mode == 1 ? p.scale[0] : p.mode == 2 ? p.scale[n] : 1.0f;
}
float sb_ref(const Problem& p, int64_t n, int64_t k) {
  return p.mode == 3 ? p.scale[(n / p.block_rows) * p.scale_cols + k / p.block_cols] : 1.0f;
}

// One launch of gemm_fp8_kernel<TILES> (all blocks of grid (bx, passes)),
// tokens from tok_base, as the GPU runs it.
template <int TILES>
void replay_launch(const Problem& p, int32_t tok_base, int passes, std::vector<float>& y) {
  constexpr int W = Cfg<TILES>::kWarps, MT = Cfg<TILES>::kMT, U = Cfg<TILES>::kUnroll;
  const int64_t nk = (p.K + kChunk - 1) / kChunk;
  const int64_t bx = (p.N + 16 * MT - 1) / (16 * MT);
  const float* bias = p.bias ? p.b.data() : nullptr;
  for (int by = 0; by < passes; ++by)
    for (int64_t blk = 0; blk < bx; ++blk) {
      const int64_t row0 = blk * 16 * MT;
      const int32_t tok0 = tok_base + by * kPassTokens;
      // acc[warp][mt][tile][lane][4]
      std::vector<float> acc(static_cast<size_t>(W) * MT * TILES * 32 * 4, 0.0f);
      auto A = [&](int w, int mt, int tile, int lane, int i) -> float& {
        return acc[((((static_cast<size_t>(w) * MT + mt) * TILES + tile) * 32 + lane) * 4) + i];
      };
      for (int w = 0; w < W; ++w)
        for (int64_t it = 0; chunk_of(w, it, 0, W, U) < nk; ++it)
          for (int u = 0; u < U; ++u) {
            const int64_t c = chunk_of(w, it, u, W, U);
            if (c >= nk) continue;
            for (int mt = 0; mt < MT; ++mt) {
              const float sb = p.mode == 3
                                   ? p.scale[block_scale_index(scale_tile_row(row0 + 16 * mt, p.N), c,
                                                               p.block_rows, p.block_cols, p.scale_cols)]
                                   : 1.0f;
              // Every lane's loads for this (chunk, row tile).
              uint32_t wa[32][4], wb[32][4];
              for (int lane = 0; lane < 32; ++lane) {
                const int64_t ra = clamp_row(row0 + 16 * mt + load_row(lane, 0), p.N);
                const int64_t rb = clamp_row(row0 + 16 * mt + load_row(lane, 1), p.N);
                std::memcpy(wa[lane], &p.w[ra * p.stride + c * kChunk + load_byte(lane)], 16);
                std::memcpy(wb[lane], &p.w[rb * p.stride + c * kChunk + load_byte(lane)], 16);
              }
              for (int tile = 0; tile < TILES; ++tile) {
                uint32_t xb[32][4];
                for (int lane = 0; lane < 32; ++lane) {
                  const int32_t tok = tok0 + tile * kN + load_token(lane);
                  if (tok < p.T)
                    std::memcpy(xb[lane], &p.xq[tok * p.ldx + c * kChunk + load_byte(lane)], 16);
                  else
                    std::memset(xb[lane], 0, 16);
                }
                uint32_t fa[2][32][4], fb[2][32][2];
                for (int lane = 0; lane < 32; ++lane)
                  for (int h = 0; h < 2; ++h) {
                    assemble_a(wa[lane], wb[lane], h, fa[h][lane]);
                    assemble_b(xb[lane], h, fb[h][lane]);
                  }
                float tmp[32][4] = {};
                emulate_mma_m16n8k32(fa[0], fb[0], tmp, tmp, p.e5m2);
                emulate_mma_m16n8k32(fa[1], fb[1], tmp, tmp, p.e5m2);
                for (int lane = 0; lane < 32; ++lane)
                  for (int i = 0; i < 4; ++i) {
                    float& a = A(w, mt, tile, lane, i);
                    a = p.mode == 3 ? std::fma(tmp[lane][i], sb, a) : a + tmp[lane][i];
                  }
              }
            }
          }
      // Shared-memory reduction and epilogue.
      for (int mt = 0; mt < MT; ++mt) {
        std::vector<float> red(static_cast<size_t>(W) * TILES * kRedTile, std::nanf(""));
        for (int w = 0; w < W; ++w)
          for (int tile = 0; tile < TILES; ++tile)
            for (int lane = 0; lane < 32; ++lane)
              for (int i = 0; i < 4; ++i)
                red[(w * TILES + tile) * kRedTile + red_index(lane, i)] = A(w, mt, tile, lane, i);
        for (int j = 0; j < TILES * kM * kN; ++j) {
          const int tile = j / (kM * kN), e = j % (kM * kN);
          const int r = red_elem_row(e), tk = red_elem_tok(e);
          const int64_t n = row0 + 16 * mt + r;
          const int32_t t = tok0 + tile * kN + tk;
          if (n >= p.N || t >= p.T) continue;
          float s = 0.0f;
          for (int w = 0; w < W; ++w) s += red[(w * TILES + tile) * kRedTile + tk * kRedTokStride + r];
          ASSERT_FALSE(std::isnan(s)) << "reduction read an unwritten slot";
          y[static_cast<size_t>(t) * p.N + n] = epilogue_value(s, p.sx[t], sw_of(p, n), bias, n);
        }
      }
    }
}

// What gemm_fp8's host launcher does: full 64-token passes, then the rest.
std::vector<float> replay_gemm(const Problem& p) {
  std::vector<float> y(static_cast<size_t>(p.T) * p.N, std::nanf(""));
  const int32_t full = p.T / kPassTokens, rest = p.T % kPassTokens;
  if (full > 0) replay_launch<kMaxTiles>(p, 0, full, y);
  if (rest > 0) {
    switch (tiles_for(rest)) {
      case 1: replay_launch<1>(p, full * kPassTokens, 1, y); break;
      case 2: replay_launch<2>(p, full * kPassTokens, 1, y); break;
      case 4: replay_launch<4>(p, full * kPassTokens, 1, y); break;
      default: replay_launch<8>(p, full * kPassTokens, 1, y); break;
    }
  }
  return y;
}

void check_problem(const Problem& p) {
  const std::vector<float> y = replay_gemm(p);
  const int64_t nk = (p.K + 63) / 64;
  int bad = 0;
  for (int32_t t = 0; t < p.T; ++t)
    for (int64_t n = 0; n < p.N; ++n) {
      double dot = 0, mag = 0;
      for (int64_t k = 0; k < p.K; ++k) {
        const double prod = static_cast<double>(ggf8::e4m3_to_f32(p.xq[t * p.ldx + k])) *
                            fp8_value(p.w[n * p.stride + k], p.e5m2) * sb_ref(p, n, k);
        dot += prod;
        mag += std::fabs(prod);
      }
      const double s = static_cast<double>(p.sx[t]) * sw_of(p, n);
      const double ref = dot * s + (p.bias ? p.b[n] : 0.0);
      // FP32 accumulation: ~one rounding per MMA step and per chunk add.
      const double tol = (3 * nk + 40) * 6e-8 * mag * std::fabs(s) + 4e-7 * std::fabs(ref) + 1e-30;
      const double got = y[static_cast<size_t>(t) * p.N + n];
      if (!(std::fabs(got - ref) <= tol)) {
        if (++bad <= 5)
          ADD_FAILURE() << "t " << t << " n " << n << ": got " << got << " want " << ref << " (tol " << tol
                        << ")";
      }
    }
  EXPECT_EQ(bad, 0) << "N " << p.N << " K " << p.K << " T " << p.T << " e5m2 " << p.e5m2 << " mode "
                    << p.mode;
}

TEST(CudaMmaLayout, KernelReplayMatchesDotE4M3) {
  // Odd N (partial row tiles, clamped rows), K not a multiple of 64 (zero pad),
  // T on every tile count and across a pass boundary.
  uint32_t seed = 1;
  for (int32_t T : {1, 3, 8, 9, 17, 33, 64, 70})
    check_problem(make_problem(37, 200, T, false, T % 3 == 0 ? 2 : 1, T % 2 == 1, seed++));
}

TEST(CudaMmaLayout, KernelReplayMatchesDotE5M2) {
  uint32_t seed = 100;
  for (int32_t T : {1, 5, 16, 40})
    check_problem(make_problem(50, 300, T, true, 2, true, seed++));
}

TEST(CudaMmaLayout, KernelReplayMatchesDotNoScaleManyChunks) {
  // More chunks than warps * unroll: several loop iterations per warp.
  check_problem(make_problem(33, 64 * 37 + 5, 2, false, 0, false, 7));
  check_problem(make_problem(20, 64 * 37 + 5, 20, false, 0, true, 8));
}

TEST(CudaMmaLayout, KernelReplayMatchesDotBlockScale) {
  uint32_t seed = 200;
  for (int32_t T : {1, 12, 30, 65})
    check_problem(make_problem(70, 64 * 11 + 3, T, T % 2 == 0, 3, T % 3 == 0, seed++));
}

// Batch invariance (--deterministic keeps every FP8 GEMM on this kernel): a
// token's outputs, replayed in launches of T = 1, 7, 64 and 70 (two passes:
// another tile count) tokens with the token at any index, are bit-identical.
// The schedule per output (which warp takes which chunk, the MMA calls, the
// fixed-order cross-warp sum, the epilogue) depends on the weights' shape
// only; T picks how many token tiles a block carries, and tiles do not mix.
Problem subset(const Problem& all, const std::vector<int32_t>& toks) {
  Problem p = all;
  p.T = int32_t(toks.size());
  p.xq.assign(size_t(p.T) * p.ldx, 0);
  p.sx.clear();
  for (int32_t i = 0; i < p.T; ++i) {
    std::memcpy(&p.xq[size_t(i) * p.ldx], &all.xq[size_t(toks[i]) * all.ldx], size_t(all.ldx));
    p.sx.push_back(all.sx[toks[i]]);
  }
  return p;
}

TEST(CudaMmaLayout, KernelReplayIsBatchInvariant) {
  std::mt19937 rng(11);
  for (int mode : {2, 3}) {
    const Problem all = make_problem(45, 64 * 9 + 17, 70, false, mode, true, 300 + mode);
    std::vector<float> alone(size_t(all.T) * all.N);
    for (int32_t t : {0, 5, 33, 69}) {
      const std::vector<float> y = replay_gemm(subset(all, {t}));
      std::memcpy(&alone[size_t(t) * all.N], y.data(), size_t(all.N) * 4);
    }
    for (int32_t T : {7, 64, 70})
      for (int32_t t : {0, 5, 33, 69}) {
        std::vector<int32_t> toks(T);
        for (auto& x : toks) x = int32_t(rng() % uint32_t(all.T));
        const int32_t at = int32_t(rng() % uint32_t(T));
        toks[at] = t;
        const std::vector<float> y = replay_gemm(subset(all, toks));
        ASSERT_EQ(std::memcmp(&y[size_t(at) * all.N], &alone[size_t(t) * all.N], size_t(all.N) * 4), 0)
            << "mode " << mode << ": token " << t << " at index " << at << " of T " << T
            << " differs from the token alone";
      }
  }
}

// Every (n, k) of a (row tile, chunk) gets the block scale of its own element.
TEST(CudaMmaLayout, BlockScaleChunkMapping) {
  for (int32_t br : {16, 32, 128})
    for (int32_t bc : {64, 128, 192}) {
      const int64_t N = 301, K = 1000, sc = (K + bc - 1) / bc;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) {
          const int64_t row0 = n / 16 * 16;
          ASSERT_EQ(block_scale_index(scale_tile_row(row0, N), k / kChunk, br, bc, sc), (n / br) * sc + k / bc)
              << "br " << br << " bc " << bc << " n " << n << " k " << k;
        }
      // A tile past the last row (a block's overhang) stays inside the scale array.
      const int64_t past = (N + 15) / 16 * 16 + 16;
      EXPECT_LT(block_scale_index(scale_tile_row(past, N), (K - 1) / kChunk, br, bc, sc),
                ((N + br - 1) / br) * sc);
    }
}

// The schedule: every chunk of a row is visited by exactly one (warp, it, u).
TEST(CudaMmaLayout, ChunkScheduleCoversEachChunkOnce) {
  for (int W : {1, 4, 8})
    for (int U : {1, 2, 4})
      for (int64_t nk : {1, 3, 8, 63, 64, 65, 224}) {
        std::vector<int> seen(static_cast<size_t>(nk), 0);
        for (int w = 0; w < W; ++w)
          for (int64_t it = 0; chunk_of(w, it, 0, W, U) < nk; ++it)
            for (int u = 0; u < U; ++u) {
              const int64_t c = chunk_of(w, it, u, W, U);
              if (c < nk) ++seen[c];
            }
        for (int64_t c = 0; c < nk; ++c) ASSERT_EQ(seen[c], 1) << "W " << W << " U " << U << " nk " << nk;
      }
}

}  // namespace
