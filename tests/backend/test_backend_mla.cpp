// test_backend_mla.cpp — multi-head latent attention ops (backend.h:
// mla_kv_store, mla_attention) on the CPU backends:
//   - cpu-ref's expanded form against a direct computation written here
//     (k, v materialized in double, softmax in double): the oracle checked;
//   - the absorbed form equals the expanded form (op level), for F32 and
//     E4M3 latent caches, FP8 block-scaled / BF16 / F32 kv_b;
//   - cpu-simd (every ISA, 1-3 threads) against cpu-ref in both forms, its
//     stored latent bytes bit-equal to cpu-ref's;
//   - visibility: several sequences, a forked (seq_cp) sequence, a causal
//     prefill batch, a token that sees nothing (zeros); a token's output does
//     not depend on the batch it runs in; the latent cache's bytes.
#include <cmath>

#include "backend/cpu/cpu_common.h"
#include "backend_test_util.h"

using namespace f8test;

namespace {

constexpr int32_t kH = 4, kN = 16, kP = 8, kV = 16, kR = 32, kLayers = 2;

MlaDims dims(int32_t H = kH) {
  MlaDims d;
  d.n_heads = H;
  d.nope = kN;
  d.rope = kP;
  d.v = kV;
  d.kv_lora = kR;
  return d;
}

KVCacheParams latent_params(DType dt, int cells) {
  KVCacheParams p;
  p.n_layers = kLayers;
  p.n_cells = cells;
  p.n_kv_heads = 1;
  p.head_dim = kR + kP;
  p.mla_kv_lora = kR;
  p.dtype = dt;
  if (dt == DType::E4M3) p.k_scale = {0.011f, 0.013f}, p.v_scale = {0.03f, 0.021f};
  return p;
}

// A cache with 3 sequences (7, 4 and 10 tokens, interleaved) and seq 3 a
// fork of seq 2's first 5 tokens; c ~ N(0, 1), k_pe ~ N(0, 2).
struct Filled {
  std::unique_ptr<KVCache> cache;
};
Filled fill(Backend& be, Stream& s, DType dt) {
  Filled f;
  EXPECT_TRUE(be.create_kv_cache(latent_params(dt, 64), &f.cache).ok());
  std::vector<int32_t> seq, pos;
  const int lens[3] = {7, 4, 10};
  for (int p = 0; p < 10; ++p)
    for (int q = 0; q < 3; ++q)
      if (p < lens[q]) seq.push_back(q), pos.push_back(p);
  const int n = int(seq.size());
  std::vector<int32_t> cells(static_cast<size_t>(n));
  EXPECT_TRUE(f.cache->alloc_cells(n, seq.data(), pos.data(), cells.data()).ok());
  for (int l = 0; l < kLayers; ++l) {
    const auto c = randn(size_t(n) * kR, 300 + l), kpe = randn(size_t(n) * kP, 400 + l, 2.0f);
    s.mla_kv_store(*f.cache, l, c.data(), kpe.data(), cells.data(), n);
  }
  f.cache->seq_cp(2, 3, 0, 5);
  return f;
}

// Decode-like queries: one token of each sequence at its next position
// (seq 4 has no cell: zeros), then a causal prefill of seq 1's positions 0..3.
struct Queries {
  std::vector<int32_t> seq, pos;
};
Queries queries() {
  return {{0, 1, 2, 3, 4, 1, 1, 1, 1}, {7, 4, 10, 5, 0, 0, 1, 2, 3}};
}

std::vector<float> run_op(Stream& s, KVCache& c, int layer, const std::vector<float>& q, const Weight& kv_b,
                          const MlaDims& d, MlaForm form, const Queries& qs, float scale) {
  AttnBatch b;
  b.n_tokens = int32_t(qs.seq.size());
  b.seq = qs.seq.data();
  b.pos = qs.pos.data();
  b.n_heads = d.n_heads;
  b.scale = scale;
  std::vector<float> out(size_t(b.n_tokens) * d.n_heads * d.v, -7.0f);
  s.mla_attention(c, layer, q.data(), kv_b, d, form, b, out.data());
  return out;
}

TestWeight kv_b_weight(DType dt, uint32_t seed) {
  const ScaleKind sk = dt == DType::E4M3 ? ScaleKind::Block : ScaleKind::None;
  TestWeight w = make_weight(int64_t(kH) * (kN + kV), kR, dt, sk, seed, 16, 16);
  // Scale FP8 values down so the products stay O(1) (make_weight spans E4M3's range).
  if (dt == DType::E4M3)
    for (float& x : w.scale) x *= 0.01f;
  return w;
}

double wv(const Weight& w, int64_t n, int64_t k) {
  const uint8_t* row = static_cast<const uint8_t*>(w.data) + (n * w.stride() + k) * int64_t(ggf8::dtype_size(w.dtype));
  double x = 0;
  switch (w.dtype) {
    case DType::E4M3: x = ggf8::e4m3_to_f32(*row); break;
    case DType::BF16: {
      uint32_t u = uint32_t(*reinterpret_cast<const uint16_t*>(row)) << 16;
      float f;
      std::memcpy(&f, &u, 4);
      x = f;
      break;
    }
    default: x = *reinterpret_cast<const float*>(row);
  }
  if (w.scale_kind == ScaleKind::Block) x *= w.scale[(n / w.block_rows) * ((w.cols + w.block_cols - 1) / w.block_cols) + k / w.block_cols];
  return x;
}

}  // namespace

