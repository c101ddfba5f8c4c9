// test_cuda_mla_replay.cpp — the CUDA multi-head latent attention kernels
// (kernels/mla.cu) replayed on the CPU, no GPU needed: the latent cache
// write's encoding, the W_UK absorption (one fmaf chain per output over i
// ascending), the attention block per (token, head) (the token's cells
// through its sequence's position-ordered list, runs of one 64-position
// block, per cell a warp's 32 lane-slice fmaf chains and the xor butterfly,
// the run's probabilities and sums in list order, the fold in run order)
// and the W_UV projection (lane slices + butterfly) — all through
// kernels/mla_math.h, the functions the kernels call, over a cpu-ref latent
// cache's own bytes and bookkeeping (the device layout is the CPU's).
// Checks: the stored latent bytes equal cpu-ref's mla_kv_store; the output
// matches cpu-ref's absorbed form within FP32 rounding (E4M3 and F32 caches,
// E4M3 block-scaled / BF16 kv_b, several sequences, a fork, a token that
// sees nothing); a query's output is bit-identical replayed in launches of
// T = 1, 7 and 64 tokens and over two pool layouts.
#include <cmath>
#include <cstring>

#include "backend/cpu/cpu_common.h"
#include "backend_test_util.h"
#include "ggf8/fp8.h"
#include "kernels/mla_math.h"

using namespace f8test;
namespace mla = f8k::mla;

