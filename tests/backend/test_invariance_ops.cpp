// test_invariance_ops.cpp — batch invariance of the ops (docs/backend.md
// "Invariance"), bit for bit (memcmp, no tolerance):
//   - gemm / gemm_multi: a token row's output is the same whatever other
//     rows share the call (T = 1 .. 37, any subset, any order), on 1, 2 or 3
//     threads, for every dtype, scale kind (block scales with aligned and odd
//     block columns), odd K, activation quantization (dynamic, static) and
//     bias;
//   - attention: a query's output is the same alone or beside other queries,
//     on 1, 2 or 3 threads, whatever the pool's layout: its sequence
//     interleaved with others, scattered through a fragmented pool with no
//     free page left, its prefix shared from another sequence (seq_cp), its
//     tail removed and rewritten (seq_rm); with GQA, a sliding window and
//     soft-capping, over F32, BF16 and E4M3 caches.
// Every backend this build and machine run: cpu-ref, cpu-simd with each
// kernel table (cpu-simd:ISA for ISA in cpu_isas()), and cuda with
// StreamParams::deterministic where a GPU is present. A new kernel is
// batch-invariant when it passes these (and tests/model/test_invariance).
#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

#include "backend_test_util.h"

using namespace f8test;

namespace {

struct Target {
  std::string name;   // backend name
  bool threads;       // thread counts matter (cpu-simd)
};

std::vector<Target> targets() {
  std::vector<Target> t = {{"cpu-ref", false}};
  for (const std::string& isa : cpu_isas()) t.push_back({"cpu-simd:" + isa, true});
  std::unique_ptr<Backend> cuda;
  if (create_backend("cuda", {}, &cuda).ok()) t.push_back({"cuda", false});
  return t;
}

std::unique_ptr<Stream> det_stream(Backend& b, int threads, int max_tokens, int64_t max_dim) {
  std::unique_ptr<Stream> s;
  StreamParams p;
  p.n_threads = threads;
  p.max_tokens = max_tokens;
  p.max_dim = max_dim;
  p.deterministic = true;
  Status st = b.create_stream(p, &s);
  EXPECT_TRUE(st.ok()) << st.message;
  return s;
}

// Device <-> host helpers (CPU backends: host memory already).
struct Dev {
  Backend& be;
  Stream& s;
  std::vector<std::unique_ptr<Buffer>> keep;
  float* put(const std::vector<float>& v) {
    std::unique_ptr<Buffer> b;
    EXPECT_TRUE(be.alloc(std::max<size_t>(4, v.size() * 4), &b).ok());
    s.from_host(b->data(), v.data(), v.size() * 4);
    keep.push_back(std::move(b));
    return keep.back()->f32();
  }
  int32_t* put_i(const std::vector<int32_t>& v) {
    std::unique_ptr<Buffer> b;
    EXPECT_TRUE(be.alloc(std::max<size_t>(4, v.size() * 4), &b).ok());
    s.from_host(b->data(), v.data(), v.size() * 4);
    keep.push_back(std::move(b));
    return keep.back()->i32();
  }
  float* zeros(size_t n) { return put(std::vector<float>(n, 0.0f)); }
  std::vector<float> get(const float* d, size_t n) {
    std::vector<float> v(n);
    s.to_host(v.data(), d, n * 4);
    return v;
  }
};

// x rows with a wide spread: normal values, tiny ones, zeros, negatives.
std::vector<float> wide_x(size_t rows, int64_t K, uint32_t seed) {
  std::vector<float> x = randn(rows * size_t(K), seed, 2.0f);
  std::mt19937 rng(seed);
  for (size_t i = 0; i < x.size(); ++i) {
    const uint32_t r = rng() % 97;
    if (r == 0) x[i] = 0.0f;
    else if (r == 1) x[i] *= 1e-30f;
    else if (r == 2) x[i] *= 300.0f;
  }
  return x;
}

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }
std::string first_diff(const float* a, const float* b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (std::memcmp(a + i, b + i, 4) != 0) {
      char m[96];
      std::snprintf(m, sizeof m, " (column %zu: %.9g vs %.9g)", i, double(a[i]), double(b[i]));
      return m;
    }
  return "";
}

struct GemmCase {
  int64_t n, k;
  DType dt;
  ScaleKind sk;
  uint32_t br = 128, bc = 128;
};