// The oracle's expanded form against k, v materialized here from the
// latents read back through an F32 cache (so the latents are exact).
TEST(Mla, RefExpandedIsTheDefinition) {
  auto ref = make("cpu-ref");
  auto rs = stream(*ref, 1, 16, 256);
  Filled f = fill(*ref, *rs, DType::F32);
  const TestWeight kvb = kv_b_weight(DType::BF16, 5);
  const Queries qs = queries();
  const int T = int(qs.seq.size());
  const auto q = randn(size_t(T) * kH * (kN + kP), 6);
  const float scale = 0.17f;
  const auto got = run_op(*rs, *f.cache, 1, q, kvb.w(), dims(), MlaForm::Expanded, qs, scale);
  // The stored rows: recompute them (F32 cache: exact copies of what fill() wrote).
  std::vector<int32_t> seq, pos;
  const int lens[3] = {7, 4, 10};
  for (int p = 0; p < 10; ++p)
    for (int s = 0; s < 3; ++s)
      if (p < lens[s]) seq.push_back(s), pos.push_back(p);
  const int n = int(seq.size());
  const auto c = randn(size_t(n) * kR, 301), kpe = randn(size_t(n) * kP, 401, 2.0f);
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < kH; ++h) {
      std::vector<double> sc, vv;
      for (int i = 0; i < n; ++i) {
        const bool fork = qs.seq[t] == 3 && seq[i] == 2 && pos[i] < 5;
        if (!((seq[i] == qs.seq[t] || fork) && pos[i] <= qs.pos[t])) continue;
        double s = 0;
        for (int a = 0; a < kN; ++a) {
          double k = 0;
          for (int j = 0; j < kR; ++j) k += wv(kvb.w(), h * (kN + kV) + a, j) * c[size_t(i) * kR + j];
          s += double(q[(size_t(t) * kH + h) * (kN + kP) + a]) * double(float(k));
        }
        for (int a = 0; a < kP; ++a) s += double(q[(size_t(t) * kH + h) * (kN + kP) + kN + a]) * kpe[size_t(i) * kP + a];
        sc.push_back(double(float(s) * scale));
        for (int o = 0; o < kV; ++o) {
          double v = 0;
          for (int j = 0; j < kR; ++j) v += wv(kvb.w(), h * (kN + kV) + kN + o, j) * c[size_t(i) * kR + j];
          vv.push_back(double(float(v)));
        }
      }
      for (int o = 0; o < kV; ++o) {
        double mx = -INFINITY, sum = 0, acc = 0;
        for (double s : sc) mx = std::max(mx, s);
        for (size_t i = 0; i < sc.size(); ++i) {
          const double p = std::exp(sc[i] - mx);
          sum += p;
          acc += p * vv[i * kV + o];
        }
        const double want = sc.empty() ? 0.0 : acc / sum;
        EXPECT_NEAR(got[(size_t(t) * kH + h) * kV + o], want, 1e-5 + 1e-5 * std::fabs(want))
            << "token " << t << " head " << h << " dim " << o;
      }
    }
}

