// tests/backend/test_cuda_attn_math.cpp — the flash-decoding algorithm of
// kernels/attention.cu, run on the CPU with the same pieces
// (kernels/attn_math.h), against a direct double-precision softmax
// attention. No GPU needed.
//
// The emulation follows the kernel step by step: split s of [0, hi)
// (attn::split_range); warps take chunks of U cells round-robin; lanes hold
// head_dim slices (contiguous D/32 elements, or strided lane + 32 j); per
// chunk one visibility ballot, FP32 lane partial dot products reduced by an
// xor butterfly, one online-softmax step in the log2 domain; warps merged by
// log-sum-exp, then splits merged by log-sum-exp (or written directly for one
// split).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ggf8/fp8.h"
#include "kernels/act_math.h"
#include "kernels/attn_math.h"
#include "kernels/kv_scale.h"

namespace {

using f8k::attn::SplitRange;

enum class Store { F32, E4M3, E5M2, E4M3Token };

// A KV cache of one layer as the kernel sees it: raw decoded values (before
// the scale), cell metadata, hi.
struct Cache {
  int n_cells = 0, n_kv = 0, D = 0;
  std::vector<float> k, v;  // [n_cells][n_kv][D] decoded stored values
  float ks = 1.0f, vs = 1.0f;
  // Per-token scales (DevKv k_ts/v_ts): a BF16 s per (cell, kv head), [n_cells][n_kv];
  // empty = none (ks, vs are then 1 as CudaKVCache sets them).
  std::vector<float> kx, vx;
  float kmul(int cell, int kvh) const { return kx.empty() ? 1.0f : kx[size_t(cell) * n_kv + kvh]; }
  float vmul(int cell, int kvh) const { return vx.empty() ? 1.0f : vx[size_t(cell) * n_kv + kvh]; }
  std::vector<int32_t> pos;
  std::vector<unsigned long long> seqs;
  int32_t hi = 0;
};

struct Query {
  int T = 0, H = 0;
  std::vector<float> q;  // [T][H][D]
  std::vector<int32_t> seq, pos;
  float scale = 1.0f;
  int32_t window = 0;  // sliding window (0 = none)
  std::vector<float> sinks;  // [H] per-head sink logits (gpt-oss); empty = none
};

float quantize(float x, Store st) {
  switch (st) {
    case Store::E4M3: return ggf8::e4m3_to_f32(ggf8::e4m3_from_f32(x));
    case Store::E5M2: return ggf8::e5m2_to_f32(ggf8::e5m2_from_f32(x));
    default: return x;
  }
}

// Direct softmax attention in double over the real values (stored * scale).
std::vector<double> reference(const Cache& c, const Query& qy) {
  const int D = c.D, group = qy.H / c.n_kv;
  std::vector<double> out(static_cast<size_t>(qy.T) * qy.H * D, 0.0);
  for (int t = 0; t < qy.T; ++t)
    for (int h = 0; h < qy.H; ++h) {
      const int kvh = h / group;
      const float* q = &qy.q[(static_cast<size_t>(t) * qy.H + h) * D];
      std::vector<double> sc;
      std::vector<int> cells;
      double mx = -INFINITY;
      for (int cell = 0; cell < c.hi; ++cell) {
        if (!f8k::attn::visible(c.seqs[cell], c.pos[cell], qy.seq[t], qy.pos[t], qy.window)) continue;
        const float* kr = &c.k[(static_cast<size_t>(cell) * c.n_kv + kvh) * D];
        double d = 0;
        for (int i = 0; i < D; ++i)
          d += static_cast<double>(q[i]) * (static_cast<double>(kr[i]) * c.ks * c.kmul(cell, kvh));
        d *= qy.scale;
        sc.push_back(d);
        cells.push_back(cell);
        mx = std::max(mx, d);
      }
      // A sink joins the denominator (and the max) with no value.
      if (!qy.sinks.empty()) mx = std::max(mx, static_cast<double>(qy.sinks[h]));
      double sum = qy.sinks.empty() ? 0.0 : std::exp(qy.sinks[h] - mx);
      std::vector<double> acc(D, 0.0);
      for (size_t i = 0; i < cells.size(); ++i) {
        const double p = std::exp(sc[i] - mx);
        sum += p;
        const float* vr = &c.v[(static_cast<size_t>(cells[i]) * c.n_kv + kvh) * D];
        for (int d = 0; d < D; ++d) acc[d] += p * (static_cast<double>(vr[d]) * c.vs * c.vmul(cells[i], kvh));
      }
      for (int d = 0; d < D; ++d)
        out[(static_cast<size_t>(t) * qy.H + h) * D + d] = sum > 0 ? acc[d] / sum : 0.0;
    }
  return out;
}

struct KernelShape {
  int n_warps = 4;
  int U = 16;        // cells per warp chunk
  bool vec = true;   // lane owns contiguous D/32 elements (D % 32 == 0), else strided
};

struct Partial {
  float m = -INFINITY, l = 0.0f;
  std::vector<float> acc;
};

// The kernel's algorithm on the CPU.
std::vector<float> emulate(const Cache& c, const Query& qy, int n_splits, const KernelShape& ks) {
  using namespace f8k::attn;
  const int D = c.D, group = qy.H / c.n_kv;
  const int E = ks.vec ? D / 32 : (D + 31) / 32;
  auto dim = [&](int lane, int j) { return ks.vec ? lane * E + j : lane + 32 * j; };
  auto valid = [&](int lane, int j) { return dim(lane, j) < D; };
  std::vector<float> out(static_cast<size_t>(qy.T) * qy.H * D, -12345.0f);
  const float qmul = qy.scale * c.ks * kLog2e;

  for (int t = 0; t < qy.T; ++t)
    for (int h = 0; h < qy.H; ++h) {
      const int kvh = h / group;
      const float* q = &qy.q[(static_cast<size_t>(t) * qy.H + h) * D];
      std::vector<float> qf(D);
      for (int i = 0; i < D; ++i) qf[i] = q[i] * qmul;
      std::vector<Partial> splits(n_splits);
      for (int s = 0; s < n_splits; ++s) {
        const SplitRange r = split_range(s, n_splits, c.hi);
        std::vector<Partial> warps(ks.n_warps);
        for (int w = 0; w < ks.n_warps; ++w) {
          Partial& P = warps[w];
          P.acc.assign(D, 0.0f);
          for (int c0 = r.begin + w * ks.U; c0 < r.end; c0 += ks.n_warps * ks.U) {
            unsigned vmask = 0;
            for (int u = 0; u < ks.U; ++u) {
              const int cell = c0 + u;
              if (cell < r.end && visible(c.seqs[cell], c.pos[cell], qy.seq[t], qy.pos[t], qy.window)) vmask |= 1u << u;
            }
            if (vmask == 0) continue;
            std::vector<float> sc(ks.U);
            for (int u = 0; u < ks.U; ++u) {
              const bool vis = (vmask >> u) & 1u;
              const float* kr = &c.k[(static_cast<size_t>(c0 + u) * c.n_kv + kvh) * D];
              float lanes[32];
              for (int lane = 0; lane < 32; ++lane) {
                float d = 0.0f;
                for (int j = 0; j < E; ++j)
                  if (valid(lane, j)) d = std::fma(qf[dim(lane, j)], vis ? kr[dim(lane, j)] : 0.0f, d);
                lanes[lane] = d;
              }
              for (int off = 16; off > 0; off >>= 1) {
                float nx[32];
                for (int lane = 0; lane < 32; ++lane) nx[lane] = lanes[lane] + lanes[lane ^ off];
                std::copy(nx, nx + 32, lanes);
              }
              for (int lane = 1; lane < 32; ++lane) EXPECT_EQ(lanes[lane], lanes[0]);  // butterfly: all equal
              sc[u] = vis ? lanes[0] * c.kmul(c0 + u, kvh) : -INFINITY;  // kernel: sc * kx[u]
            }
            float mb = -INFINITY;
            for (int u = 0; u < ks.U; ++u) mb = std::fmax(mb, sc[u]);
            const float mn = std::fmax(P.m, mb);
            const float cf = rescale(P.m, mn);
            P.l *= cf;
            for (int d = 0; d < D; ++d) P.acc[d] *= cf;
            for (int u = 0; u < ks.U; ++u) {
              const float p = prob(sc[u], mn);
              P.l += p;
              const bool vis = (vmask >> u) & 1u;
              const float pv = p * (vis ? c.vmul(c0 + u, kvh) : 1.0f);  // kernel: p * vx[u]
              const float* vr = &c.v[(static_cast<size_t>(c0 + u) * c.n_kv + kvh) * D];
              for (int d = 0; d < D; ++d) P.acc[d] = std::fma(pv, vis ? vr[d] : 0.0f, P.acc[d]);
            }
            P.m = mn;
          }
        }
        // Block merge of the warps.
        std::vector<float> wm(ks.n_warps);
        for (int w = 0; w < ks.n_warps; ++w) wm[w] = warps[w].m;
        const float M = merge_max(wm.data(), ks.n_warps, 1);
        Partial& S = splits[s];
        S.m = M;
        S.l = 0.0f;
        S.acc.assign(D, 0.0f);
        std::vector<float> wt(ks.n_warps);
        for (int w = 0; w < ks.n_warps; ++w) {
          wt[w] = merge_weight(warps[w].m, M);
          S.l += wt[w] * warps[w].l;
        }
        for (int d = 0; d < D; ++d) {
          float x = 0.0f;
          for (int w = 0; w < ks.n_warps; ++w) x = std::fma(wt[w], warps[w].acc[d], x);
          S.acc[d] = x;
        }
      }
      float* o = &out[(static_cast<size_t>(t) * qy.H + h) * D];
      if (n_splits == 1) {
        float L = splits[0].l, sc = 1.0f;
        if (!qy.sinks.empty()) sc = fold_sink(splits[0].m, sink_log2(qy.sinks[h]), &L);
        for (int d = 0; d < D; ++d) o[d] = finalize(splits[0].acc[d] * sc, L, c.vs);
        continue;
      }
      // Split merge (the merge kernel): work holds (m, l) pairs with stride 2.
      std::vector<float> ml(2 * n_splits);
      for (int s = 0; s < n_splits; ++s) {
        ml[2 * s] = splits[s].m;
        ml[2 * s + 1] = splits[s].l;
      }
      const float M = merge_max(ml.data(), n_splits, 2);
      std::vector<float> sw(n_splits);
      float L = 0.0f;
      for (int s = 0; s < n_splits; ++s) sw[s] = merge_weight(ml[2 * s], M);
      for (int s = 0; s < n_splits; ++s) L += sw[s] * ml[2 * s + 1];
      const float snk = qy.sinks.empty() ? 1.0f : fold_sink(M, sink_log2(qy.sinks[h]), &L);
      for (int d = 0; d < D; ++d) {
        float x = 0.0f;
        for (int s = 0; s < n_splits; ++s) x = std::fma(sw[s], splits[s].acc[d], x);
        o[d] = finalize(x * snk, L, c.vs);
      }
    }
  return out;
}

// A cache with several sequences, shared cells (prefix shared by seq 0..2),
// free cells, out-of-order positions, and queries covering all-masked cases.
struct Scenario {
  Cache c;
  Query q;
  std::vector<bool> all_masked;  // per token: sees no cell
};

Scenario make_scenario(std::mt19937& rng, int n_cells, int n_kv, int H, int D, int T, Store st,
                       float spread) {
  Scenario sc;
  Cache& c = sc.c;
  c.n_cells = n_cells;
  c.n_kv = n_kv;
  c.D = D;
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.0f, 1.0f);
  c.ks = st == Store::F32 || st == Store::E4M3Token ? 1.0f : 0.02f;
  c.vs = st == Store::F32 || st == Store::E4M3Token ? 1.0f : 0.01f;
  c.k.resize(static_cast<size_t>(n_cells) * n_kv * D);
  c.v.resize(c.k.size());
  if (st == Store::E4M3Token) {
    // Per-token scales: each (cell, kv head) row with its own size (K 2^-4 ..
    // 2^4, V 2^-8 .. 2^8 times the spread: heads and tokens differ in real models),
    // coded as the store kernel does (kernels/kv_scale.h).
    std::uniform_int_distribution<int> mag(-8, 8);
    c.kx.resize(static_cast<size_t>(n_cells) * n_kv);
    c.vx.resize(c.kx.size());
    for (size_t r = 0; r < c.kx.size(); ++r)
      for (int which = 0; which < 2; ++which) {
        std::vector<float>& vals = which ? c.v : c.k;
        const float sz = (which ? 3.0f : spread) * std::ldexp(1.0f, which ? mag(rng) : mag(rng) / 2);
        float row[512], amax = 0.0f;
        for (int i = 0; i < D; ++i) amax = std::max(amax, f8k::kvs::finite_abs(row[i] = sz * nd(rng)));
        const uint16_t e = f8k::kvs::scale_for_amax(amax);
        const float s = f8k::kvs::scale_value(e);
        for (int i = 0; i < D; ++i) vals[r * D + i] = ggf8::e4m3_to_f32(ggf8::e4m3_from_f32(row[i] / s));
        (which ? c.vx : c.kx)[r] = s;
      }
  } else {
    // Stored values: real / scale quantized (FP8) as kv_store would write them.
    for (auto& x : c.k) x = quantize(spread * nd(rng) / c.ks, st);
    for (auto& x : c.v) x = quantize(3.0f * nd(rng) / c.vs, st);
  }
  c.pos.assign(n_cells, -1);
  c.seqs.assign(n_cells, 0);
  const int n_seq = 5;  // seq 5 exists only as a query (sees nothing); seq 63 too
  std::vector<int> next_pos(n_seq, 0);
  // Shared prefix: positions 0..P-1 seen by seqs 0, 1, 2.
  const int P = std::min(n_cells / 8, 40);
  std::vector<int> order(n_cells);
  for (int i = 0; i < n_cells; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);  // cells in random order: positions out of order
  int oi = 0;
  for (int p = 0; p < P; ++p, ++oi) {
    c.pos[order[oi]] = p;
    c.seqs[order[oi]] = 0x7ull;
  }
  for (int s = 0; s < 3; ++s) next_pos[s] = P;
  for (; oi < n_cells; ++oi) {
    if (ud(rng) < 0.15f) continue;  // free cell
    const int s = static_cast<int>(ud(rng) * n_seq) % n_seq;
    c.pos[order[oi]] = next_pos[s]++;
    c.seqs[order[oi]] = 1ull << s;
    if (s == 4 && ud(rng) < 0.3f) c.seqs[order[oi]] |= 1ull << 63;  // a cell seen by seq 63 too
  }
  // hi: one past the last used cell.
  c.hi = 0;
  for (int i = 0; i < n_cells; ++i)
    if (c.seqs[i]) c.hi = i + 1;