namespace {

constexpr int32_t kH = 3, kN = 16, kP = 8, kV = 12, kR = 80;  // R: two 64-column blocks, lane tails

KVCacheParams latent_params(DType dt, int cells) {
  KVCacheParams p;
  p.n_layers = 2;
  p.n_cells = cells;
  p.n_kv_heads = 1;
  p.head_dim = kR + kP;
  p.mla_kv_lora = kR;
  p.dtype = dt;
  p.position_lists = true;
  if (dt == DType::E4M3) p.k_scale = {0.011f, 0.013f}, p.v_scale = {0.03f, 0.021f};
  return p;
}

f8k::Elem elem_of(DType d) {
  switch (d) {
    case DType::E4M3: return f8k::Elem::E4M3;
    case DType::E5M2: return f8k::Elem::E5M2;
    case DType::F16: return f8k::Elem::F16;
    case DType::BF16: return f8k::Elem::BF16;
    default: return f8k::Elem::F32;
  }
}

// The device view of a cpu-ref latent cache: the same bytes (host pointers).
struct HostKv {
  f8k::DevKv kv;
  std::vector<int32_t> pos, order, len;
  std::vector<float> ks, vs;
};
HostKv host_kv(KVCache& cache) {
  auto& c = static_cast<cpu::CpuKVCache&>(cache);
  const auto& p = c.params();
  HostKv h;
  for (const auto& ce : c.cells()) h.pos.push_back(ce.pos);
  h.pos.resize(size_t(p.n_cells), -1);
  h.order.assign(size_t(f8k::kKvMaxSeq) * p.n_cells, 0);
  h.len.assign(f8k::kKvMaxSeq, 0);
  for (int s = 0; s < f8k::kKvMaxSeq; ++s) {
    const auto& o = c.bookkeeping().seq_cells(s);
    h.len[size_t(s)] = int32_t(o.size());
    std::copy(o.begin(), o.end(), h.order.begin() + int64_t(s) * p.n_cells);
  }
  for (int l = 0; l < p.n_layers; ++l) h.ks.push_back(c.k_scale(l)), h.vs.push_back(c.v_scale(l));
  f8k::DevKv& d = h.kv;
  d.k = c.k_row(0, 0);
  d.type = elem_of(p.dtype);
  d.n_layers = p.n_layers;
  d.n_cells = p.n_cells;
  d.n_kv_heads = 1;
  d.head_dim = p.head_dim;
  d.cell_pos = h.pos.data();
  d.k_scale = h.ks.data();
  d.v_scale = h.vs.data();
  d.order_len = h.len.data();
  d.order_cells = h.order.data();
  return h;
}

f8k::DevWeight dev_weight(const Weight& w) {
  f8k::DevWeight d;
  d.data = w.data;
  d.type = elem_of(w.dtype);
  d.rows = w.rows;
  d.cols = w.cols;
  d.stride = w.stride();
  d.scale = w.scale;
  d.scale_mode = w.scale_kind == ScaleKind::Block     ? f8k::Scale::Block
                 : w.scale_kind == ScaleKind::Channel ? f8k::Scale::Channel
                 : w.scale_kind == ScaleKind::Tensor  ? f8k::Scale::Tensor
                                                      : f8k::Scale::None;
  d.block_rows = int32_t(w.block_rows);
  d.block_cols = int32_t(w.block_cols);
  d.scale_cols = w.block_cols ? (w.cols + w.block_cols - 1) / w.block_cols : 0;
  return d;
}

// A warp's dot product: lane l's fmaf chain over i = l, l + 32, ... < n of
// a(i) * b(i), then the xor butterfly (offsets 16..1); lane 0's value.
template <class A, class B>
float warp_dot(int32_t n, A a, B b) {
  float v[32];
  for (int l = 0; l < 32; ++l) {
    float d = 0.0f;
    for (int32_t i = l; i < n; i += 32) d = std::fma(a(i), b(i), d);
    v[l] = d;
  }
  for (int off = 16; off > 0; off >>= 1) {
    float nv[32];
    for (int l = 0; l < 32; ++l) nv[l] = v[l] + v[l ^ off];
    std::memcpy(v, nv, sizeof v);
  }
  return v[0];
}

// The three kernels of f8k::mla_attention, replayed.
std::vector<float> replay(const f8k::DevKv& kv, int32_t layer, const std::vector<float>& q,
                          const f8k::DevWeight& kvb, const std::vector<int32_t>& seq,
                          const std::vector<int32_t>& pos, float scale) {
  const mla::Shape sh{kH, kN, kP, kV, kR};
  const int32_t T = int32_t(seq.size()), R = kR, W = kR + kP, QD = kN + kP;
  std::vector<float> qlat(size_t(T) * kH * R), olat(qlat.size()), out(size_t(T) * kH * kV);
  for (int64_t th = 0; th < int64_t(T) * kH; ++th) {  // mla_qabsorb_kernel
    const int32_t h = int32_t(th % kH);
    for (int32_t j = 0; j < R; ++j) {
      float a = 0.0f;
      for (int32_t i = 0; i < kN; ++i)
        a = std::fma(q[size_t(th * QD + i)], mla::weight_at(kvb, mla::uk_row(h, kN, kV, i), j), a);
      qlat[size_t(th * R + j)] = a;
    }
  }
  const float sc2 = scale * f8k::attn::kLog2e;
  const float ks = kv.k_scale[layer], vs = kv.v_scale[layer];
  for (int64_t th = 0; th < int64_t(T) * kH; ++th) {  // mla_attn_kernel
    const int32_t t = int32_t(th / kH);
    std::vector<float> qa(static_cast<size_t>(W)), acc(static_cast<size_t>(R)), pr(static_cast<size_t>(mla::kBlock));
    for (int32_t i = 0; i < W; ++i) qa[size_t(i)] = i < R ? qlat[size_t(th * R + i)] : q[size_t(th * QD + kN + i - R)];
    const int32_t s = seq[size_t(t)], p = pos[size_t(t)];
    const bool ok = s >= 0 && s < f8k::kKvMaxSeq;
    const int32_t* order = kv.order_cells + (ok ? int64_t(s) * kv.n_cells : 0);
    auto pos_at = [&](int32_t i) { return kv.cell_pos[order[i]]; };
    const int32_t e1 = ok ? mla::visible_end(kv.order_len[s], p, pos_at) : 0;
    float m = f8k::attn::neg_inf(), l = 0.0f;
    bool first = true;
    for (int32_t e = 0; e < e1;) {
      const int32_t f = mla::run_end(e, e1, pos_at), nv = f - e;
      for (int32_t j = 0; j < nv; ++j) {
        const uint8_t* row = mla::latent_row(kv, layer, order[e + j]);
        pr[size_t(j)] = warp_dot(W, [&](int32_t i) { return qa[size_t(i)]; },
                                 [&](int32_t i) { return mla::latent_at(row, kv.type, i, R, ks, vs); }) *
                        sc2;
      }
      float mb = pr[0];
      for (int32_t j = 1; j < nv; ++j) mb = std::fmax(mb, pr[size_t(j)]);
      float lb = 0.0f;
      for (int32_t j = 0; j < nv; ++j) {
        pr[size_t(j)] = f8k::attn::fexp2(pr[size_t(j)] - mb);
        lb += pr[size_t(j)];
      }
      float M = mb, ca = 0.0f, cb = 1.0f;
      if (!first) mla::fold_coeffs(m, mb, &M, &ca, &cb);
      for (int32_t d = 0; d < R; ++d) {
        float ab = 0.0f;
        for (int32_t j = 0; j < nv; ++j)
          ab = std::fma(pr[size_t(j)], mla::latent_at(mla::latent_row(kv, layer, order[e + j]), kv.type, d, R, ks, vs),
                        ab);
        if (first) acc[size_t(d)] = ab;
        else {
          const float x = acc[size_t(d)] * ca, y = ab * cb;
          acc[size_t(d)] = x + y;
        }
      }
      if (first) l = lb;
      else {
        const float x = l * ca, y = lb * cb;
        l = x + y;
      }
      m = M;
      first = false;
      e = f;
    }
    for (int32_t d = 0; d < R; ++d) olat[size_t(th * R + d)] = first ? 0.0f : acc[size_t(d)] / l;
  }
  for (int64_t th = 0; th < int64_t(T) * kH; ++th) {  // mla_out_kernel
    const int32_t h = int32_t(th % kH);
    for (int32_t v = 0; v < kV; ++v) {
      const int64_t n = mla::uv_row(h, kN, kV, v);
      out[size_t(th * kV + v)] = warp_dot(R, [&](int32_t j) { return olat[size_t(th * R + j)]; },
                                          [&](int32_t j) { return mla::weight_at(kvb, n, j); });
    }
  }
  (void)sh;
  return out;
}

// Sequences 0..2 (7, 4 and 70 tokens: 70 crosses a position block),
// interleaved in the order `layout` picks, seq 3 a fork of seq 2's first 5.
std::unique_ptr<KVCache> fill(Backend& be, Stream& s, DType dt, int layout) {
  std::unique_ptr<KVCache> c;
  EXPECT_TRUE(be.create_kv_cache(latent_params(dt, 256), &c).ok());
  if (layout == 1) {  // fillers first, some removed: the sequences land in holes
    std::vector<int32_t> sq(40, 9), ps(40), cells(40);
    for (int i = 0; i < 40; ++i) ps[size_t(i)] = i;
    EXPECT_TRUE(c->alloc_cells(40, sq.data(), ps.data(), cells.data()).ok());
    c->seq_rm(9, 10, 30);
  }
  const int lens[3] = {7, 4, 70};
  std::vector<int32_t> seq, pos;
  for (int p = 0; p < 70; ++p)
    for (int qi = 0; qi < 3; ++qi) {
      const int q = layout == 1 ? 2 - qi : qi;  // the same (seq, pos) set, another allocation order
      if (p < lens[q]) seq.push_back(q), pos.push_back(p);
    }
  const int n = int(seq.size());
  std::vector<int32_t> cells(static_cast<size_t>(n));
  EXPECT_TRUE(c->alloc_cells(n, seq.data(), pos.data(), cells.data()).ok());
  // Each row depends on (seq, pos) only, so every layout stores the same rows.
  for (int l = 0; l < 2; ++l) {
    std::vector<float> cc(size_t(n) * kR), kpe(size_t(n) * kP);
    for (int i = 0; i < n; ++i) {
      const auto a = randn(kR, uint32_t(1000 * seq[size_t(i)] + 7 * pos[size_t(i)] + l + 1));
      const auto b = randn(kP, uint32_t(5000 + 1000 * seq[size_t(i)] + 7 * pos[size_t(i)] + l), 2.0f);
      std::copy(a.begin(), a.end(), cc.begin() + int64_t(i) * kR);
      std::copy(b.begin(), b.end(), kpe.begin() + int64_t(i) * kP);
    }
    s.mla_kv_store(*c, l, cc.data(), kpe.data(), cells.data(), n);
  }
  c->seq_cp(2, 3, 0, 5);
  return c;
}

TestWeight kv_b(DType dt) {
  const ScaleKind sk = dt == DType::E4M3 ? ScaleKind::Block : ScaleKind::None;
  TestWeight w = make_weight(int64_t(kH) * (kN + kV), kR, dt, sk, 21, 16, 64);
  if (dt == DType::E4M3)
    for (float& x : w.scale) x *= 0.01f;
  return w;
}

std::vector<float> ref_absorbed(Stream& s, KVCache& c, int layer, const std::vector<float>& q, const Weight& w,
                                const std::vector<int32_t>& seq, const std::vector<int32_t>& pos, float scale) {
  MlaDims d;
  d.n_heads = kH;
  d.nope = kN;
  d.rope = kP;
  d.v = kV;
  d.kv_lora = kR;
  AttnBatch b;
  b.n_tokens = int32_t(seq.size());
  b.seq = seq.data();
  b.pos = pos.data();
  b.n_heads = kH;
  b.scale = scale;
  std::vector<float> out(seq.size() * kH * kV, -7.0f);
  s.mla_attention(c, layer, q.data(), w, d, MlaForm::Absorbed, b, out.data());
  return out;
}

}  // namespace

