// test_cuda_attn_det.cpp — the deterministic attention kernel
// (attn_det_kernel in kernels/attention.cu, --deterministic on CUDA)
// replayed on the CPU, no GPU needed: per (token, head) block the visible
// range of the sequence's position-ordered list, the position blocks taken
// by warps in rounds, each block's runs (lane-slice dot products, the xor
// butterfly, probabilities and sums in list order), the round's partials
// folded in block order — all through kernels/attn_det.h and
// kernels/attn_math.h, the functions the kernel calls. The lists come from
// the real bookkeeping (KvCells::seq_cells) of pools laid out in different
// ways. Checks: a query's output is bit-identical replayed in launches of
// T = 1, 7 and 64 tokens (at any index of the batch, beside any other
// queries) and whatever the pool's layout; and it matches a double-precision
// softmax attention within FP32 rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/kv_cells.h"
#include "ggf8/fp8.h"
#include "kernels/attn_det.h"
#include "kernels/attn_math.h"
#include "kernels/kv_scale.h"

namespace {

using f8backend::KvCells;
namespace ad = f8k::attn_det;
namespace am = f8k::attn;

constexpr int kWarps = 4, kThreads = 128;  // attention.cu's block shape
constexpr int kKv = 2, kHeads = 4;

// A pool: the bookkeeping plus each cell's stored K/V values (decoded, before
// the scale) for kKv heads of D elements.
struct Pool {
  KvCells kc;
  int D;
  std::vector<float> k, v;  // [cell][kKv][D]
  std::vector<float> kx, vx;  // per-token BF16 scales [cell][kKv] (1 without: kernel's k_ts null)
  Pool(int cells, int d)
      : kc(cells), D(d), k(size_t(cells) * kKv * d), v(k.size()), kx(size_t(cells) * kKv, 1.0f), vx(kx.size(), 1.0f) {}
};

// Stored rows of (seq, pos): sequence 0's (and 7's, its prefix donor) depend
// on the position only, so every layout holds the same values for it.
// fp8: 0 = F32, 1 = E4M3 with the layer scales (Args ks, vs), 2 = E4M3 with
// per-token scales: each head's row its own size, coded with its BF16 scale (kx, vx).
void rows(int seq, int pos, int D, int fp8, float* k, float* v, float* kx, float* vx) {
  if (seq == 7) seq = 0;
  std::mt19937 rng(uint32_t(seq * 1000003 + pos * 31 + 1));
  std::normal_distribution<float> nd(0.0f, seq == 0 ? 1.0f : 2.5f);
  if (fp8 == 2) {
    for (int h = 0; h < kKv; ++h)
      for (int which = 0; which < 2; ++which) {
        float* dst = (which ? v : k) + h * D;
        const float sz = std::ldexp(1.0f, int(rng() % 9) - (which ? 4 : 2));
        float amax = 0.0f;
        for (int i = 0; i < D; ++i) amax = std::max(amax, f8k::kvs::finite_abs(dst[i] = sz * nd(rng)));
        const float s = f8k::kvs::scale_value(f8k::kvs::scale_for_amax(amax));
        for (int i = 0; i < D; ++i) dst[i] = ggf8::e4m3_to_f32(ggf8::e4m3_from_f32(dst[i] / s));
        (which ? vx : kx)[h] = s;
      }
    return;
  }
  for (int i = 0; i < kKv * D; ++i) {
    float a = nd(rng) / 0.05f, b = nd(rng) / 0.04f;  // stored = value / scale
    if (fp8) a = ggf8::e4m3_to_f32(ggf8::e4m3_from_f32(a)), b = ggf8::e4m3_to_f32(ggf8::e4m3_from_f32(b));
    k[i] = a;
    v[i] = b;
  }
}

void alloc(Pool& pl, const std::vector<std::pair<int, int>>& toks, int fp8) {
  std::vector<int32_t> seq, pos, cells(toks.size());
  for (auto [s, p] : toks) seq.push_back(s), pos.push_back(p);
  ASSERT_TRUE(pl.kc.alloc(int32_t(toks.size()), seq.data(), pos.data(), cells.data()).ok());
  for (size_t i = 0; i < toks.size(); ++i)
    rows(toks[i].first, toks[i].second, pl.D, fp8, &pl.k[size_t(cells[i]) * kKv * pl.D],
         &pl.v[size_t(cells[i]) * kKv * pl.D], &pl.kx[size_t(cells[i]) * kKv], &pl.vx[size_t(cells[i]) * kKv]);
}

std::vector<std::pair<int, int>> span(int s, int p0, int p1) {
  std::vector<std::pair<int, int>> v;
  for (int p = p0; p < p1; ++p) v.push_back({s, p});
  return v;
}

constexpr int kLen = 200;  // sequence 0: positions 0..199 (4 blocks)

void layout(int which, Pool& pl, int fp8) {
  std::mt19937 rng(uint32_t(which + 1));
  switch (which) {
    case 0: alloc(pl, span(0, 0, kLen), fp8); break;
    case 1: {  // interleaved with others
      int pa = 0, pb = 0;
      while (pa < kLen) {
        std::vector<std::pair<int, int>> b;
        for (int i = int(rng() % 5); i > 0; --i) b.push_back({1, pb++});
        for (int i = 1 + int(rng() % 9); i > 0 && pa < kLen; --i) b.push_back({0, pa++});
        alloc(pl, b, fp8);
      }
      break;
    }
    case 2:  // fragmented: no free page left when A arrives
      for (int f = 1; f <= 5; ++f) alloc(pl, span(f, 0, 40 + 9 * f), fp8);
      pl.kc.seq_rm(2, 0, -1);
      pl.kc.seq_rm(4, 11, -1);
      pl.kc.seq_rm(1, 3, 30);
      for (int p = 0; p < kLen; p += 13) alloc(pl, span(0, p, std::min(kLen, p + 13)), fp8);
      break;
    case 3:  // prefix computed by sequence 7, shared, then A's own
      alloc(pl, span(3, 0, 21), fp8);
      alloc(pl, span(7, 0, 110), fp8);
      pl.kc.seq_cp(7, 0, 0, 110);
      pl.kc.seq_rm(7, 0, -1);
      alloc(pl, span(0, 110, kLen), fp8);
      break;
    case 4:  // tail removed and written again
      alloc(pl, span(0, 0, 150), fp8);
      alloc(pl, span(5, 0, 30), fp8);
      pl.kc.seq_rm(0, 131, -1);
      alloc(pl, span(0, 131, kLen), fp8);
      break;
    default:  // 6 pages: A's later positions wrap around into pages freed before its earlier ones
      alloc(pl, span(1, 0, 128), fp8);  // pages 0, 1
      alloc(pl, span(2, 0, 64), fp8);   // page 2
      alloc(pl, span(0, 0, 128), fp8);  // pages 3, 4
      alloc(pl, span(6, 0, 64), fp8);   // page 5
      pl.kc.seq_rm(1, 0, -1);
      alloc(pl, span(0, 128, kLen), fp8);  // pages 0, 1: lower cells than positions 0..127
      break;
  }
}

struct Query {
  int seq, pos;
};
std::vector<float> q_row(const Query& q, int D) {
  std::mt19937 rng(uint32_t(q.seq * 7919 + q.pos * 13 + 3));
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> r(size_t(kHeads) * D);
  for (auto& x : r) x = nd(rng);
  return r;
}

struct Args {
  int D, window;
  float scale, softcap, ks, vs;
  bool vec;  // lane owns D/32 contiguous elements (D = 64/128/256), else lane + 32 j
};

// The kernel's block (h, t), replayed.
void replay_block(const Pool& pl, const Args& a, const Query& qy, const std::vector<float>& q, int h, float* out) {
  const int D = a.D, group = kHeads / kKv, kvh = h / group;
  const int E = a.vec ? D / 32 : (D + 31) / 32;
  auto dim = [&](int lane, int j) { return a.vec ? lane * E + j : lane + 32 * j; };
  auto valid = [&](int lane, int j) { return dim(lane, j) < D; };
  const bool seq_ok = qy.seq >= 0 && qy.seq < f8backend::kMaxSeq;
  static const std::vector<int32_t> none;
  const std::vector<int32_t>& list = seq_ok ? pl.kc.seq_cells(qy.seq) : none;
  auto pos_at = [&](int32_t i) { return pl.kc.cells()[list[i]].pos; };
  const int32_t n = int32_t(list.size());
  const int32_t hi = ad::upper_bound(0, n, qy.pos, pos_at);
  const int32_t lo = a.window > 0 ? ad::upper_bound(0, hi, int64_t(qy.pos) - a.window, pos_at) : 0;
  const float qmul = a.scale * a.ks * am::kLog2e;
  std::vector<float> qf(size_t(32) * E, 0.0f);  // [lane][j]
  for (int lane = 0; lane < 32; ++lane)
    for (int j = 0; j < E; ++j) qf[lane * E + j] = valid(lane, j) ? q[size_t(h) * D + dim(lane, j)] * qmul : 0.0f;
  auto row = [&](const std::vector<float>& m, int32_t cell) { return &m[(size_t(cell) * kKv + kvh) * D]; };

  float run_m = -INFINITY, run_l = 0.0f;
  std::vector<float> run_a(D, 0.0f);
  bool have = false;
  if (lo < hi) {
    const int32_t b0 = ad::block_of(pos_at(lo)), b1 = ad::block_of(pos_at(hi - 1));
    for (int32_t base = b0; base <= b1; base += kWarps) {
      struct Part {
        float m = -INFINITY, l = 0.0f;
        std::vector<float> acc;
        bool has = false;
      };
      std::vector<Part> parts(kWarps);
      for (int w = 0; w < kWarps; ++w) {  // warp w: block base + w
        Part& P = parts[w];
        P.acc.assign(size_t(32) * E, 0.0f);  // [lane][j]
        const int32_t b = base + w;
        if (b > b1) continue;
        int32_t e = ad::upper_bound(lo, hi, int64_t(b) * ad::kBlock - 1, pos_at);
        const int32_t e_end = ad::upper_bound(e, hi, int64_t(b) * ad::kBlock + ad::kBlock - 1, pos_at);
        while (e < e_end) {
          const int nr = std::min<int>(ad::kRun, e_end - e);
          std::vector<float> sc(nr);
          float rm = -INFINITY;
          for (int j = 0; j < nr; ++j) {
            const float* kr = row(pl.k, list[e + j]);
            float lanes[32];
            for (int lane = 0; lane < 32; ++lane) {
              float d = 0.0f;
              for (int jj = 0; jj < E; ++jj) d = std::fma(qf[lane * E + jj], valid(lane, jj) ? kr[dim(lane, jj)] : 0.0f, d);
              lanes[lane] = d;
            }
            for (int off = 16; off > 0; off >>= 1) {
              float nx[32];
              for (int lane = 0; lane < 32; ++lane) nx[lane] = lanes[lane] + lanes[lane ^ off];
              std::copy(nx, nx + 32, lanes);
            }
            // kernel: d = __fmul_rn(d, s) with per-token scales (x 1 here without)
            sc[j] = am::softcap_log2(lanes[0] * pl.kx[size_t(list[e + j]) * kKv + kvh], a.softcap);
            rm = std::fmax(rm, sc[j]);
          }
          float rl = 0.0f;
          std::vector<float> racc(size_t(32) * E, 0.0f);
          for (int j = 0; j < nr; ++j) {
            const float p = am::fexp2(sc[j] - rm);
            rl = rl + p;
            const float pv = p * pl.vx[size_t(list[e + j]) * kKv + kvh];  // kernel: p * s (per-token scales)
            const float* vr = row(pl.v, list[e + j]);
            for (int lane = 0; lane < 32; ++lane)
              for (int jj = 0; jj < E; ++jj)
                racc[lane * E + jj] = std::fma(pv, valid(lane, jj) ? vr[dim(lane, jj)] : 0.0f, racc[lane * E + jj]);
          }
          if (!P.has) {
            P.m = rm, P.l = rl, P.acc = racc, P.has = true;
          } else {
            float M, ca, cb;
            ad::fold_coeffs(P.m, rm, &M, &ca, &cb);
            P.l = std::fma(P.l, ca, rl * cb);
            for (size_t i = 0; i < racc.size(); ++i) P.acc[i] = std::fma(P.acc[i], ca, racc[i] * cb);
            P.m = M;
          }
          e += nr;
        }
      }
      // Shared memory holds the parts by head-dim element; every thread folds its own.
      for (int w = 0; w < kWarps; ++w) {
        const Part& P = parts[w];
        if (!P.has) continue;
        std::vector<float> smacc(D);
        for (int lane = 0; lane < 32; ++lane)
          for (int j = 0; j < E; ++j)
            if (valid(lane, j)) smacc[dim(lane, j)] = P.acc[lane * E + j];
        if (!have) {
          run_m = P.m, run_l = P.l, run_a = smacc, have = true;
          continue;
        }
        float M, ca, cb;
        ad::fold_coeffs(run_m, P.m, &M, &ca, &cb);
        run_l = std::fma(run_l, ca, P.l * cb);
        for (int d = 0; d < D; ++d) run_a[d] = std::fma(run_a[d], ca, smacc[d] * cb);
        run_m = M;
      }
    }
  }
  for (int d = 0; d < D; ++d) out[d] = have ? am::finalize(run_a[d], run_l, a.vs) : 0.0f;
  (void)kThreads;
}

// One launch (attention_det): every (h, t) block of the batch.
std::vector<float> replay(const Pool& pl, const Args& a, const std::vector<Query>& qs) {
  std::vector<float> out(qs.size() * size_t(kHeads) * a.D);
  for (size_t t = 0; t < qs.size(); ++t) {
    const std::vector<float> q = q_row(qs[t], a.D);
    for (int h = 0; h < kHeads; ++h) replay_block(pl, a, qs[t], q, h, &out[(t * kHeads + h) * a.D]);
  }
  return out;
}

// Softmax attention in double over the same values (the cells found by a scan).
std::vector<double> reference(const Pool& pl, const Args& a, const Query& qy) {
  const int D = a.D, group = kHeads / kKv;
  const std::vector<float> q = q_row(qy, D);
  std::vector<double> out(size_t(kHeads) * D, 0.0);
  for (int h = 0; h < kHeads; ++h) {
    std::vector<double> sc, w;
    std::vector<int> cells;
    for (int c = 0; c < pl.kc.size(); ++c) {
      const auto& ce = pl.kc.cells()[c];
      if (!am::visible(ce.seqs, ce.pos, qy.seq, qy.pos, a.window)) continue;
      double d = 0;
      for (int i = 0; i < D; ++i)
        d += double(q[size_t(h) * D + i]) * pl.k[(size_t(c) * kKv + h / group) * D + i] * a.ks *
             pl.kx[size_t(c) * kKv + h / group];
      d *= a.scale;
      if (a.softcap > 0) d = a.softcap * std::tanh(d / a.softcap);
      sc.push_back(d);
      cells.push_back(c);
    }
    if (cells.empty()) continue;
    const double mx = *std::max_element(sc.begin(), sc.end());
    double l = 0;
    for (double s : sc) l += std::exp(s - mx);
    for (size_t j = 0; j < cells.size(); ++j) {
      const double p = std::exp(sc[j] - mx) / l;
      for (int i = 0; i < D; ++i)
        out[size_t(h) * D + i] +=
            p * pl.v[(size_t(cells[j]) * kKv + h / group) * D + i] * a.vs * pl.vx[size_t(cells[j]) * kKv + h / group];
    }
  }
  return out;
}

void check(const Args& a, int fp8, const char* what) {
  const std::vector<int> probes = {0, 1, 63, 64, 100, 127, 128, 150, 199};
  // Reference outputs: each probe alone (T = 1) in layout 0.
  Pool p0(1024, a.D);
  layout(0, p0, fp8);
  std::vector<std::vector<float>> ref;
  for (int p : probes) {
    ref.push_back(replay(p0, a, {{0, p}}));
    const std::vector<double> r = reference(p0, a, {0, p});
    double vmax = 0;
    for (size_t i = 0; i < p0.v.size(); ++i) vmax = std::max(vmax, std::fabs(double(p0.v[i]) * a.vs * p0.vx[i / a.D]));
    for (size_t i = 0; i < r.size(); ++i)
      ASSERT_NEAR(ref.back()[i], r[i], 3e-5 * vmax + 1e-4 * std::fabs(r[i])) << what << " probe " << p << " [" << i << "]";
  }
  const size_t row = size_t(kHeads) * a.D;
  std::mt19937 rng(5);
  for (int lay = 0; lay <= 5; ++lay) {
    Pool pl(lay == 2 ? 576 : lay == 5 ? 384 : 1024, a.D);
    layout(lay, pl, fp8);
    for (int T : {1, 7, 64}) {
      for (size_t pi = 0; pi < probes.size(); ++pi) {
        // The probe at a random index among other queries (other sequences,
        // sequence 0 at other positions, a sequence with no cells).
        std::vector<Query> qs;
        for (int i = 0; i < T; ++i) qs.push_back({int(rng() % 7), int(rng() % kLen)});
        if (lay == 5 && pi == 0) {  // the layout really puts later positions in lower cells
          const auto& l = pl.kc.seq_cells(0);
          ASSERT_GT(l.front(), l.back()) << "wrap layout";
        }
        const size_t at = rng() % size_t(T);
        qs[at] = {0, probes[pi]};
        const std::vector<float> got = replay(pl, a, qs);
        ASSERT_EQ(std::memcmp(got.data() + at * row, ref[pi].data(), row * sizeof(float)), 0)
            << what << ": position " << probes[pi] << " at index " << at << " of T " << T << " in layout " << lay
            << " differs from the query alone in a fresh pool";
      }
    }
  }
}

TEST(CudaAttnDet, ReplayIsBitIdenticalAtT1T7T64AndAnyLayout) {
  check({64, 0, 0.125f, 0.0f, 0.05f, 0.04f, true}, true, "e4m3 d64");
  check({128, 0, 0.0884f, 0.0f, 1.0f, 1.0f, true}, false, "f32 d128");
  check({40, 37, 0.158f, 0.0f, 0.05f, 0.04f, false}, true, "e4m3 d40 window 37");
  check({64, 90, 0.125f, 30.0f, 0.05f, 0.04f, true}, true, "e4m3 d64 window 90 softcap 30");
  // Per-token scales (the fp8 default): layer scales 1, a 2^e per (cell, kv head).
  check({64, 0, 0.125f, 0.0f, 1.0f, 1.0f, true}, 2, "e4m3-token d64");
  check({40, 37, 0.158f, 0.0f, 1.0f, 1.0f, false}, 2, "e4m3-token d40 window 37");
}

TEST(CudaAttnDet, Pieces) {
  std::vector<int32_t> p = {0, 3, 3, 7, 64, 65, 130};
  auto at = [&](int32_t i) { return p[i]; };
  EXPECT_EQ(ad::upper_bound(0, 7, -1, at), 0);
  EXPECT_EQ(ad::upper_bound(0, 7, 3, at), 3);
  EXPECT_EQ(ad::upper_bound(0, 7, 63, at), 4);
  EXPECT_EQ(ad::upper_bound(0, 7, 1000, at), 7);
  EXPECT_EQ(ad::upper_bound(4, 7, 64, at), 5);
  EXPECT_EQ(ad::block_of(63), 0);
  EXPECT_EQ(ad::block_of(64), 1);
  float M, a, b;
  ad::fold_coeffs(2.0f, 5.0f, &M, &a, &b);
  EXPECT_EQ(M, 5.0f);
  EXPECT_EQ(a, std::exp2(-3.0f));
  EXPECT_EQ(b, 1.0f);
}

}  // namespace
