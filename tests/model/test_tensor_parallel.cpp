// test_tensor_parallel.cpp — tensor parallel on the CPU (tp.h, the local
// communicator): TP = 2 and 4 give the logits of TP = 1 (the reference
// forward of the synthetic fixtures too), for F32 and E4M3 per-channel
// weights (128x128 blocks: the slicing itself), Qwen2 biases and tied embeddings, GQA with split
// (tp 2) and replicated (tp 4) KV heads, several sequences with seq_rm /
// seq_cp; SmolLM2-135M at TP = 3 (its 9 heads split 3 ways, not 2 or 4);
// degrees that do not divide are refused naming the size; the local
// all-reduce is exact and deterministic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <thread>

#include "backend/comm.h"
#include "model/context.h"
#include "model/model.h"
#include "model/tp.h"
#include "model_test_util.h"
#include "tiny_model.h"

namespace {

using f8model::Code;

struct Rig {
  tiny::Spec spec;
  tiny::Tensors w;
  std::unique_ptr<ggf8::File> file;
  std::unique_ptr<f8model::Model> model;
};

std::unique_ptr<Rig> open_file(const std::string& path) {
  auto r = std::make_unique<Rig>();
  ggf8::Status os = ggf8::File::open(path, &r->file);
  EXPECT_TRUE(os.ok()) << os.message;
  if (!os.ok()) return nullptr;
  f8model::LoadOptions lo;
  f8model::Status st = f8model::Model::load(*r->file, lo, &r->model);
  EXPECT_TRUE(st.ok()) << st.message;
  return st.ok() ? std::move(r) : nullptr;
}

std::unique_ptr<Rig> make(const tiny::Spec& s, const std::string& name) {
  const std::string p = std::string(F8_BINARY_DIR) + "/tests_tp_" + name + ".f8";
  tiny::Tensors w;
  ggf8::Status ws = tiny::write(p, s, &w);
  EXPECT_TRUE(ws.ok()) << ws.message;
  auto r = open_file(p);
  if (r) {
    r->spec = s;
    r->w = std::move(w);
  }
  return r;
}

std::unique_ptr<f8model::Context> ctx(Rig& r, int tp, bool emulate = false, int n_ctx = 128,
                                      ggf8::DType kv = ggf8::DType::F32, bool kv_token_scales = false,
                                      const std::vector<float>& k_center = {}) {
  f8model::ContextParams cp;
  cp.kv_token_scales = kv_token_scales;
  cp.k_center = k_center;
  cp.n_ctx = n_ctx;
  cp.n_batch = 64;
  cp.n_threads = 2 * tp;  // tp thread groups of 2
  cp.kv_type = kv;
  cp.tp = tp;
  cp.emulate_gpu = emulate;
  return f8test::create_context(*r.model, cp);
}

using f8test::tokens;
using f8test::prefill;

// All logits of the last decode, [n_outputs, vocab].
std::vector<float> all_logits(f8model::Context& c, int vocab) {
  std::vector<float> out;
  for (int i = 0; i < c.n_outputs(); ++i) {
    f8model::Status st;
    const float* lg = c.logits(i, &st);
    EXPECT_NE(lg, nullptr) << st.message;
    if (lg) out.insert(out.end(), lg, lg + vocab);
  }
  return out;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

// TP = 1, 2, 4 on the same prompt: every logit within tol of TP = 1, and
// TP = 1 within ref_tol of the independent scalar reference.
void expect_tp_matches(const tiny::Spec& s, const std::string& name, double tol, double ref_tol) {
  auto r = make(s, name);
  ASSERT_TRUE(r);
  const auto toks = tokens(20, int(s.vocab), 3);
  std::vector<float> base;
  for (int tp : {1, 2, 4}) {
    SCOPED_TRACE(name + " tp " + std::to_string(tp));
    auto c = ctx(*r, tp);
    ASSERT_TRUE(c);
    ASSERT_TRUE(prefill(*c, toks).ok());
    std::vector<float> lg = all_logits(*c, int(s.vocab));
    if (tp == 1) {
      base = lg;
      const std::vector<float> ref = tiny::reference_logits(s, r->w, toks);
      EXPECT_LT(max_abs_diff(lg, ref), ref_tol);
    } else {
      const double d = max_abs_diff(lg, base);
      std::printf("[ info ] %s tp %d: max |dlogit| vs tp 1 = %.3g\n", name.c_str(), tp, d);
      EXPECT_LT(d, tol);
    }
  }
}

}  // namespace

TEST(TensorParallel, LlamaF32SplitAndReplicatedKvHeads) {
  tiny::Spec s;  // 4 heads, 2 KV heads: tp 2 splits KV heads, tp 4 replicates them
  expect_tp_matches(s, "llama_f32", 1e-4, 2e-3);
}

TEST(TensorParallel, Qwen2BiasTiedE4M3Channel) {
  tiny::Spec s;
  s.arch = "qwen2";
  s.qkv_bias = true;
  s.tied = true;
  s.wtype = ggf8::DType::E4M3;
  s.scale = ggf8::ScaleKind::Channel;
  expect_tp_matches(s, "qwen2_e4m3", 1e-4, 5e-3);
}

TEST(TensorParallel, Qwen3QkNormAndSlidingWindow) {
  tiny::Spec s;  // per-head q/k norms are replicated; a window narrower than the prompt
  s.arch = "qwen3";
  s.qk_norm = true;
  s.head_dim = 16;
  s.window = 7;
  expect_tp_matches(s, "qwen3_window", 1e-4, 2e-3);
}

TEST(TensorParallel, Gemma2SoftcapsPostNormsAlternatingWindows) {
  tiny::Spec s;  // post norms replicated; GeGLU on each rank's ffn slice; windows on layers 0 and 2
  s.arch = "gemma2";
  s.layers = 3;
  s.head_dim = 16;
  s.window = 5;
  s.swa = {1, 0, 1};
  s.attn_scale = 0.3f;
  s.softcap = 2.0f;
  s.final_softcap = 3.0f;
  s.embd_scale = std::sqrt(32.0f);
  s.tied = true;
  expect_tp_matches(s, "gemma2", 1e-4, 2e-3);
}

TEST(TensorParallel, Gemma3QkNormsAndTwoRopeBases) {
  tiny::Spec s;
  s.arch = "gemma3";
  s.layers = 3;
  s.qk_norm = true;
  s.head_dim = 16;
  s.window = 4;
  s.swa = {1, 1, 0};
  s.attn_scale = 0.25f;
  s.embd_scale = std::sqrt(32.0f);
  s.rope = "linear";
  s.rope_factor = 4.0f;
  s.rope_base = 1000000.0f;
  s.rope_base_local = 10000.0f;
  expect_tp_matches(s, "gemma3", 1e-4, 2e-3);
}

// Block scales travel with their blocks: row slices advance the scale rows,
// column slices the scale columns (full scale row stride kept); a slice that
// cuts a block is refused naming the tensor. (The synthetic writer has no
// block-scaled files, so this checks the slicing on hand-made views.)
TEST(TensorParallel, BlockScalesTravelWithTheirBlocks) {
  f8model::HParams hp;
  hp.n_embd = 512;
  hp.n_head = 4;
  hp.n_head_kv = 4;
  hp.head_dim = 128;
  hp.n_ff = 1024;
  hp.n_vocab = 512;
  hp.n_layer = 1;
  std::vector<uint8_t> bytes(1024 * 1024);
  std::vector<float> scales(64 * 64);
  auto block = [&](int64_t rows, int64_t cols) {
    f8backend::Weight w;
    w.data = bytes.data();
    w.dtype = ggf8::DType::E4M3;
    w.rows = rows;
    w.cols = cols;
    w.scale_kind = ggf8::ScaleKind::Block;
    w.scale = scales.data();
    w.block_rows = w.block_cols = 128;
    return w;
  };
  f8model::ModelWeights full;
  full.token_embd = block(512, 512);
  full.output = block(512, 512);
  full.layers.resize(1);
  auto& L = full.layers[0];
  L.wq = block(512, 512);
  L.wk = block(512, 512);
  L.wv = block(512, 512);
  L.wo = block(512, 512);
  L.gate = block(1024, 512);
  L.up = block(1024, 512);
  L.down = block(512, 1024);
  f8model::TpRank t;
  ASSERT_TRUE(f8model::tp_plan(hp, 2, 1, &t).ok());
  f8model::ModelWeights w;
  f8model::Status st = f8model::tp_slice(full, hp, t, &w);
  ASSERT_TRUE(st.ok()) << st.message;
  // wq rows 256..511: scale rows 2..3 of a 4-column scale grid.
  EXPECT_EQ(w.layers[0].wq.scale, scales.data() + 2 * 4);
  EXPECT_EQ(w.layers[0].wq.rows, 256);
  // wo columns 256..511: scale columns 2..3, row stride 4 kept.
  EXPECT_EQ(w.layers[0].wo.scale, scales.data() + 2);
  EXPECT_EQ(w.layers[0].wo.scale_cols, 4);
  EXPECT_EQ(w.layers[0].wo.row_stride, 512);
  EXPECT_EQ(static_cast<const uint8_t*>(w.layers[0].wo.data), bytes.data() + 256);
  // down columns 512..1023 of 1024: scale columns 4..7 of 8.
  EXPECT_EQ(w.layers[0].down.scale, scales.data() + 4);
  EXPECT_EQ(w.layers[0].down.scale_cols, 8);
  // tp 8: slices of 64 rows (vocabulary, heads) cut the 128-row blocks.
  hp.n_head = 8;
  hp.head_dim = 64;
  hp.n_head_kv = 8;
  ASSERT_TRUE(f8model::tp_plan(hp, 8, 1, &t).ok());
  st = f8model::tp_slice(full, hp, t, &w);
  EXPECT_EQ(st.code, Code::Unsupported);
  EXPECT_NE(st.message.find("token_embd.weight"), std::string::npos) << st.message;  // the first slice that cuts
  EXPECT_NE(st.message.find("scale blocks"), std::string::npos) << st.message;
}

TEST(TensorParallel, EmulateGpuStaysClose) {
  tiny::Spec s;
  s.wtype = ggf8::DType::E4M3;
  auto r = make(s, "emulate");
  ASSERT_TRUE(r);
  const auto toks = tokens(16, int(s.vocab), 2);
  auto c0 = ctx(*r, 1, false), c1 = ctx(*r, 1, true), c2 = ctx(*r, 2, true);
  ASSERT_TRUE(c0 && c1 && c2);
  ASSERT_TRUE(prefill(*c0, toks).ok());
  ASSERT_TRUE(prefill(*c1, toks).ok());
  ASSERT_TRUE(prefill(*c2, toks).ok());
  // Each rank quantizes its own activation slice (its own per-token amax for
  // o/down): the split moves the logits by about as much as E4M3 activations
  // do in the first place, not more.
  const std::vector<float> wonly = all_logits(*c0, int(s.vocab));
  const std::vector<float> e1 = all_logits(*c1, int(s.vocab)), e2 = all_logits(*c2, int(s.vocab));
  const double quant = max_abs_diff(e1, wonly), d = max_abs_diff(e2, e1);
  std::printf("[ info ] emulate-gpu: tp 1 vs weight-only %.3g, tp 2 vs tp 1 %.3g\n", quant, d);
  EXPECT_LT(d, 1.5 * quant + 1e-3);
}

// E4M3 cache with per-layer scales, then with per-token scales (each rank
// holds its heads' rows and their scales: the split moves nothing), then
// with K centering too (each rank its heads' part of the measured means).
TEST(TensorParallel, SeveralSequencesAndCacheOps) {
  for (int mode : {0, 1, 2}) {
  const bool token = mode >= 1;
  SCOPED_TRACE(mode == 0 ? "per-layer KV scales" : mode == 1 ? "per-token KV scales" : "per-token, K centered");
  tiny::Spec s;
  auto r = make(s, "seqs");
  ASSERT_TRUE(r);
  std::vector<float> center;
  if (mode == 2) {
    ASSERT_TRUE(f8model::calibrate_k_center(*r->model, tokens(40, int(s.vocab), 7), 2, "cpu", &center).ok());
    ASSERT_EQ(center.size(), size_t(s.layers) * s.kv_heads * s.head_dim);
  }
  auto run = [&](int tp) {
    auto c = ctx(*r, tp, false, 256, ggf8::DType::E4M3, token, center);
    std::vector<float> out;
    EXPECT_TRUE(c);
    if (!c) return out;
    EXPECT_TRUE(prefill(*c, tokens(10, int(s.vocab), 1), 0).ok());
    EXPECT_TRUE(c->seq_cp(0, 1, 0, 6).ok());      // seq 1 shares the first 6 positions
    EXPECT_TRUE(c->seq_rm(0, 8, -1).ok());        // seq 0 drops positions 8, 9
    // One batch: seq 0 continues at 8, seq 1 at 6, seq 2 starts fresh.
    std::vector<int32_t> tok = {5, 9, 11, 3}, pos = {8, 6, 0, 1}, seq = {0, 1, 2, 2};
    std::vector<int8_t> want = {1, 1, 0, 1};
    f8model::Status st = c->decode({4, tok.data(), pos.data(), seq.data(), want.data()});
    EXPECT_TRUE(st.ok()) << st.message;
    for (int i : {0, 1, 3}) {
      const float* lg = c->logits(i, &st);
      EXPECT_NE(lg, nullptr) << st.message;
      if (lg) out.insert(out.end(), lg, lg + s.vocab);
    }
    EXPECT_EQ(c->seq_pos_max(1), 6);
    EXPECT_EQ(c->n_used(), 9 + 1 + 2);  // seq 0: 0..8; seq 1: shared 0..5 + its 6; seq 2: 0..1
    return out;
  };
  const std::vector<float> a = run(1), b = run(2), d = run(4);
  EXPECT_LT(max_abs_diff(a, b), 1e-4);
  EXPECT_LT(max_abs_diff(a, d), 1e-4);
  }
}

TEST(TensorParallel, RefusesDegreesThatDoNotDivide) {
  tiny::Spec s;  // 4 heads, 2 KV heads, FFN 48
  auto r = make(s, "refuse");
  ASSERT_TRUE(r);
  struct Case {
    int tp;
    const char* says;
  } cases[] = {{3, "4 attention heads do not split 3 ways"}, {8, "attention heads do not split 8 ways"}};
  for (const Case& k : cases) {
    f8model::ContextParams cp;
    cp.n_ctx = 64;
    cp.tp = k.tp;
    std::unique_ptr<f8model::Context> c;
    f8model::Status st = f8model::Context::create(*r->model, cp, &c);
    EXPECT_EQ(st.code, Code::InvalidArgument);
    EXPECT_NE(st.message.find(k.says), std::string::npos) << st.message;
  }
  tiny::Spec f;
  f.ff = 50;  // 4 heads split 2 ways, the FFN of 50 does too, 4 ways it does not
  f.heads = 4;
  auto rf = make(f, "refuse_ff");
  ASSERT_TRUE(rf);
  f8model::TpRank t;
  f8model::Status st = f8model::tp_plan(rf->model->hparams(), 4, 0, &t);
  EXPECT_EQ(st.code, Code::InvalidArgument);
  EXPECT_NE(st.message.find("FFN size 50"), std::string::npos) << st.message;
  // 6 heads / 4 KV heads at tp 2... kv 4 % 2 == 0 fine; tp 3 with 6 heads, 4 KV: neither.
  f8model::HParams hp = rf->model->hparams();
  hp.n_head = 6;
  hp.n_head_kv = 4;
  hp.n_ff = 48;
  st = f8model::tp_plan(hp, 3, 0, &t);
  EXPECT_EQ(st.code, Code::InvalidArgument);
  EXPECT_NE(st.message.find("KV heads"), std::string::npos) << st.message;
}

TEST(TensorParallel, PlanReplicatesKvHeads) {
  f8model::HParams hp;
  hp.n_head = 32;
  hp.n_head_kv = 8;
  hp.head_dim = 128;
  hp.n_ff = 14336;
  hp.n_vocab = 128256;
  for (int tp : {16, 32}) {
    for (int r = 0; r < tp; ++r) {
      f8model::TpRank t;
      ASSERT_TRUE(f8model::tp_plan(hp, tp, r, &t).ok());
      EXPECT_EQ(t.n_head_kv, 1);
      EXPECT_EQ(t.kv0 / 128, r / (tp / 8)) << "rank " << r;  // GPU.md: kv head r / (tp / n_kv)
      // Its query heads all belong to that KV head's group.
      EXPECT_EQ(t.q0 / 128 / (32 / 8), t.kv0 / 128);
    }
  }
  int64_t v = 0;
  for (int r = 0; r < 3; ++r) {
    f8model::TpRank t;
    ASSERT_TRUE(f8model::tp_plan(hp, 2, r % 2, &t).ok());
    if (r < 2) {
      EXPECT_EQ(t.v0, v);
      v += t.n_vocab;
    }
  }
  EXPECT_EQ(v, 128256);
}

TEST(TensorParallel, LocalAllReduceIsExactAndDeterministic) {
  for (int n_ranks : {2, 3, 4}) {
    auto comm = f8backend::make_local_comm(n_ranks);
    std::unique_ptr<f8backend::Backend> be;
    ASSERT_TRUE(f8backend::create_backend("cpu-ref", {}, &be).ok());
    const size_t n = 1001;
    std::vector<std::vector<float>> bufs(n_ranks, std::vector<float>(n));
    for (int r = 0; r < n_ranks; ++r)
      for (size_t i = 0; i < n; ++i) bufs[r][i] = float(r + 1) * 0.5f + float(i % 7);
    std::vector<std::unique_ptr<f8backend::Stream>> streams(n_ranks);
    for (auto& s : streams) ASSERT_TRUE(be->create_stream({1, 1, 1}, &s).ok());
    std::vector<std::thread> th;
    for (int round = 0; round < 50; ++round) {
      th.clear();
      for (int r = 0; r < n_ranks; ++r)
        th.emplace_back([&, r] {
          EXPECT_TRUE(comm->all_reduce_sum(r, bufs[r].data(), n, *streams[r]).ok());
        });
      for (auto& t : th) t.join();
      for (int r = 1; r < n_ranks; ++r) ASSERT_EQ(bufs[r], bufs[0]) << "round " << round;
      for (auto& b : bufs)
        for (auto& x : b) x = std::fmod(x, 1000.0f);  // keep the values small for the next round
    }
  }
}

TEST(TensorParallel, SmolLM2AtTp3MatchesTp1) {
  const char* env = std::getenv("F8_CACHE");
  const std::string dir = env ? env : std::string(std::getenv("HOME") ? std::getenv("HOME") : "") + "/.cache/f8";
  const std::string path = dir + "/smollm2-135m-instruct-e4m3.f8";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " missing (scripts/fixtures.sh makes it)";
  auto r = open_file(path);
  ASSERT_TRUE(r);
  const int V = int(r->model->hparams().n_vocab);
  const std::vector<int32_t> toks = {1, 504, 3458, 282, 4649, 314, 1345, 28, 378, 1003, 30, 216, 17, 1000};
  std::vector<float> base;
  for (int tp : {1, 3}) {
    auto c = ctx(*r, tp, false, 64, ggf8::DType::F32);
    ASSERT_TRUE(c);
    ASSERT_TRUE(prefill(*c, toks).ok());
    std::vector<float> lg = all_logits(*c, V);
    if (tp == 1) {
      base = lg;
      continue;
    }
    const double d = max_abs_diff(lg, base);
    int same = 0;
    for (size_t i = 0; i < toks.size(); ++i)
      same += std::max_element(lg.begin() + i * V, lg.begin() + (i + 1) * V) - lg.begin() ==
              std::max_element(base.begin() + i * V, base.begin() + (i + 1) * V) - base.begin();
    std::printf("[ info ] SmolLM2 tp 3: max |dlogit| vs tp 1 = %.3g, same top token %d/%zu\n", d, same,
                toks.size());
    EXPECT_LT(d, 2e-3);
    EXPECT_EQ(same, int(toks.size()));
  }
}