// mla_kv_store_kernel's encoding: c / k_scale, k_pe / v_scale, RNE
// satfinite (ggf8::f32_div_rn then e4m3_from_f32, as __fdiv_rn then
// e4m3_from_f32 on the device) — the bytes cpu-ref stored.
TEST(CudaMlaReplay, StoredLatentBytesMatchCpuRef) {
  auto ref = make("cpu-ref");
  auto rs = stream(*ref, 1, 256, 512);
  auto c = fill(*ref, *rs, DType::E4M3, 0);
  auto& cc = static_cast<cpu::CpuKVCache&>(*c);
  // Seq 1's position 3, layer 1: recompute its row as the kernel encodes it.
  int32_t cell = -1;
  for (int32_t i = 0; i < int32_t(cc.cells().size()); ++i)
    if (cc.cells()[size_t(i)].pos == 3 && ((cc.cells()[size_t(i)].seqs >> 1) & 1)) cell = i;
  ASSERT_GE(cell, 0);
  const auto a = randn(kR, uint32_t(1000 * 1 + 7 * 3 + 1 + 1));
  const auto b = randn(kP, uint32_t(5000 + 1000 * 1 + 7 * 3 + 1), 2.0f);
  const HostKv hk = host_kv(*c);
  const uint8_t* row = mla::latent_row(hk.kv, 1, cell);
  EXPECT_EQ(row, cc.k_row(1, cell));  // the device layout is the CPU's
  for (int32_t i = 0; i < kR + kP; ++i) {
    const float x = i < kR ? a[size_t(i)] : b[size_t(i - kR)];
    const uint8_t want = ggf8::e4m3_from_f32(ggf8::f32_div_rn(x, i < kR ? 0.013f : 0.021f));
    EXPECT_EQ(row[i], want) << "element " << i;
  }
}