// The absorbed decode equals the expanded form (FP32 rounding apart), for
// every kv_b dtype and both cache dtypes.
TEST(Mla, AbsorbedEqualsExpanded) {
  auto ref = make("cpu-ref");
  auto rs = stream(*ref, 1, 16, 256);
  for (DType cdt : {DType::F32, DType::E4M3})
    for (DType wdt : {DType::E4M3, DType::BF16, DType::F32}) {
      Filled f = fill(*ref, *rs, cdt);
      const TestWeight kvb = kv_b_weight(wdt, 11);
      const Queries qs = queries();
      const auto q = randn(qs.seq.size() * kH * (kN + kP), 12);
      for (int layer = 0; layer < kLayers; ++layer) {
        const auto e = run_op(*rs, *f.cache, layer, q, kvb.w(), dims(), MlaForm::Expanded, qs, 0.2f);
        const auto a = run_op(*rs, *f.cache, layer, q, kvb.w(), dims(), MlaForm::Absorbed, qs, 0.2f);
        expect_close(a, e, 2e-6f, 2e-5f,
                     std::string("absorbed vs expanded, cache ") + ggf8::dtype_name(cdt) + ", kv_b " +
                         ggf8::dtype_name(wdt));
        // seq 4 sees nothing: zeros in both forms
        for (int i = 0; i < kH * kV; ++i) EXPECT_EQ(a[size_t(4 * kH * kV + i)], 0.0f);
      }
    }
}

// cpu-simd against cpu-ref: stored bytes equal, both forms close, on every
// ISA and thread count.
TEST(Mla, SimdMatchesRef) {
  for (const std::string& isa : cpu_isas())
    for (int threads : {1, 3})
      for (DType cdt : {DType::F32, DType::E4M3, DType::BF16}) {
        auto ref = make("cpu-ref");
        auto sim = make("cpu-simd", isa);
        auto rs = stream(*ref, 1, 16, 256);
        StreamParams sp;
        sp.n_threads = threads;
        sp.max_tokens = 16;
        sp.max_dim = 256;
        sp.mla = dims();
        std::unique_ptr<Stream> ss;
        ASSERT_TRUE(sim->create_stream(sp, &ss).ok());
        Filled fr = fill(*ref, *rs, cdt), fs = fill(*sim, *ss, cdt);
        const size_t bytes = fr.cache->bytes();
        ASSERT_EQ(bytes, fs.cache->bytes());
        EXPECT_EQ(bytes, size_t(kLayers) * 64 * (kR + kP) * ggf8::dtype_size(cdt)) << "one latent row per cell";
        const TestWeight kvb = kv_b_weight(DType::E4M3, 21);
        const Queries qs = queries();
        const auto q = randn(qs.seq.size() * kH * (kN + kP), 22);
        const std::string what = isa + " x" + std::to_string(threads) + " " + ggf8::dtype_name(cdt);
        for (MlaForm form : {MlaForm::Expanded, MlaForm::Absorbed}) {
          const auto r = run_op(*rs, *fr.cache, 1, q, kvb.w(), dims(), form, qs, 0.2f);
          const auto s = run_op(*ss, *fs.cache, 1, q, kvb.w(), dims(), form, qs, 0.2f);
          expect_close(s, r, 2e-6f, 2e-5f, what + (form == MlaForm::Expanded ? " expanded" : " absorbed"));
        }
      }
}