  Query& q = sc.q;
  q.T = T;
  q.H = H;
  q.scale = 1.0f / std::sqrt(static_cast<float>(D));
  q.q.resize(static_cast<size_t>(T) * H * D);
  for (auto& x : q.q) x = spread * nd(rng);
  for (int t = 0; t < T; ++t) {
    int s, p;
    switch (t % 8) {
      case 5: s = 5; p = 1000000; break;   // a sequence with no cells
      case 6: s = t % 3; p = -1; break;    // before every cell of its sequence
      case 7: s = 63; p = 1 << 30; break;  // bit 63
      default:
        s = t % n_seq;
        p = next_pos[s] > 0 ? static_cast<int>(ud(rng) * (next_pos[s] + 4)) - 2 : 0;
    }
    q.seq.push_back(s);
    q.pos.push_back(p);
  }
  sc.all_masked.resize(T);
  for (int t = 0; t < T; ++t) {
    bool any = false;
    for (int i = 0; i < c.hi; ++i) any = any || f8k::attn::visible(c.seqs[i], c.pos[i], q.seq[t], q.pos[t]);
    sc.all_masked[t] = !any;
  }
  return sc;
}

void check(const Scenario& sc, int n_splits, const KernelShape& ks, const char* what) {
  const auto ref = reference(sc.c, sc.q);
  const auto got = emulate(sc.c, sc.q, n_splits, ks);
  const int D = sc.c.D, H = sc.q.H;
  double vmax = 0;
  for (float x : sc.c.v) vmax = std::max(vmax, std::fabs(static_cast<double>(x) * sc.c.vs));
  int bad = 0;
  for (int t = 0; t < sc.q.T; ++t)
    for (int h = 0; h < H; ++h)
      for (int d = 0; d < D; ++d) {
        const size_t i = (static_cast<size_t>(t) * H + h) * D + d;
        ASSERT_FALSE(std::isnan(got[i])) << what << " t " << t << " h " << h << " d " << d;
        if (sc.all_masked[t]) {
          ASSERT_EQ(got[i], 0.0f) << what << " all-masked t " << t;
          continue;
        }
        const double tol = 2e-5 * vmax + 1e-4 * std::fabs(ref[i]);
        if (std::fabs(got[i] - ref[i]) > tol && bad++ < 5)
          ADD_FAILURE() << what << " splits " << n_splits << " t " << t << " h " << h << " d " << d
                        << ": got " << got[i] << " want " << ref[i];
      }
  EXPECT_EQ(bad, 0) << what << " splits " << n_splits;
}

