// tests/backend/bench_cuda_moe.cpp — GPU microbenchmark of one MoE layer's
// kernels (kernels/moe_route.cu, moe_gemm.cu, moe_combine.cu, act_quant.cu),
// not a test. Plain C++ against the launchers of kernels/moe.cuh.
//
//   bench_cuda_moe [check] [--no-check] [--reps N]
//
// 1. A correctness pass first (seconds; `check` runs only it, for
//    compute-sanitizer; --no-check skips it): the device sequence
//    moe_route -> moe_group -> quantize_act -> moe_gemm_fp8 (gate+up, fused
//    activation) -> quantize_act -> moe_gemm_fp8 (down) -> moe_combine on
//    random E4M3 stacks (channel and 128x128 block scales, biases, SwiGLU and
//    SwiGLUOss) against the same data flow computed on the host in double
//    (the routing by f8backend-equivalent host code in moe_math.h); the run
//    repeated bit-identical; T = 1, 7, 64, 300. Exits 1 on a failure.
// 2. Device-to-device copy bandwidth (1 GiB, read + write): the ceiling.
// 3. The layer at MoE model shapes (Qwen3-30B-A3B: 128 experts, k 8, 2048 x
//    768; gpt-oss-20b: 32, k 4, 2880 x 2880; Mixtral-8x7B: 8, k 2, 4096 x
//    14336), E4M3 experts with channel scales, T = 1..512 tokens routed
//    uniformly at random; copies of the stacks rotated so L2 never serves the
//    weights. CUDA events, median of --reps (20). Prints per T: the routed
//    experts, their bytes (what the layer must read), the time of the whole
//    sequence and of each grouped GEMM, GB/s of routed-expert bytes over the
//    whole time and % of the copy bandwidth.
// Exits 0 with "no CUDA device" when there is none.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda_bench_util.h"
#include "ggf8/fp8.h"
#include "kernels/gemm.cuh"
#include "kernels/moe.cuh"
#include "kernels/moe_math.h"

namespace {

using f8k::DevActQ;
using f8k::DevStack;
using f8k::Scale;
namespace moe = f8k::moe;

int g_fail = 0;

double copy_gbs(int reps) {
  const size_t bytes = size_t(1) << 30;
  uint8_t* a = dalloc<uint8_t>(bytes);
  uint8_t* b = dalloc<uint8_t>(bytes);
  CK(cudaMemset(a, 1, bytes));
  const float ms = median_ms(reps, nullptr, [&](int) { CK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice)); });
  CK(cudaFree(a));
  CK(cudaFree(b));
  return 2.0 * double(bytes) / (ms * 1e-3) / 1e9;
}

struct Shape {
  const char* name;
  int32_t E, k;
  int64_t H, F;
};

// One layer's device data: stacks (copies for rotation), scales, biases,
// scratch, and the routing inputs.
struct Layer {
  Shape s;
  Scale mode = Scale::Channel;
  int32_t br = 128, bc = 128;
  int32_t act = moe::kSwiGLU;
  std::vector<uint8_t*> gate, up, down;  // copies
  float *sg = nullptr, *su = nullptr, *sd = nullptr;
  float *bg = nullptr, *bu = nullptr, *bd = nullptr;
  int64_t mss_gu = 0, mss_d = 0, sc_gu = 0, sc_d = 0;
  int32_t maxT = 0;
  // scratch
  float *x = nullptr, *lg = nullptr, *w = nullptr, *A = nullptr, *O = nullptr, *y = nullptr, *sx = nullptr,
        *asx = nullptr;
  int32_t *ids = nullptr, *ints = nullptr;
  uint8_t *xq = nullptr, *aq = nullptr;
  f8k::MoeGroup g;
  int64_t ldh = 0, ldf = 0;
  // host copies for the check
  std::vector<uint8_t> hg, hu, hd;
  std::vector<float> hsg, hsu, hsd, hbg, hbu, hbd;
};