// Rows of subset calls equal the rows of one call over all tokens.
void check_gemm(const Target& tg, const GemmCase& gc, ActQuant act, DType bias_dt) {
  auto be = make(tg.name);
  ASSERT_TRUE(be);
  const int Tall = 37;
  TestWeight tw = make_weight(gc.n, gc.k, gc.dt, gc.sk, uint32_t(gc.n * 31 + gc.k), gc.br, gc.bc);
  tw.view.input_scale = 0.05f;
  Weight w;
  ASSERT_TRUE(be->upload(tw.w(), &w).ok());
  std::vector<float> bias_f = randn(size_t(gc.n), 77);
  std::vector<uint16_t> bias_h(bias_f.size());
  for (size_t i = 0; i < bias_f.size(); ++i) bias_h[i] = to_bf16(bias_f[i]);
  const std::vector<float> x = wide_x(Tall, gc.k, uint32_t(gc.k + 5));
  const std::string what = tg.name + " " + ggf8::dtype_name(gc.dt) + " sk" + std::to_string(int(gc.sk)) + " " +
                           std::to_string(gc.n) + "x" + std::to_string(gc.k) + " block " +
                           std::to_string(gc.br) + "x" + std::to_string(gc.bc) + " act " +
                           std::to_string(int(act)) + " bias " + std::to_string(int(bias_dt));
  std::vector<float> full;
  const std::vector<int> thread_counts = tg.threads ? std::vector<int>{1, 2, 3} : std::vector<int>{1};
  std::mt19937 rng(uint32_t(gc.n + gc.k));
  for (int th : thread_counts) {
    auto s = det_stream(*be, th, Tall, std::max<int64_t>(gc.n, gc.k));
    Dev d{*be, *s};
    GemmOpts o;
    o.act = act;
    if (bias_dt == DType::F32) o.bias = {d.put(bias_f), DType::F32};
    if (bias_dt == DType::BF16) {
      std::vector<float> packed((bias_h.size() + 1) / 2);
      std::memcpy(packed.data(), bias_h.data(), bias_h.size() * 2);
      o.bias = {d.put(packed), DType::BF16};
    }
    if (th == 1) {
      float* y = d.zeros(size_t(Tall) * gc.n);
      s->gemm(d.put(x), Tall, w, y, o);
      full = d.get(y, size_t(Tall) * gc.n);
    }
    for (int T : {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 36}) {
      std::vector<int> rows(Tall);
      std::iota(rows.begin(), rows.end(), 0);
      std::shuffle(rows.begin(), rows.end(), rng);
      rows.resize(T);
      std::vector<float> xs;
      for (int r : rows) xs.insert(xs.end(), x.begin() + r * gc.k, x.begin() + (r + 1) * gc.k);
      float* y = d.zeros(size_t(T) * gc.n);
      s->gemm(d.put(xs), T, w, y, o);
      const std::vector<float> got = d.get(y, size_t(T) * gc.n);
      for (int i = 0; i < T; ++i)
        ASSERT_TRUE(same_bits(got.data() + i * gc.n, full.data() + rows[i] * gc.n, size_t(gc.n)))
            << what << ": row " << rows[i] << " at T " << T << " on " << th << " threads differs from T " << Tall
            << first_diff(got.data() + i * gc.n, full.data() + rows[i] * gc.n, size_t(gc.n));
    }
  }
}

TEST(Invariance, GemmRowsDoNotDependOnTheBatch) {
  const GemmCase cases[] = {
      {70, 64, DType::E4M3, ScaleKind::Channel},
      {130, 160, DType::E4M3, ScaleKind::Tensor},
      {33, 96, DType::E4M3, ScaleKind::None},
      {48, 1536, DType::E4M3, ScaleKind::Channel},
      {40, 128, DType::E4M3, ScaleKind::Block, 32, 32},
      {40, 96, DType::E4M3, ScaleKind::Block, 16, 48},  // block columns not a multiple of 32
      {20, 45, DType::E4M3, ScaleKind::Channel},        // odd K
      {36, 64, DType::E5M2, ScaleKind::Channel},
      {36, 96, DType::BF16, ScaleKind::None},
      {36, 64, DType::F16, ScaleKind::Channel},
      {36, 72, DType::F32, ScaleKind::None},
  };
  for (const Target& tg : targets())
    for (const GemmCase& gc : cases) check_gemm(tg, gc, ActQuant::None, DType::I32);
}