TEST(CudaAttnMath, SplitRangesCoverExactlyOnce) {
  for (int hi = 0; hi <= 300; ++hi)
    for (int n = 1; n <= 64; ++n) {
      int expect = 0;
      int min_sz = 1 << 30, max_sz = 0;
      for (int s = 0; s < n; ++s) {
        const SplitRange r = f8k::attn::split_range(s, n, hi);
        ASSERT_EQ(r.begin, expect) << "hi " << hi << " n " << n << " s " << s;
        ASSERT_LE(r.begin, r.end);
        min_sz = std::min(min_sz, r.end - r.begin);
        max_sz = std::max(max_sz, r.end - r.begin);
        expect = r.end;
      }
      ASSERT_EQ(expect, hi) << "hi " << hi << " n " << n;
      ASSERT_LE(max_sz - min_sz, 1) << "hi " << hi << " n " << n;
    }
  // Large contexts: no overflow.
  const int hi = 2000000000;
  EXPECT_EQ(f8k::attn::split_range(63, 64, hi).end, hi);
  EXPECT_EQ(f8k::attn::split_range(0, 64, -5).end, 0);
}

TEST(CudaAttnMath, NumSplits) {
  using f8k::attn::num_splits;
  EXPECT_EQ(num_splits(1, 32, 132, 2, 64), 9);   // 32 * 9 = 288 >= 264
  EXPECT_EQ(num_splits(8, 32, 132, 2, 64), 2);
  EXPECT_EQ(num_splits(9, 32, 132, 2, 64), 1);   // 288 blocks already
  EXPECT_EQ(num_splits(512, 32, 132, 2, 64), 1);
  EXPECT_EQ(num_splits(1, 1, 132, 2, 64), 64);   // clamped
  EXPECT_EQ(num_splits(1, 1, 0, 2, 64), 2);      // n_sm unknown -> 1
  for (int T = 1; T <= 70; ++T)
    for (int H : {1, 4, 8, 32, 64}) {
      const int s = num_splits(T, H, 132, 2, 64);
      EXPECT_GE(s, 1);
      EXPECT_LE(s, 64);
      if (s < 64 && s > 1) {
        EXPECT_GE(static_cast<int64_t>(T) * H * s, 264);
        EXPECT_LT(static_cast<int64_t>(T) * H * (s - 1), 264);
      }
    }
}