std::vector<float> uni(size_t n, std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Random E4M3 bytes (finite, all magnitudes).
void fill_fp8(std::vector<uint8_t>& v, std::mt19937& rng) {
  for (auto& b : v) {
    uint8_t c;
    do c = static_cast<uint8_t>(rng()); while ((c & 0x7F) == 0x7F);
    b = c;
  }
}

Layer make_layer(const Shape& s, Scale mode, int32_t act, bool biases, bool keep_host, int copies, int32_t maxT,
                 uint32_t seed) {
  Layer L;
  L.s = s;
  L.mode = mode;
  L.act = act;
  L.maxT = maxT;
  std::mt19937 rng(seed);
  const size_t mat_gu = size_t(s.F * s.H), mat_d = size_t(s.H * s.F);
  // One random chunk tiled over the stacks (the bytes are the cost, not their values).
  const size_t chunk = std::min<size_t>(size_t(64) << 20, size_t(s.E) * mat_gu);
  std::vector<uint8_t> h(chunk);
  fill_fp8(h, rng);
  auto stack = [&](size_t bytes, std::vector<uint8_t>* host) {
    uint8_t* d = dalloc<uint8_t>(bytes);
    for (size_t o = 0; o < bytes; o += chunk) CK(cudaMemcpy(d + o, h.data(), std::min(chunk, bytes - o), cudaMemcpyHostToDevice));
    if (host) {
      host->resize(bytes);
      for (size_t o = 0; o < bytes; o += chunk) std::memcpy(host->data() + o, h.data(), std::min(chunk, bytes - o));
    }
    return d;
  };
  for (int c = 0; c < copies; ++c) {
    L.gate.push_back(stack(s.E * mat_gu, c == 0 && keep_host ? &L.hg : nullptr));
    L.up.push_back(stack(s.E * mat_gu, c == 0 && keep_host ? &L.hu : nullptr));
    L.down.push_back(stack(s.E * mat_d, c == 0 && keep_host ? &L.hd : nullptr));
  }
  // Up differs from gate: its first chunk shifted (keeps the check honest).
  if (keep_host) {
    std::rotate(L.hu.begin(), L.hu.begin() + 17, L.hu.end());
    CK(cudaMemcpy(L.up[0], L.hu.data(), L.hu.size(), cudaMemcpyHostToDevice));
  }
  if (mode == Scale::Channel) {
    L.mss_gu = s.F;
    L.mss_d = s.H;
  } else {
    L.sc_gu = (s.H + L.bc - 1) / L.bc;
    L.sc_d = (s.F + L.bc - 1) / L.bc;
    L.mss_gu = ((s.F + L.br - 1) / L.br) * L.sc_gu;
    L.mss_d = ((s.H + L.br - 1) / L.br) * L.sc_d;
  }
  L.hsg = uni(size_t(s.E * L.mss_gu), rng, 0.5f / 448, 2.0f / 448);
  L.hsu = uni(size_t(s.E * L.mss_gu), rng, 0.5f / 448, 2.0f / 448);
  L.hsd = uni(size_t(s.E * L.mss_d), rng, 0.5f / 448, 2.0f / 448);
  L.sg = dupload(L.hsg);
  L.su = dupload(L.hsu);
  L.sd = dupload(L.hsd);
  if (biases) {
    L.hbg = uni(size_t(s.E * s.F), rng, -0.5f, 0.5f);
    L.hbu = uni(size_t(s.E * s.F), rng, -0.5f, 0.5f);
    L.hbd = uni(size_t(s.E * s.H), rng, -0.5f, 0.5f);
    L.bg = dupload(L.hbg);
    L.bu = dupload(L.hbu);
    L.bd = dupload(L.hbd);
  }
  const int64_t P = int64_t(maxT) * s.k;
  L.ldh = (s.H + 63) / 64 * 64;
  L.ldf = (s.F + 63) / 64 * 64;
  L.x = dalloc<float>(size_t(maxT * s.H));
  L.lg = dalloc<float>(size_t(maxT * s.E));
  L.w = dalloc<float>(size_t(P));
  L.ids = dalloc<int32_t>(size_t(P));
  L.A = dalloc<float>(size_t(P * s.F));
  L.O = dalloc<float>(size_t(P * s.H));
  L.y = dalloc<float>(size_t(maxT * s.H));
  L.xq = dalloc<uint8_t>(size_t(maxT * L.ldh));
  L.sx = dalloc<float>(size_t(maxT));
  L.aq = dalloc<uint8_t>(size_t(P * L.ldf));
  L.asx = dalloc<float>(size_t(P));
  const int64_t tiles = moe::max_tiles(int32_t(P), s.E, 8);
  L.ints = dalloc<int32_t>(size_t(s.E + 1 + 2 * P + 2 * tiles + 1));
  L.g.offsets = L.ints;
  L.g.order = L.g.offsets + s.E + 1;
  L.g.slot_of = L.g.order + P;
  L.g.tile_e = L.g.slot_of + P;
  L.g.tile_s0 = L.g.tile_e + tiles;
  L.g.n_tiles = L.g.tile_s0 + tiles;
  return L;
}

void free_layer(Layer& L) {
  for (auto* v : {&L.gate, &L.up, &L.down})
    for (uint8_t* p : *v) CK(cudaFree(p));
  for (void* p : {(void*)L.sg, (void*)L.su, (void*)L.sd, (void*)L.bg, (void*)L.bu, (void*)L.bd, (void*)L.x,
                  (void*)L.lg, (void*)L.w, (void*)L.ids, (void*)L.A, (void*)L.O, (void*)L.y, (void*)L.xq, (void*)L.sx,
                  (void*)L.aq, (void*)L.asx, (void*)L.ints})
    if (p) CK(cudaFree(p));
}

DevStack stack_view(const Layer& L, uint8_t* data, const float* scale, int64_t rows, int64_t cols, int64_t mss,
                    int64_t sc) {
  DevStack d;
  d.w.data = data;
  d.w.type = f8k::Elem::E4M3;
  d.w.rows = rows;
  d.w.cols = cols;
  d.w.stride = cols;  // the shapes here have cols % 64 == 0 and rows * cols % 256 == 0
  d.w.scale_mode = L.mode;
  d.w.scale = scale;
  d.w.block_rows = L.br;
  d.w.block_cols = L.bc;
  d.w.scale_cols = sc;
  d.n_mats = L.s.E;
  d.mat_stride = rows * cols;
  d.mat_scale_stride = mss;
  return d;
}

// The pieces of the layer, for copy c (weights rotated).
struct Steps {
  const Layer& L;
  int32_t T;
  int tiles;
  void group() const { CKI(f8k::moe_group(L.ids, T * L.s.k, L.s.E, 8 * tiles, L.g, nullptr)); }
  void quant_x() const { CKI(f8k::quantize_act(L.x, T, L.s.H, 0.0f, DevActQ{L.xq, L.sx, L.ldh}, nullptr)); }
  void gate_up(int c) const {
    f8k::MoeGemm m;
    m.gathered = true;
    m.k = L.s.k;
    m.xq = L.xq;
    m.sx = L.sx;
    m.ldx = L.ldh;
    m.w0 = stack_view(L, L.gate[size_t(c)], L.sg, L.s.F, L.s.H, L.mss_gu, L.sc_gu);
    m.w1 = stack_view(L, L.up[size_t(c)], L.su, L.s.F, L.s.H, L.mss_gu, L.sc_gu);
    m.b0 = L.bg;
    m.b1 = L.bu;
    m.bias_stride = L.s.F;
    m.act = L.act;
    m.y = L.A;
    m.ldy = L.s.F;
    CKI(f8k::moe_gemm_fp8(L.g, T * L.s.k, L.s.E, tiles, m, nullptr));
  }
  void quant_a() const {
    CKI(f8k::quantize_act(L.A, T * L.s.k, L.s.F, 0.0f, DevActQ{L.aq, L.asx, L.ldf}, nullptr));
  }
  void down(int c) const {
    f8k::MoeGemm m;
    m.k = L.s.k;
    m.xq = L.aq;
    m.sx = L.asx;
    m.ldx = L.ldf;
    m.w0 = stack_view(L, L.down[size_t(c)], L.sd, L.s.H, L.s.F, L.mss_d, L.sc_d);
    m.b0 = L.bd;
    m.bias_stride = L.s.H;
    m.y = L.O;
    m.ldy = L.s.H;
    CKI(f8k::moe_gemm_fp8(L.g, T * L.s.k, L.s.E, tiles, m, nullptr));
  }
  void combine() const { CKI(f8k::moe_combine(L.O, L.g.slot_of, L.w, T, L.s.k, L.s.H, L.y, nullptr)); }
  void all(int c) const {
    group();
    quant_x();
    gate_up(c);
    quant_a();
    down(c);
    combine();
  }
};

// ---- check -------------------------------------------------------------------------------------
float host_sw(const Layer& L, const std::vector<float>& s, int32_t e, int64_t mss, int64_t sc, int64_t n, int64_t k) {
  if (L.mode == Scale::Channel) return s[size_t(e * mss + n)];
  return s[size_t(e * mss + (n / L.br) * sc + k / L.bc)];
}
void host_quant(const float* x, int64_t K, std::vector<float>* q) {
  float amax = 0;
  for (int64_t i = 0; i < K; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float s = std::max(amax / 448.0f, 1.0f / (448.0f * 512.0f));
  q->resize(size_t(K));
  for (int64_t i = 0; i < K; ++i) (*q)[size_t(i)] = ggf8::e4m3_to_f32(ggf8::e4m3_from_f32(x[i] / s)) * s;
}

void check_case(const Shape& s, Scale mode, int32_t act, int32_t gating, int32_t T, uint32_t seed) {
  Layer L = make_layer(s, mode, act, true, true, 1, T, seed);
  std::mt19937 rng(seed + 1);
  const auto x = uni(size_t(T * s.H), rng, -1.0f, 1.0f);
  const auto lg = uni(size_t(T * s.E), rng, -3.0f, 3.0f);
  CK(cudaMemcpy(L.x, x.data(), x.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(L.lg, lg.data(), lg.size() * 4, cudaMemcpyHostToDevice));
  CKI(f8k::moe_route(L.lg, T, s.E, s.k, gating, true, L.ids, L.w, nullptr));
  const int tiles = moe::tiles_for_pairs(T * s.k, s.E);
  Steps st{L, T, tiles};
  st.all(0);
  CK(cudaDeviceSynchronize());
  std::vector<float> y(size_t(T * s.H)), y2(y.size());
  CK(cudaMemcpy(y.data(), L.y, y.size() * 4, cudaMemcpyDeviceToHost));
  st.all(0);
  CK(cudaMemcpy(y2.data(), L.y, y.size() * 4, cudaMemcpyDeviceToHost));
  std::vector<int32_t> ids(size_t(T * s.k));
  std::vector<float> w(ids.size());
  CK(cudaMemcpy(ids.data(), L.ids, ids.size() * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(w.data(), L.w, w.size() * 4, cudaMemcpyDeviceToHost));
  // Host: the routing (moe_math.h's host path is moe_route_token's arithmetic).
  int route_bad = 0;
  for (int32_t t = 0; t < T; ++t) {
    std::vector<float> sc(lg.begin() + t * s.E, lg.begin() + (t + 1) * s.E);
    if (gating == moe::kSoftmaxTopK) {
      float m = sc[0];
      for (float v : sc) m = std::fmax(m, v);
      for (auto& v : sc) v = std::exp(v - m);
      const float sum = moe::seq_sum(sc.data(), s.E);
      for (auto& v : sc) v /= sum;
    }
    std::vector<int32_t> order(size_t(s.E));
    for (int32_t e = 0; e < s.E; ++e) order[size_t(e)] = e;
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return sc[size_t(a)] > sc[size_t(b)]; });
    // expf vs std::exp may only reorder near-ties: the scores must agree to a few ulps.
    for (int32_t j = 0; j < s.k; ++j) {
      const float a = sc[size_t(order[size_t(j)])], b = sc[size_t(ids[size_t(t * s.k + j)])];
      route_bad += std::fabs(a - b) > 1e-6f * std::fabs(a);
    }
  }
  // Host: the experts in double from the device's routing, the data flow of kernels/moe_math.h.
  double num = 0, den = 0;
  for (int32_t t = 0; t < T; ++t) {
    std::vector<float> xq;
    host_quant(x.data() + t * s.H, s.H, &xq);
    std::vector<std::pair<int32_t, float>> sel;
    for (int32_t j = 0; j < s.k; ++j) sel.push_back({ids[size_t(t * s.k + j)], w[size_t(t * s.k + j)]});
    std::sort(sel.begin(), sel.end());
    std::vector<double> acc(size_t(s.H), 0.0);
    for (auto [e, wt] : sel) {
      std::vector<float> a(size_t(s.F));
      for (int64_t n = 0; n < s.F; ++n) {
        double g = 0, u = 0;
        for (int64_t k = 0; k < s.H; ++k) {
          const size_t i = size_t(e) * size_t(s.F * s.H) + size_t(n * s.H + k);
          g += double(xq[size_t(k)]) * ggf8::e4m3_to_f32(L.hg[i]) * host_sw(L, L.hsg, e, L.mss_gu, L.sc_gu, n, k);
          u += double(xq[size_t(k)]) * ggf8::e4m3_to_f32(L.hu[i]) * host_sw(L, L.hsu, e, L.mss_gu, L.sc_gu, n, k);
        }
        a[size_t(n)] = moe::expert_act(float(g) + L.hbg[size_t(e * s.F + n)], float(u) + L.hbu[size_t(e * s.F + n)],
                                       act, 1.702f, 7.0f);
      }
      std::vector<float> aq;
      host_quant(a.data(), s.F, &aq);
      for (int64_t n = 0; n < s.H; ++n) {
        double o = 0;
        for (int64_t k = 0; k < s.F; ++k) {
          const size_t i = size_t(e) * size_t(s.H * s.F) + size_t(n * s.F + k);
          o += double(aq[size_t(k)]) * ggf8::e4m3_to_f32(L.hd[i]) * host_sw(L, L.hsd, e, L.mss_d, L.sc_d, n, k);
        }
        acc[size_t(n)] += double(wt) * (o + L.hbd[size_t(e * s.H + n)]);
      }
    }
    for (int64_t n = 0; n < s.H; ++n) {
      const double d = double(y[size_t(t * s.H + n)]) - acc[size_t(n)];
      num += d * d;
      den += acc[size_t(n)] * acc[size_t(n)];
    }
  }
  const double e = den > 0 ? num / den : num;
  const bool same = std::memcmp(y.data(), y2.data(), y.size() * 4) == 0;
  const bool ok = e < 1e-5 && same && route_bad == 0;
  std::printf("check %-14s %s %s %s T=%3d tiles %d: NMSE %.3g%s%s %s\n", s.name,
              mode == Scale::Channel ? "channel" : "block128", act ? "oss   " : "swiglu",
              gating ? "topk-softmax" : "softmax-topk", T, tiles, e, same ? "" : ", NOT deterministic",
              route_bad ? ", routing differs" : "", ok ? "ok" : "FAIL");
  if (!ok) ++g_fail;
  free_layer(L);
}

void run_checks() {
  const Shape small{"small", 16, 4, 512, 256};
  const Shape wide{"wide", 64, 8, 256, 128};
  uint32_t seed = 1;
  for (int32_t T : {1, 7, 64, 300}) {
    check_case(small, Scale::Channel, moe::kSwiGLU, moe::kSoftmaxTopK, T, seed++);
    check_case(small, Scale::Block, moe::kSwiGLUOss, moe::kTopKSoftmax, T, seed++);
    check_case(wide, Scale::Channel, moe::kSwiGLU, moe::kSoftmaxTopK, T, seed++);
  }
}

// ---- bench -------------------------------------------------------------------------------------
void bench(double copy, int reps) {
  const Shape shapes[] = {{"qwen3-30b-a3b", 128, 8, 2048, 768},
                          {"gpt-oss-20b", 32, 4, 2880, 2880},
                          {"mixtral-8x7b", 8, 2, 4096, 14336}};
  const int32_t Ts[] = {1, 2, 4, 8, 16, 32, 64, 128, 512};
  std::printf("\nMoE layer: E4M3 experts, channel scales; random uniform routing; median of %d; copy %.0f GB/s\n",
              reps, copy);
  std::printf("%-14s %4s %2s %5s %6s %4s %7s %9s %10s %9s %9s %7s %6s\n", "shape", "E", "k", "H", "F", "T", "experts",
              "MB read", "us layer", "us gt+up", "us down", "GB/s", "%copy");
  for (const Shape& s : shapes) {
    const size_t stack_bytes = size_t(s.E) * size_t(s.F * s.H) * 3;
    const int copies = int(std::max<size_t>(3, ((size_t(480) << 20) + stack_bytes - 1) / stack_bytes));
    Layer L = make_layer(s, Scale::Channel, moe::kSwiGLU, false, false, copies, 512, 42);
    std::mt19937 rng(7);
    for (int32_t T : Ts) {
      // Uniform routing: k distinct experts per token.
      std::vector<int32_t> ids;
      std::vector<char> used(size_t(s.E), 0);
      for (int32_t t = 0; t < T; ++t) {
        std::vector<int32_t> pick;
        while (int32_t(pick.size()) < s.k) {
          const int32_t e = int32_t(rng() % uint32_t(s.E));
          if (std::find(pick.begin(), pick.end(), e) == pick.end()) pick.push_back(e);
        }
        for (int32_t e : pick) ids.push_back(e), used[size_t(e)] = 1;
      }
      const int routed = int(std::count(used.begin(), used.end(), 1));
      const std::vector<float> w(ids.size(), 1.0f / float(s.k));
      std::vector<float> x(size_t(T * s.H));
      for (auto& v : x) v = std::uniform_real_distribution<float>(-1, 1)(rng);
      CK(cudaMemcpy(L.ids, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice));
      CK(cudaMemcpy(L.w, w.data(), w.size() * 4, cudaMemcpyHostToDevice));
      CK(cudaMemcpy(L.x, x.data(), x.size() * 4, cudaMemcpyHostToDevice));
      const int tiles = moe::tiles_for_pairs(T * s.k, s.E);
      const Steps st{L, T, tiles};
      const double bytes = double(routed) * (3.0 * double(s.F * s.H) + 4.0 * double(2 * s.F + s.H));
      const float ms = median_ms(reps, nullptr, [&](int i) { st.all(i % copies); });
      st.all(0);  // the grouping and A in place for the per-GEMM timings
      const float ms_gu = median_ms(reps, nullptr, [&](int i) { st.gate_up(i % copies); });
      const float ms_dn = median_ms(reps, nullptr, [&](int i) { st.down(i % copies); });
      const double gbs = bytes / (double(ms) * 1e-3) / 1e9;
      std::printf("%-14s %4d %2d %5lld %6lld %4d %7d %9.1f %10.2f %9.2f %9.2f %7.0f %5.1f%%\n", s.name, s.E, s.k,
                  static_cast<long long>(s.H), static_cast<long long>(s.F), T, routed, bytes / 1e6, ms * 1e3,
                  ms_gu * 1e3, ms_dn * 1e3, gbs, 100.0 * gbs / copy);
    }
    free_layer(L);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool check = true, run_bench = true;
  int reps = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "check") run_bench = false;
    else if (a == "--no-check") check = false;
    else if (a == "--reps" && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: %s [check] [--no-check] [--reps N]\n", argv[0]);
      return 2;
    }
  }
  cudaDeviceProp prop{};
  if (!bench_device(&prop)) return 0;
  if (check) {
    run_checks();
    std::printf("checks: %s\n", g_fail ? "FAILED" : "all ok");
    if (g_fail) return 1;
  }
  if (run_bench) {
    const double copy = copy_gbs(10);
    std::printf("\ndevice-to-device copy (read + write): %.0f GB/s\n", copy);
    bench(copy, reps);
  }
  return 0;
}