TEST(Invariance, GemmWithActivationQuantizationAndBias) {
  for (const Target& tg : targets()) {
    check_gemm(tg, {70, 64, DType::E4M3, ScaleKind::Channel}, ActQuant::DynamicToken, DType::F32);
    check_gemm(tg, {50, 160, DType::E4M3, ScaleKind::Block, 32, 32}, ActQuant::DynamicToken, DType::I32);
    check_gemm(tg, {70, 96, DType::E4M3, ScaleKind::Tensor}, ActQuant::Static, DType::BF16);
    check_gemm(tg, {36, 64, DType::BF16, ScaleKind::None}, ActQuant::None, DType::BF16);
  }
}

// gemm_multi's outputs are gemm's, bit for bit, at any T.
TEST(Invariance, GemmMultiIsGemm) {
  for (const Target& tg : targets()) {
    auto be = make(tg.name);
    const int64_t K = 96;
    TestWeight a = make_weight(64, K, DType::E4M3, ScaleKind::Channel, 1),
               b = make_weight(24, K, DType::E4M3, ScaleKind::Channel, 2),
               c = make_weight(40, K, DType::BF16, ScaleKind::None, 3);
    Weight wa, wb, wc;
    ASSERT_TRUE(be->upload(a.w(), &wa).ok() && be->upload(b.w(), &wb).ok() && be->upload(c.w(), &wc).ok());
    for (int T : {1, 3, 8, 9, 20}) {
      auto s = det_stream(*be, tg.threads ? 2 : 1, 20, K);
      Dev d{*be, *s};
      float* x = d.put(wide_x(size_t(T), K, uint32_t(T)));
      float *ya = d.zeros(size_t(T) * 64), *yb = d.zeros(size_t(T) * 24), *yc = d.zeros(size_t(T) * 40);
      const Stream::GemmJob jobs[3] = {{&wa, ya, {}}, {&wb, yb, {}}, {&wc, yc, {}}};
      s->gemm_multi(x, T, jobs, 3);
      for (int j = 0; j < 3; ++j) {
        const Weight& w = *jobs[j].w;
        float* y1 = d.zeros(size_t(T) * w.rows);
        s->gemm(x, T, w, y1);
        const auto m = d.get(jobs[j].y, size_t(T) * w.rows), g = d.get(y1, size_t(T) * w.rows);
        EXPECT_TRUE(same_bits(m.data(), g.data(), m.size())) << tg.name << " job " << j << " T " << T;
      }
    }
  }
}

// ---- attention ----------------------------------------------------------------------
struct AttnCase {
  DType dt;
  int D;
  int window;
  float softcap;
  bool token_scales = false;  // E4M3 with per-token, per-head scales (the fp8 default)
};

constexpr int kHeads = 4, kKvHeads = 2, kLen = 150;  // sequence A: positions 0..149 (3 blocks of 64)

KVCacheParams attn_kvp(const AttnCase& ac, int cells) {
  KVCacheParams p;
  p.n_layers = 1;
  p.n_cells = cells;
  p.n_kv_heads = kKvHeads;
  p.head_dim = ac.D;
  p.dtype = ac.dt;
  p.position_lists = true;  // a device backend's deterministic attention reads them
  if (ac.dt == DType::E4M3 && !ac.token_scales) p.k_scale = {0.05f}, p.v_scale = {0.03f};
  p.token_scales = ac.token_scales;
  return p;
}

// Sequence 7 computes A's prefix in layout 3 (a prefix cache's earlier request).
constexpr int kPrefixSeq = 7;

// K and V rows of (seq, pos): sequence A's (and kPrefixSeq's) depend on the
// position only, so every layout stores the same values; others' are noise.
std::vector<float> kv_rows(int seq, int pos, int D, uint32_t salt) {
  if (seq == kPrefixSeq) seq = 0;
  return randn(size_t(kKvHeads) * D, uint32_t(seq * 100003 + pos * 7 + salt), seq == 0 ? 1.5f : 3.0f);
}