TEST(CudaAttnMath, EmptyStatesNeverNaN) {
  using namespace f8k::attn;
  const float ninf = -INFINITY;
  EXPECT_EQ(rescale(ninf, ninf), 0.0f);
  EXPECT_EQ(rescale(ninf, 3.0f), 0.0f);
  EXPECT_EQ(rescale(2.0f, 2.0f), 1.0f);
  EXPECT_EQ(prob(ninf, ninf), 0.0f);
  EXPECT_EQ(prob(ninf, 1.0f), 0.0f);
  EXPECT_EQ(prob(1.0f, 1.0f), 1.0f);
  const float m[3] = {ninf, ninf, ninf};
  const float M = merge_max(m, 3, 1);
  EXPECT_EQ(M, ninf);
  EXPECT_EQ(merge_weight(ninf, M), 0.0f);
  EXPECT_EQ(finalize(0.0f, 0.0f, 2.0f), 0.0f);
  EXPECT_FALSE(visible(~0ull, 0, 64, 10));
  EXPECT_FALSE(visible(~0ull, 0, -1, 10));
  EXPECT_TRUE(visible(1ull << 63, 5, 63, 5));
  EXPECT_FALSE(visible(1ull << 63, 6, 63, 5));
  EXPECT_FALSE(visible(0, -1, 0, 5));  // a free cell
  // Sliding window W: p - W < cell pos <= p (W cells counting the query's own).
  EXPECT_TRUE(visible(1, 10, 0, 10, 4));
  EXPECT_TRUE(visible(1, 7, 0, 10, 4));
  EXPECT_FALSE(visible(1, 6, 0, 10, 4));
  EXPECT_FALSE(visible(1, 11, 0, 10, 4));
  EXPECT_TRUE(visible(1, 0, 0, 10, 0));  // 0 = no window
  EXPECT_TRUE(visible(1, 0, 0, 0, 1));
  EXPECT_FALSE(visible(1, 0, 0, 1 << 30, 1 << 24));  // no overflow at large positions
  EXPECT_TRUE(visible(1, (1 << 30) - 5, 0, 1 << 30, 1 << 24));
}

