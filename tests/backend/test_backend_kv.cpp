// test_backend_kv.cpp — KV cache bookkeeping and FP8/BF16/F32 attention:
// cpu/simd vs cpu/ref with several sequences, GQA, shared (seq_cp) cells,
// removal, and a causal prefill batch.
#include "backend_test_util.h"

using namespace f8test;

namespace {

KVCacheParams kvp(DType dt, int cells, bool token = false) {
  KVCacheParams p;
  p.token_scales = token;
  p.n_layers = 2;
  p.n_cells = cells;
  p.n_kv_heads = 2;
  p.head_dim = 40;
  p.dtype = dt;
  if (dt == DType::E4M3 || dt == DType::E5M2) p.k_scale = {0.02f, 0.03f}, p.v_scale = {0.01f, 0.015f};
  return p;
}

TEST(KvCells, AllocRemoveCopyFull) {
  auto b = make("cpu");
  std::unique_ptr<KVCache> c;
  ASSERT_TRUE(b->create_kv_cache(kvp(DType::E4M3, 8), &c).ok());
  std::vector<int32_t> seq = {0, 0, 0, 1, 1}, pos = {0, 1, 2, 0, 1}, cells(5);
  ASSERT_TRUE(c->alloc_cells(5, seq.data(), pos.data(), cells.data()).ok());
  EXPECT_EQ(c->n_used(), 5);
  EXPECT_EQ(c->seq_pos_max(0), 2);
  EXPECT_EQ(c->seq_pos_max(1), 1);
  std::vector<int32_t> s4(4, 2), p4 = {0, 1, 2, 3}, c4(4);
  Status st = c->alloc_cells(4, s4.data(), p4.data(), c4.data());
  EXPECT_EQ(st.code, Code::CacheFull) << st.message;
  EXPECT_EQ(c->n_used(), 5);  // unchanged
  c->seq_cp(0, 3, 0, 2);      // seq 3 shares positions 0..1 of seq 0
  EXPECT_EQ(c->seq_pos_max(3), 1);
  EXPECT_EQ(c->n_used(), 5);
  c->seq_rm(0, 1, -1);        // truncate seq 0 to position 0
  EXPECT_EQ(c->seq_pos_max(0), 0);
  EXPECT_EQ(c->n_used(), 4);  // cell (0,1) still used by seq 3; (0,2) freed
  c->seq_keep(1);
  EXPECT_EQ(c->n_used(), 2);
  EXPECT_EQ(c->seq_pos_max(0), -1);
  c->clear();
  EXPECT_EQ(c->n_used(), 0);
  std::vector<int32_t> bad = {64};
  EXPECT_EQ(c->alloc_cells(1, bad.data(), pos.data(), cells.data()).code, Code::InvalidArgument);
  KVCacheParams wrong = kvp(DType::E4M3, 8);
  wrong.k_scale = {1.0f};
  EXPECT_EQ(b->create_kv_cache(wrong, &c).code, Code::InvalidArgument);
  wrong = kvp(DType::I32, 8);
  EXPECT_EQ(b->create_kv_cache(wrong, &c).code, Code::Unsupported);
}

// Fills a cache on each backend with the same tokens of 3 sequences, then
// checks kv_store + attention of a decode batch and a causal prefill batch.
void run_attention(const std::string& isa, int threads, DType dt, bool token = false) {
  auto ref = make("cpu-ref");
  auto sim = make("cpu-simd", isa);
  auto rs = stream(*ref, 1, 16, 1024), ss = stream(*sim, threads, 16, 1024);
  std::unique_ptr<KVCache> rc, sc;
  ASSERT_TRUE(ref->create_kv_cache(kvp(dt, 64, token), &rc).ok());
  ASSERT_TRUE(sim->create_kv_cache(kvp(dt, 64, token), &sc).ok());
  const int KD = 2 * 40, H = 6;  // GQA: 6 query heads over 2 kv heads
  // 3 sequences with 9, 5 and 12 tokens already in the cache, interleaved.
  std::vector<int32_t> seq, pos;
  const int lens[3] = {9, 5, 12};
  for (int p = 0; p < 12; ++p)
    for (int s = 0; s < 3; ++s)
      if (p < lens[s]) seq.push_back(s), pos.push_back(p);
  const int n = static_cast<int>(seq.size());
  std::vector<int32_t> cr(n), cs(n);
  ASSERT_TRUE(rc->alloc_cells(n, seq.data(), pos.data(), cr.data()).ok());
  ASSERT_TRUE(sc->alloc_cells(n, seq.data(), pos.data(), cs.data()).ok());
  ASSERT_EQ(cr, cs);
  for (int layer = 0; layer < 2; ++layer) {
    auto k = randn(n * KD, 100 + layer, 2.0f), v = randn(n * KD, 200 + layer);
    if (token)  // per-token scales: rows of very different sizes (token i, kv head h)
      for (int i = 0; i < n * KD; ++i) {
        const int r = i / 40;
        k[i] *= std::ldexp(1.0f, (r * 5) % 13 - 6);
        v[i] *= std::ldexp(1.0f, (r * 3) % 11 - 5);
      }
    rs->kv_store(*rc, layer, k.data(), v.data(), cr.data(), n);
    ss->kv_store(*sc, layer, k.data(), v.data(), cs.data(), n);
  }
  rc->seq_cp(2, 3, 0, 6);  // seq 3 = a fork of seq 2's first 6 tokens
  sc->seq_cp(2, 3, 0, 6);
  // query batch: decode tokens for seqs 0, 1, 3 and a causal block of seq 2
  // (4 queries: cpu-simd decodes its rows once for the call).
  std::vector<int32_t> qseq = {0, 1, 3, 2, 2, 2, 2}, qpos = {9, 5, 6, 3, 7, 10, 11};
  const int T = static_cast<int>(qseq.size());
  const auto q = randn(T * H * 40, 300);
  AttnBatch ab;
  ab.n_tokens = T;
  ab.seq = qseq.data();
  ab.pos = qpos.data();
  ab.n_heads = H;
  ab.scale = 1.0f / std::sqrt(40.0f);
  // Full causal, then sliding windows (a query at p sees p - W < pos <= p).
  std::vector<float> full;
  for (int32_t window : {0, 3, 1})
    for (int layer = 0; layer < 2; ++layer) {
      ab.window = window;
      std::vector<float> a(T * H * 40), b(T * H * 40, -7.0f);
      rs->attention(*rc, layer, q.data(), ab, a.data());
      ss->attention(*sc, layer, q.data(), ab, b.data());
      expect_close(b, a, 1e-5f, 1e-4f,
                   isa + " attention " + ggf8::dtype_name(dt) + (token ? " token scales" : "") + " window " +
                       std::to_string(window));
      if (layer == 0 && window == 0) full = a;
      if (layer == 0 && window == 3) EXPECT_NE(a, full);  // the window changes what is seen
    }
  ab.window = 0;
  // Gemma 2 attention logit soft-capping (with and without a window).
  for (int32_t window : {0, 3}) {
    ab.window = window;
    ab.softcap = 0.5f;
    std::vector<float> a(T * H * 40), b(T * H * 40, -7.0f);
    rs->attention(*rc, 0, q.data(), ab, a.data());
    ss->attention(*sc, 0, q.data(), ab, b.data());
    expect_close(b, a, 1e-5f, 1e-4f, isa + " attention softcap " + ggf8::dtype_name(dt) + " window " + std::to_string(window));
    if (window == 0) EXPECT_NE(a, full);  // a cap of 0.5 changes these scores
  }
  ab.softcap = 0;
  // gpt-oss attention sinks: one logit per head in the denominator (with and
  // without a window); a sink far above every score leaves outputs near 0.
  const std::vector<float> sinks = {0.5f, -2.0f, 3.0f, 0.0f, 1.0f, 60.0f};
  for (int32_t window : {0, 3}) {
    ab.window = window;
    ab.sinks = sinks.data();
    std::vector<float> a(T * H * 40), b(T * H * 40, -7.0f);
    rs->attention(*rc, 0, q.data(), ab, a.data());
    ss->attention(*sc, 0, q.data(), ab, b.data());
    expect_close(b, a, 1e-5f, 1e-4f, isa + " attention sinks " + ggf8::dtype_name(dt) + " window " + std::to_string(window));
    if (window == 0) {
      EXPECT_NE(a, full);
    }
    if (!token)  // (token: the rows scaled up to 2^6 give scores above the sink)
      for (int t = 0; t < T; ++t)
        for (int i = 0; i < 40; ++i) ASSERT_LT(std::fabs(a[(t * H + 5) * 40 + i]), 1e-12f);  // head 5: sink 60
  }
  ab.sinks = nullptr;
  ab.window = 0;
  // a token of an empty sequence sees nothing: zeros
  std::vector<int32_t> eseq = {5}, epos = {0};
  ab.n_tokens = 1;
  ab.seq = eseq.data();
  ab.pos = epos.data();
  std::vector<float> z(H * 40, 1.0f);
  ss->attention(*sc, 0, q.data(), ab, z.data());
  for (float f : z) ASSERT_EQ(f, 0.0f);
}

TEST(Attention, SimdMatchesRef) {
  for (const auto& isa : cpu_isas())
    for (int t : {1, 3})
      for (DType dt : {DType::E4M3, DType::E5M2, DType::BF16, DType::F16, DType::F32}) run_attention(isa, t, dt);
}

TEST(Attention, TokenScalesSimdMatchesRef) {
  for (const auto& isa : cpu_isas())
    for (int t : {1, 3}) run_attention(isa, t, DType::E4M3, true);
}

// A sink is one more softmax term with no value: with one visible cell of
// score s, out = v * exp(s) / (exp(s) + exp(sink)) = v / (1 + exp(sink - s)),
// and a token that sees nothing still gets zeros.
TEST(Attention, SinksJoinTheDenominator) {
  for (const std::string name : {"cpu-ref", "cpu-simd"})
    for (const auto& isa : name == "cpu-ref" ? std::vector<std::string>{"auto"} : cpu_isas()) {
      auto be = make(name, isa);
      auto st = stream(*be, 2, 4, 256);
      std::unique_ptr<KVCache> c;
      ASSERT_TRUE(be->create_kv_cache(kvp(DType::F32, 4), &c).ok());
      std::vector<int32_t> s = {0}, p = {0}, cell(1);
      ASSERT_TRUE(c->alloc_cells(1, s.data(), p.data(), cell.data()).ok());
      const auto k = randn(80, 1), v = randn(80, 2), q = randn(2 * 40, 3);
      st->kv_store(*c, 0, k.data(), v.data(), cell.data(), 1);
      const std::vector<float> sinks = {0.7f, -1.5f};
      AttnBatch ab;
      ab.n_tokens = 1;
      ab.seq = s.data();
      ab.pos = p.data();
      ab.n_heads = 2;
      ab.scale = 0.1f;
      ab.sinks = sinks.data();
      std::vector<float> out(80);
      st->attention(*c, 0, q.data(), ab, out.data());
      for (int h = 0; h < 2; ++h) {  // two kv heads: head h reads kv head h
        double sc = 0;
        for (int i = 0; i < 40; ++i) sc += double(q[h * 40 + i]) * k[h * 40 + i];
        sc *= 0.1f;
        const double w = 1.0 / (1.0 + std::exp(double(sinks[h]) - sc));
        for (int i = 0; i < 40; ++i)
          EXPECT_NEAR(out[h * 40 + i], v[h * 40 + i] * w, 2e-6 * (1 + std::fabs(v[h * 40 + i])))
              << name << " " << isa << " h " << h;
      }
      std::vector<int32_t> es = {7};
      ab.seq = es.data();
      std::vector<float> z(80, 1.0f);
      st->attention(*c, 0, q.data(), ab, z.data());
      for (float f : z) ASSERT_EQ(f, 0.0f) << name << " " << isa;
    }
}

// A cache row stored in F32 must read back exactly; E4M3 rows must equal the
// scalar codec of k / k_scale (checked through attention with one cell:
// softmax over one cell returns V exactly).
TEST(Attention, SingleCellReturnsStoredV) {
  for (const auto& isa : cpu_isas()) {
    auto sim = make("cpu-simd", isa);
    auto ss = stream(*sim, 2, 4, 256);
    std::unique_ptr<KVCache> c;
    ASSERT_TRUE(sim->create_kv_cache(kvp(DType::E4M3, 4), &c).ok());
    std::vector<int32_t> s = {0}, p = {0}, cell(1);
    ASSERT_TRUE(c->alloc_cells(1, s.data(), p.data(), cell.data()).ok());
    const auto k = randn(80, 1), v = randn(80, 2);
    ss->kv_store(*c, 0, k.data(), v.data(), cell.data(), 1);
    const auto q = randn(2 * 40, 3);
    AttnBatch ab;
    ab.n_tokens = 1;
    ab.seq = s.data();
    ab.pos = p.data();
    ab.n_heads = 2;
    ab.scale = 0.1f;
    std::vector<float> out(80);
    ss->attention(*c, 0, q.data(), ab, out.data());
    for (int i = 0; i < 80; ++i)
      ASSERT_EQ(out[i], ggf8::e4m3_to_f32(ggf8::e4m3_from_f32(v[i] / 0.01f)) * 0.01f) << isa << " " << i;
  }
}

}  // namespace