// A cache filled by a sequence of operations; A is sequence 0.
struct Pool {
  std::unique_ptr<KVCache> kv;
  void alloc(Stream& s, Dev& d, const std::vector<std::pair<int, int>>& toks, int D) {
    std::vector<int32_t> seq, pos, cells(toks.size());
    for (auto [sq, p] : toks) seq.push_back(sq), pos.push_back(p);
    Status st = kv->alloc_cells(int32_t(toks.size()), seq.data(), pos.data(), cells.data());
    ASSERT_TRUE(st.ok()) << st.message;
    std::vector<float> k, v;
    for (auto [sq, p] : toks) {
      const auto kr = kv_rows(sq, p, D, 1), vr = kv_rows(sq, p, D, 2);
      k.insert(k.end(), kr.begin(), kr.end());
      v.insert(v.end(), vr.begin(), vr.end());
    }
    s.kv_sync(*kv);
    s.kv_store(*kv, 0, d.put(k), d.put(v), d.put_i(cells), int32_t(toks.size()));
  }
};

// Query rows: A's are a function of the position; others random.
std::vector<float> q_row(int seq, int pos, int D) {
  return randn(size_t(kHeads) * D, uint32_t(seq * 7919 + pos * 13 + 5), seq == 0 ? 1.0f : 2.0f);
}

// Outputs of queries (seq, pos) in one attention call: [n, kHeads * D].
std::vector<float> run_queries(Backend& be, Stream& s, KVCache& kv, const AttnCase& ac,
                               const std::vector<std::pair<int, int>>& qs) {
  Dev d{be, s};
  std::vector<float> q;
  std::vector<int32_t> seq, pos;
  for (auto [sq, p] : qs) {
    const auto r = q_row(sq, p, ac.D);
    q.insert(q.end(), r.begin(), r.end());
    seq.push_back(sq);
    pos.push_back(p);
  }
  AttnBatch b;
  b.n_tokens = int32_t(qs.size());
  b.seq = d.put_i(seq);
  b.pos = d.put_i(pos);
  b.n_heads = kHeads;
  b.scale = 1.0f / std::sqrt(float(ac.D));
  b.window = ac.window;
  b.softcap = ac.softcap;
  float* out = d.zeros(qs.size() * size_t(kHeads) * ac.D);
  s.kv_sync(kv);
  s.attention(kv, 0, d.put(q), b, out);
  return d.get(out, qs.size() * size_t(kHeads) * ac.D);
}

std::vector<std::pair<int, int>> positions(int seq, int p0, int p1) {
  std::vector<std::pair<int, int>> v;
  for (int p = p0; p < p1; ++p) v.push_back({seq, p});
  return v;
}

// Builds layout `which` of A (and others) into a fresh pool.
void build_layout(int which, Backend& be, Stream& s, const AttnCase& ac, Pool* pool, std::mt19937& rng) {
  const int cells = which == 2 ? 320 : which == 5 ? 320 : 512;
  ASSERT_TRUE(be.create_kv_cache(attn_kvp(ac, cells), &pool->kv).ok());
  Dev d{be, s};
  switch (which) {
    case 0:  // the reference: A alone, one batch
      pool->alloc(s, d, positions(0, 0, kLen), ac.D);
      break;
    case 1: {  // A interleaved with B and C, chunks of random sizes
      int pa = 0, pb = 0, pc = 0;
      while (pa < kLen) {
        std::vector<std::pair<int, int>> batch;
        const int na = std::min(kLen - pa, int(rng() % 9) + 1), nb = int(rng() % 5), nc = int(rng() % 4);
        for (int i = 0; i < nb; ++i) batch.push_back({1, pb++});
        for (int i = 0; i < na; ++i) batch.push_back({0, pa++});
        for (int i = 0; i < nc; ++i) batch.push_back({2, pc++});
        pool->alloc(s, d, batch, ac.D);
      }
      break;
    }
    case 2: {  // a fragmented pool: fillers, some removed, then A in the holes (no free page left)
      for (int f = 1; f <= 5; ++f) pool->alloc(s, d, positions(f, 0, 30 + f * 3), ac.D);
      pool->kv->seq_rm(2, 0, -1);
      pool->kv->seq_rm(4, 10, -1);
      pool->alloc(s, d, positions(6, 0, 40), ac.D);
      pool->kv->seq_rm(1, 0, -1);
      pool->kv->seq_rm(6, 5, 30);
      for (int p = 0; p < kLen; p += 10) pool->alloc(s, d, positions(0, p, std::min(kLen, p + 10)), ac.D);
      break;
    }
    case 3: {  // the prefix 0..79 computed by sequence 7, shared with A (seq_cp), the rest A's own
      pool->alloc(s, d, positions(3, 0, 17), ac.D);
      pool->alloc(s, d, positions(kPrefixSeq, 0, 80), ac.D);
      pool->kv->seq_cp(kPrefixSeq, 0, 0, 80);
      pool->kv->seq_rm(kPrefixSeq, 0, -1);
      pool->alloc(s, d, positions(0, 80, kLen), ac.D);
      break;
    }
    case 4: {  // A's tail removed and written again (a chat turn regenerated)
      pool->alloc(s, d, positions(0, 0, 120), ac.D);
      pool->alloc(s, d, positions(5, 0, 20), ac.D);
      pool->kv->seq_rm(0, 97, -1);
      pool->alloc(s, d, positions(0, 97, kLen), ac.D);
      break;
    }
    default: {  // 5 pages: A's later positions wrap into pages freed before its earlier ones
      pool->alloc(s, d, positions(1, 0, 64), ac.D);    // page 0
      pool->alloc(s, d, positions(2, 0, 64), ac.D);    // page 1
      pool->alloc(s, d, positions(0, 0, 100), ac.D);   // pages 2, 3
      pool->alloc(s, d, positions(3, 0, 64), ac.D);    // page 4
      pool->kv->seq_rm(1, 0, -1);
      pool->kv->seq_rm(2, 0, -1);
      pool->alloc(s, d, positions(0, 100, kLen), ac.D);  // the rest of page 3, then pages 0, 1
      break;
    }
  }
}