// The stored latent bytes: cpu-simd's encoder equals cpu-ref's, the c part
// with k_scale and the k_pe part with v_scale (FP8: satfinite(rne(x / s))).
TEST(Mla, StoredLatentBytes) {
  auto ref = make("cpu-ref");
  auto sim = make("cpu-simd");
  auto rs = stream(*ref, 1, 4, 64), ss = stream(*sim, 2, 4, 64);
  std::unique_ptr<KVCache> rc, sc;
  ASSERT_TRUE(ref->create_kv_cache(latent_params(DType::E4M3, 8), &rc).ok());
  ASSERT_TRUE(sim->create_kv_cache(latent_params(DType::E4M3, 8), &sc).ok());
  std::vector<int32_t> seq = {0, 0, 0}, pos = {0, 1, 2}, cells(3);
  ASSERT_TRUE(rc->alloc_cells(3, seq.data(), pos.data(), cells.data()).ok());
  ASSERT_TRUE(sc->alloc_cells(3, seq.data(), pos.data(), cells.data()).ok());
  auto c = randn(3 * kR, 1, 3.0f), kpe = randn(3 * kP, 2, 20.0f);
  c[0] = 1e6f;  // saturates to 448 * k_scale
  rs->mla_kv_store(*rc, 0, c.data(), kpe.data(), cells.data(), 3);
  ss->mla_kv_store(*sc, 0, c.data(), kpe.data(), cells.data(), 3);
  // Read back through a one-head attention that sees one cell: the output is
  // W_UV c; with kv_b = identity rows (V = R) it is the dequantized c itself.
  MlaDims d;
  d.n_heads = 1;
  d.nope = 1;
  d.rope = kP;
  d.v = kR;
  d.kv_lora = kR;
  std::vector<float> eye(size_t(1 + kR) * kR, 0.0f);
  for (int i = 0; i < kR; ++i) eye[size_t(1 + i) * kR + i] = 1.0f;
  Weight w;
  w.data = eye.data();
  w.dtype = DType::F32;
  w.rows = 1 + kR;
  w.cols = kR;
  std::vector<int32_t> qs = {0}, qp = {0};  // sees the position-0 cell only
  AttnBatch b;
  b.n_tokens = 1;
  b.seq = qs.data();
  b.pos = qp.data();
  b.n_heads = 1;
  b.scale = 1.0f;
  std::vector<float> q(1 + kP, 0.0f), o1(kR), o2(kR);
  for (MlaForm form : {MlaForm::Absorbed, MlaForm::Expanded}) {
    rs->mla_attention(*rc, 0, q.data(), w, d, form, b, o1.data());
    ss->mla_attention(*sc, 0, q.data(), w, d, form, b, o2.data());
    for (int j = 0; j < kR; ++j) {
      const float want = ggf8::e4m3_to_f32(ggf8::e4m3_from_f32(c[size_t(j)] / 0.011f)) * 0.011f;
      EXPECT_EQ(o1[size_t(j)], want) << j;
      EXPECT_EQ(o2[size_t(j)], want) << j;
    }
    EXPECT_EQ(o1[0], 448.0f * 0.011f);
  }
}

// A token's output is the same alone and inside a batch (cpu-simd, both forms).
TEST(Mla, TokenAloneEqualsTokenInBatch) {
  auto sim = make("cpu-simd");
  StreamParams sp;
  sp.n_threads = 2;
  sp.max_tokens = 16;
  sp.max_dim = 256;
  sp.mla = dims();
  std::unique_ptr<Stream> ss;
  ASSERT_TRUE(sim->create_stream(sp, &ss).ok());
  Filled f = fill(*sim, *ss, DType::E4M3);
  const TestWeight kvb = kv_b_weight(DType::E4M3, 31);
  const Queries all = queries();
  const auto q = randn(all.seq.size() * kH * (kN + kP), 32);
  const size_t qd = size_t(kH) * (kN + kP), od = size_t(kH) * kV;
  for (MlaForm form : {MlaForm::Absorbed, MlaForm::Expanded}) {
    const auto batch = run_op(*ss, *f.cache, 0, q, kvb.w(), dims(), form, all, 0.2f);
    for (size_t t = 0; t < all.seq.size(); ++t) {
      Queries one{{all.seq[t]}, {all.pos[t]}};
      const std::vector<float> q1(q.begin() + long(t * qd), q.begin() + long((t + 1) * qd));
      const auto o = run_op(*ss, *f.cache, 0, q1, kvb.w(), dims(), form, one, 0.2f);
      for (size_t i = 0; i < od; ++i) EXPECT_EQ(o[i], batch[t * od + i]) << "token " << t;
    }
  }
}

TEST(Mla, LatentCacheParamsAreChecked) {
  auto be = make("cpu");
  std::unique_ptr<KVCache> c;
  KVCacheParams p = latent_params(DType::E4M3, 8);
  p.n_kv_heads = 2;
  EXPECT_EQ(be->create_kv_cache(p, &c).code, Code::InvalidArgument);
  p = latent_params(DType::E4M3, 8);
  p.head_dim = kR;  // no room for k_pe
  EXPECT_EQ(be->create_kv_cache(p, &c).code, Code::InvalidArgument);
  // 576-wide latent rows (DeepSeek-V3) are fine on cpu-simd
  p = latent_params(DType::E4M3, 8);
  p.mla_kv_lora = 512;
  p.head_dim = 576;
  EXPECT_TRUE(be->create_kv_cache(p, &c).ok());
  EXPECT_EQ(c->bytes(), size_t(kLayers) * 8 * 576);
}