// The replayed kernels against cpu-ref's absorbed form.
TEST(CudaMlaReplay, MatchesCpuRef) {
  auto ref = make("cpu-ref");
  auto rs = stream(*ref, 1, 256, 512);
  const std::vector<int32_t> seq = {0, 1, 2, 3, 4, 2, 2, 2, 2}, pos = {7, 4, 70, 5, 0, 0, 1, 63, 64};
  for (DType cdt : {DType::E4M3, DType::F32})
    for (DType wdt : {DType::E4M3, DType::BF16}) {
      auto c = fill(*ref, *rs, cdt, 0);
      const TestWeight w = kv_b(wdt);
      const auto q = randn(seq.size() * kH * (kN + kP), 33);
      for (int layer = 0; layer < 2; ++layer) {
        const HostKv hk = host_kv(*c);
        const auto got = replay(hk.kv, layer, q, dev_weight(w.w()), seq, pos, 0.2f);
        const auto want = ref_absorbed(*rs, *c, layer, q, w.w(), seq, pos, 0.2f);
        expect_close(got, want, 2e-6f, 2e-5f,
                     std::string("replay vs cpu-ref, cache ") + ggf8::dtype_name(cdt) + ", kv_b " +
                         ggf8::dtype_name(wdt));
        for (int i = 0; i < kH * kV; ++i) EXPECT_EQ(got[size_t(4 * kH * kV + i)], 0.0f);  // seq 4: no cell
      }
    }
}

// A query's output bit-identical in launches of T = 1, 7, 64 (at any index,
// beside other queries) and over two pool layouts.
TEST(CudaMlaReplay, BatchAndLayoutInvariant) {
  auto ref = make("cpu-ref");
  auto rs = stream(*ref, 1, 256, 512);
  const TestWeight w = kv_b(DType::E4M3);
  auto c0 = fill(*ref, *rs, DType::E4M3, 0), c1 = fill(*ref, *rs, DType::E4M3, 1);
  const HostKv h0 = host_kv(*c0), h1 = host_kv(*c1);
  const auto qa = randn(kH * (kN + kP), 44);  // the query: seq 2 at position 69
  const auto alone = replay(h0.kv, 1, qa, dev_weight(w.w()), {2}, {69}, 0.2f);
  for (int T : {7, 64})
    for (const HostKv* h : {&h0, &h1}) {
      std::vector<int32_t> seq(static_cast<size_t>(T)), pos(static_cast<size_t>(T));
      std::vector<float> q = randn(size_t(T) * kH * (kN + kP), uint32_t(50 + T));
      for (int t = 0; t < T; ++t) seq[size_t(t)] = t % 4, pos[size_t(t)] = (t * 13) % 70;
      const int at = T / 2;
      seq[size_t(at)] = 2, pos[size_t(at)] = 69;
      std::copy(qa.begin(), qa.end(), q.begin() + int64_t(at) * kH * (kN + kP));
      const auto got = replay(h->kv, 1, q, dev_weight(w.w()), seq, pos, 0.2f);
      EXPECT_EQ(std::memcmp(got.data() + int64_t(at) * kH * kV, alone.data(), alone.size() * 4), 0)
          << "T " << T << " layout " << (h == &h1);
    }
}