struct Config {
  const char* name;
  int n_cells, n_kv, H, D, T;
  Store st;
  float spread;
  KernelShape ks;
};

TEST(CudaAttnMath, EmulationMatchesDoubleSoftmax) {
  const Config cfgs[] = {
      // Llama-like decode: E4M3, GQA 4, D 128, fast path (U 16).
      {"e4m3 d128 gqa4", 700, 2, 8, 128, 9, Store::E4M3, 1.0f, {4, 16, true}},
      // Peaked softmax (large scores), D 64, U 16.
      {"e4m3 d64 peaked", 300, 2, 4, 64, 8, Store::E4M3, 4.0f, {4, 16, true}},
      // D 256, E5M2, U 8.
      {"e5m2 d256", 260, 1, 2, 256, 8, Store::E5M2, 1.0f, {4, 8, true}},
      // Odd head_dim (strided lanes), F32, MHA.
      {"f32 d80 strided", 200, 3, 3, 80, 8, Store::F32, 1.5f, {4, 4, false}},
      // Small even head_dim, strided, GQA 8.
      {"e4m3 d18 strided", 150, 1, 8, 18, 8, Store::E4M3, 1.0f, {4, 2, false}},
      // Prefill-like: many tokens.
      {"e4m3 d128 prefill", 400, 2, 4, 128, 64, Store::E4M3, 1.0f, {4, 16, true}},
      // Per-token scales (the fp8 default): a BF16 s per (cell, kv head) row.
      {"e4m3-token d64 gqa3", 500, 2, 6, 64, 16, Store::E4M3Token, 1.0f, {4, 16, true}},
      {"e4m3-token d128", 300, 1, 1, 128, 8, Store::E4M3Token, 1.0f, {4, 16, true}},
      {"e4m3-token d18 strided", 150, 1, 8, 18, 8, Store::E4M3Token, 1.0f, {4, 2, false}},
  };
  std::mt19937 rng(1234);
  for (const Config& cf : cfgs) {
    const Scenario sc = make_scenario(rng, cf.n_cells, cf.n_kv, cf.H, cf.D, cf.T, cf.st, cf.spread);
    int n_masked = 0;
    for (bool b : sc.all_masked) n_masked += b;
    ASSERT_GE(n_masked, 2) << cf.name;      // the scenario includes all-masked tokens
    ASSERT_LT(n_masked, cf.T) << cf.name;
    for (int n_splits : {1, 2, 3, 7, 9, 16, 33, 64}) {
      check(sc, n_splits, cf.ks, cf.name);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(CudaAttnMath, SplitsLargerThanContext) {
  std::mt19937 rng(77);
  // hi < n_splits: most splits are empty.
  const Scenario sc = make_scenario(rng, 20, 2, 4, 64, 8, Store::E4M3, 1.0f);
  ASSERT_LT(sc.c.hi, 64);
  for (int n_splits = 1; n_splits <= 64; ++n_splits) {
    check(sc, n_splits, {4, 16, true}, "tiny context");
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(CudaAttnMath, EmptyCache) {
  std::mt19937 rng(5);
  Scenario sc = make_scenario(rng, 16, 1, 2, 32, 4, Store::F32, 1.0f);
  sc.c.hi = 0;
  for (int t = 0; t < sc.q.T; ++t) sc.all_masked[t] = true;
  for (int n_splits : {1, 5, 64}) check(sc, n_splits, {4, 16, true}, "empty cache");
}

}  // namespace

// Sliding windows narrower than the context: the emulated kernel (which
// skips whole chunks where no cell is visible) equals the double softmax over
// the windowed cells for every split count.
// Soft-capping in the log2 domain equals cap * tanh(s / cap) on the natural
// score; masked scores stay -inf; cap 0 is the identity. gelu_tanh (the
// CUDA GeGLU's formula) matches gelu_pytorch_tanh in double.
TEST(CudaAttnMath, SoftcapAndGeluTanh) {
  using f8k::attn::kLog2e;
  for (float cap : {0.5f, 1.5f, 50.0f})
    for (float s : {-80.0f, -3.0f, -0.1f, 0.0f, 0.7f, 4.0f, 100.0f}) {
      const double want = cap * std::tanh(double(s) / cap) * kLog2e;
      EXPECT_NEAR(f8k::attn::softcap_log2(s * kLog2e, cap), want, 1e-5 * (1 + std::fabs(want))) << cap << " " << s;
    }
  EXPECT_EQ(f8k::attn::softcap_log2(3.25f, 0.0f), 3.25f);
  EXPECT_EQ(f8k::attn::softcap_log2(-INFINITY, 2.0f), -INFINITY);
  for (float x : {-10.0f, -3.0f, -1.0f, -0.25f, 0.0f, 0.3f, 1.0f, 2.5f, 8.0f}) {
    const double d = x, want = 0.5 * d * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (d + 0.044715 * d * d * d)));
    EXPECT_NEAR(f8k::act::gelu_tanh(x), want, 2e-7 * (1 + std::fabs(want))) << x;
  }
}

TEST(CudaAttnMath, SlidingWindowMatchesDoubleSoftmax) {
  std::mt19937 rng(4321);
  for (int window : {1, 5, 24, 100}) {
    Scenario sc = make_scenario(rng, 300, 2, 4, 64, 16, Store::E4M3, 1.0f);
    sc.q.window = window;
    for (int t = 0; t < sc.q.T; ++t) {
      bool any = false;
      for (int i = 0; i < sc.c.hi; ++i)
        any = any || f8k::attn::visible(sc.c.seqs[i], sc.c.pos[i], sc.q.seq[t], sc.q.pos[t], window);
      sc.all_masked[t] = !any;
    }
    for (int n_splits : {1, 3, 16, 64}) {
      check(sc, n_splits, {4, 16, true}, ("window " + std::to_string(window)).c_str());
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

// gpt-oss attention sinks: the kernel folds each head's sink into the final
// (merged) state; with one split and several, every store type, sinks below,
// near and above the scores (a large sink takes most of the mass: the output
// shrinks toward 0 but stays the reference's).
TEST(CudaAttnMath, SinksMatchDoubleSoftmax) {
  std::mt19937 rng(2024);
  for (Store st : {Store::F32, Store::E4M3, Store::E4M3Token}) {
    Scenario sc = make_scenario(rng, 300, 2, 8, 64, 24, st, 1.0f);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int h = 0; h < sc.q.H; ++h) sc.q.sinks.push_back(h == 0 ? 30.0f : h == 1 ? -30.0f : 2.0f * nd(rng));
    for (int splits : {1, 3, 8}) check(sc, splits, KernelShape{}, "sinks");
  }
  // The fold itself: an empty state stays 0 with l = p_scale; a sink equal to
  // the only score halves the weight.
  float l = 0.0f;
  EXPECT_EQ(f8k::attn::fold_sink(-INFINITY, 1.0f, &l, 256.0f), 0.0f);
  EXPECT_EQ(l, 256.0f);
  l = 1.0f;
  EXPECT_EQ(f8k::attn::fold_sink(3.0f, 3.0f, &l), 1.0f);
  EXPECT_EQ(l, 2.0f);
}