// The pool layout does not change a token's bits (docs/backend.md
// "Invariance"): sequence 2's 70 positions stored contiguously, or wrapped
// so that positions 64..69 sit in cells below positions 0..63 (a filler's
// pages freed in between) — its query at position 69, alone or beside
// others, is bit-identical, on cpu-ref and cpu-simd (every ISA, 1 and 3
// threads), in both forms. (Walking cells in pool order, as an online
// softmax over the cells of the call would, fails this.)
TEST(Mla, PoolLayoutDoesNotChangeTheBits) {
  auto layout = [](Backend& be, Stream& s, bool wrapped, std::unique_ptr<KVCache>* c) {
    ASSERT_TRUE(be.create_kv_cache(latent_params(DType::E4M3, 256), c).ok());
    auto put = [&](int seq, int p0, int p1) {
      std::vector<int32_t> sq(size_t(p1 - p0), seq), ps(size_t(p1 - p0)), cells(size_t(p1 - p0));
      for (int p = p0; p < p1; ++p) ps[size_t(p - p0)] = p;
      ASSERT_TRUE((*c)->alloc_cells(p1 - p0, sq.data(), ps.data(), cells.data()).ok());
      if (seq != 2) return;
      for (int l = 0; l < kLayers; ++l) {
        std::vector<float> cc, kpe;
        for (int p = p0; p < p1; ++p) {  // each row a function of its position only
          const auto a = randn(kR, uint32_t(700 + 3 * p + l)), b = randn(kP, uint32_t(900 + 3 * p + l), 2.0f);
          cc.insert(cc.end(), a.begin(), a.end());
          kpe.insert(kpe.end(), b.begin(), b.end());
        }
        s.mla_kv_store(**c, l, cc.data(), kpe.data(), cells.data(), p1 - p0);
      }
    };
    if (wrapped) {
      put(9, 0, 128);  // a filler takes pages 0 and 1
      put(2, 0, 64);   // page 2
      put(8, 0, 64);   // another filler, page 3: the allocator's page head wraps to 0
      (*c)->seq_rm(9, 0, -1);
      put(2, 64, 70);  // page 0: below the rest
      const auto& cl = static_cast<cpu::CpuKVCache&>(**c).cells();
      ASSERT_EQ(cl[0].pos, 64);  // the layout this test is about
      ASSERT_EQ(cl[128].pos, 0);
    } else {
      put(2, 0, 70);
    }
  };
  std::vector<std::pair<std::string, std::string>> bes = {{"cpu-ref", "auto"}};
  for (const std::string& isa : cpu_isas()) bes.push_back({"cpu-simd", isa});
  const TestWeight kvb = kv_b_weight(DType::E4M3, 41);
  const size_t qd = size_t(kH) * (kN + kP), od = size_t(kH) * kV;
  const auto q = randn(5 * qd, 42);
  const Queries alone{{2}, {69}}, batch{{2, 2, 2, 2, 2}, {3, 69, 64, 40, 68}};  // the query is token 1 of batch
  const std::vector<float> q1(q.begin() + long(qd), q.begin() + long(2 * qd));
  for (const auto& [name, isa] : bes)
    for (int threads : {1, 3}) {
      if (name == "cpu-ref" && threads > 1) continue;
      auto be = make(name, isa);
      StreamParams sp;
      sp.n_threads = threads;
      sp.max_tokens = 128;
      sp.max_dim = 256;
      sp.mla = dims();
      std::unique_ptr<Stream> s;
      ASSERT_TRUE(be->create_stream(sp, &s).ok());
      std::unique_ptr<KVCache> flat, wrap;
      layout(*be, *s, false, &flat);
      layout(*be, *s, true, &wrap);
      for (MlaForm form : {MlaForm::Absorbed, MlaForm::Expanded}) {
        const std::string what = name + ":" + isa + " x" + std::to_string(threads) +
                                 (form == MlaForm::Expanded ? " expanded" : " absorbed");
        const auto a = run_op(*s, *flat, 1, q1, kvb.w(), dims(), form, alone, 0.2f);
        for (KVCache* c : {flat.get(), wrap.get()}) {
          const auto o1 = run_op(*s, *c, 1, q1, kvb.w(), dims(), form, alone, 0.2f);
          const auto ob = run_op(*s, *c, 1, q, kvb.w(), dims(), form, batch, 0.2f);
          EXPECT_EQ(std::memcmp(o1.data(), a.data(), od * 4), 0) << what << (c == wrap.get() ? " wrapped" : "");
          EXPECT_EQ(std::memcmp(ob.data() + od, a.data(), od * 4), 0)
              << what << " in a batch" << (c == wrap.get() ? ", wrapped" : "");
        }
      }
    }
}