void check_attention(const Target& tg, const AttnCase& ac) {
  auto be = make(tg.name);
  ASSERT_TRUE(be);
  const std::string what = tg.name + " " + ggf8::dtype_name(ac.dt) + (ac.token_scales ? " token scales" : "") +
                           " D " + std::to_string(ac.D) + " window " +
                           std::to_string(ac.window) + " softcap " + std::to_string(ac.softcap);
  const std::vector<int> qpos = {0, 1, 5, 63, 64, 65, 100, 127, 128, 149};
  std::mt19937 rng(uint32_t(ac.D * 3 + ac.window));
  // Reference: layout 0, each query alone, one thread.
  std::vector<std::vector<float>> ref;
  {
    auto s = det_stream(*be, 1, 64, 4096);
    Pool pool;
    build_layout(0, *be, *s, ac, &pool, rng);
    for (int p : qpos) ref.push_back(run_queries(*be, *s, *pool.kv, ac, {{0, p}}));
  }
  const size_t row = size_t(kHeads) * ac.D;
  const std::vector<int> thread_counts = tg.threads ? std::vector<int>{1, 2, 3} : std::vector<int>{1};
  for (int layout = 0; layout <= 5; ++layout)
    for (int th : thread_counts) {
      auto s = det_stream(*be, th, 64, 4096);
      Pool pool;
      build_layout(layout, *be, *s, ac, &pool, rng);
      // A's queries in random order beside other sequences' queries.
      std::vector<std::pair<int, int>> qs;
      for (int p : qpos) qs.push_back({0, p});
      for (int i = 0; i < 9; ++i) qs.push_back({1 + int(rng() % 6), int(rng() % 60)});
      std::shuffle(qs.begin(), qs.end(), rng);
      const std::vector<float> got = run_queries(*be, *s, *pool.kv, ac, qs);
      for (size_t i = 0; i < qs.size(); ++i) {
        if (qs[i].first != 0) continue;
        const size_t qi = std::find(qpos.begin(), qpos.end(), qs[i].second) - qpos.begin();
        ASSERT_TRUE(same_bits(got.data() + i * row, ref[qi].data(), row))
            << what << ": position " << qs[i].second << " in layout " << layout << " on " << th
            << " threads differs from the query alone in a fresh pool";
      }
    }
}

TEST(Invariance, AttentionDoesNotDependOnBatchThreadsOrPoolLayout) {
  const AttnCase cases[] = {
      {DType::F32, 16, 0, 0.0f},
      {DType::E4M3, 64, 0, 0.0f},
      {DType::BF16, 40, 7, 0.0f},
      {DType::E4M3, 16, 70, 20.0f},
      {DType::E4M3, 64, 0, 0.0f, true},
      {DType::E4M3, 40, 70, 0.0f, true},
  };
  for (const Target& tg : targets())
    for (const AttnCase& ac : cases) check_attention(tg, ac);
}

}  // namespace
