// test_model_forward.cpp — the forward pass on synthetic models against the
// scalar reference in tiny_model.cpp (written from the HF definitions), and
// the batched-decode contract: prefill == token-by-token, several sequences
// in one batch == each alone, seq_rm + redecode, context full, abort, bad
// entries. Runs on cpu-ref (the oracle backend) and cpu (simd).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numeric>
#include <string>

#include "model/context.h"
#include "model/model.h"
#include "model_test_util.h"
#include "tiny_model.h"

using f8model::Code;

namespace {

struct Rig {
  tiny::Spec spec;
  tiny::Tensors w;
  std::unique_ptr<ggf8::File> file;
  std::unique_ptr<f8model::Model> model;
};

std::unique_ptr<Rig> make(const tiny::Spec& s, const std::string& name, const std::string& backend = "cpu") {
  auto r = std::make_unique<Rig>();
  r->spec = s;
  std::string p = std::string(F8_BINARY_DIR) + "/tests_fwd_" + name + ".f8";
  ggf8::Status ws = tiny::write(p, s, &r->w);
  EXPECT_TRUE(ws.ok()) << ws.message;
  ggf8::Status os = ggf8::File::open(p, &r->file);
  EXPECT_TRUE(os.ok()) << os.message;
  f8model::LoadOptions lo;
  lo.backend = backend;
  f8model::Status st = f8model::Model::load(*r->file, lo, &r->model);
  EXPECT_TRUE(st.ok()) << st.message;
  return r;
}

std::unique_ptr<f8model::Context> ctx(Rig& r, ggf8::DType kv = ggf8::DType::F32, int n_ctx = 128,
                                      int n_batch = 512, const std::string& backend = "cpu",
                                      int threads = 2) {
  f8model::ContextParams cp;
  cp.n_ctx = n_ctx;
  cp.n_batch = n_batch;
  cp.n_threads = threads;
  cp.kv_type = kv;
  cp.backend = backend;
  return f8test::create_context(*r.model, cp);
}

using f8test::tokens;
using f8test::prefill;

double max_abs_diff(const float* a, const float* b, int n) {
  double m = 0;
  for (int i = 0; i < n; ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

int argmax(const float* x, int n) { return int(std::max_element(x, x + n) - x); }

void expect_matches_reference(const tiny::Spec& s, const std::string& name, double tol,
                              ggf8::DType kv = ggf8::DType::F32) {
  for (const char* be : {"cpu-ref", "cpu"}) {
    SCOPED_TRACE(std::string(be) + " " + name);
    auto r = make(s, name, be);
    ASSERT_TRUE(r->model);
    auto c = ctx(*r, kv, 128, 512, be);
    ASSERT_TRUE(c);
    auto toks = tokens(24, s.vocab, 1);
    f8model::Status st = prefill(*c, toks);
    ASSERT_TRUE(st.ok()) << st.message;
    std::vector<float> ref = tiny::reference_logits(s, r->w, toks);
    double worst = 0;
    for (int i = 0; i < int(toks.size()); ++i) {
      const float* lg = c->logits(i, &st);
      ASSERT_NE(lg, nullptr) << st.message;
      worst = std::max(worst, max_abs_diff(lg, ref.data() + size_t(i) * s.vocab, s.vocab));
    }
    EXPECT_LT(worst, tol);
  }
}

}  // namespace

TEST(Forward, LlamaMatchesReference) { expect_matches_reference(tiny::Spec{}, "llama", 2e-3); }

TEST(Forward, Qwen2BiasTiedMatchesReference) {
  tiny::Spec s;
  s.arch = "qwen2";
  s.qkv_bias = true;
  s.tied = true;
  expect_matches_reference(s, "qwen2", 2e-3);
}

TEST(Forward, Qwen3QkNormMatchesReference) {
  tiny::Spec s;
  s.arch = "qwen3";
  s.qk_norm = true;
  s.tied = true;
  s.head_dim = 16;  // head_dim * heads != embd, as in Qwen3
  expect_matches_reference(s, "qwen3", 2e-3);
}

TEST(Forward, MistralSlidingWindowMatchesReference) {
  tiny::Spec s;  // a window of 5 over 24 tokens: later tokens see 5 positions
  s.arch = "mistral";
  s.window = 5;
  expect_matches_reference(s, "mistral_window", 2e-3);
}

TEST(Forward, Llama3RopeScalingMatchesReference) {
  tiny::Spec s;
  s.rope = "llama3";
  s.head_dim = 16;
  s.heads = 2;
  s.kv_heads = 1;
  s.rope_base = 500000.0f;
  expect_matches_reference(s, "llama3", 2e-3);
}

TEST(Forward, LinearRopeMatchesReference) {
  tiny::Spec s;
  s.rope = "linear";
  s.rope_factor = 4.0f;
  expect_matches_reference(s, "linear", 2e-3);
}

TEST(Forward, Fp8AndBf16WeightsMatchDequantizedReference) {
  tiny::Spec s;
  s.wtype = ggf8::DType::E4M3;
  expect_matches_reference(s, "e4m3_channel", 2e-3);
  s.scale = ggf8::ScaleKind::Tensor;
  expect_matches_reference(s, "e4m3_tensor", 2e-3);
  s.wtype = ggf8::DType::BF16;
  expect_matches_reference(s, "bf16", 2e-3);
}

TEST(Forward, Fp8KvCacheStaysClose) {
  // FP8 KV (file scales) changes logits a little, not the picture.
  tiny::Spec s;
  s.kv_scales = true;
  auto r = make(s, "kvfp8");
  auto toks = tokens(32, s.vocab, 3);
  std::vector<float> ref = tiny::reference_logits(s, r->w, toks);
  auto c = ctx(*r, ggf8::DType::E4M3);
  ASSERT_TRUE(prefill(*c, toks).ok());
  f8model::Status st;
  double worst = 0, scale = 0;
  for (int i = 0; i < 32; ++i) {
    const float* lg = c->logits(i, &st);
    worst = std::max(worst, max_abs_diff(lg, ref.data() + size_t(i) * s.vocab, s.vocab));
    for (int v = 0; v < int(s.vocab); ++v) scale = std::max(scale, double(std::fabs(ref[size_t(i) * s.vocab + v])));
  }
  EXPECT_GT(worst, 0.0);           // it really is quantized
  EXPECT_LT(worst, 0.1 * scale);   // and close
}

TEST(Batch, PrefillEqualsTokenByToken) {
  tiny::Spec s;
  auto r = make(s, "tokbytok");
  auto toks = tokens(20, s.vocab, 2);
  auto a = ctx(*r);
  ASSERT_TRUE(prefill(*a, toks).ok());
  auto b = ctx(*r, ggf8::DType::F32, 128, /*n_batch=*/3);  // also exercises chunking
  f8model::Status st;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(prefill(*b, {toks[i]}, 0, i).ok());
    const float* lb = b->logits(0, &st);
    const float* la = a->logits(i, &st);
    EXPECT_LT(max_abs_diff(la, lb, s.vocab), 1e-4) << "token " << i;
  }
  EXPECT_EQ(b->seq_pos_max(0), 19);
  EXPECT_EQ(b->n_used(), 20);
}

TEST(Batch, SeveralSequencesInOneBatch) {
  tiny::Spec s;
  auto r = make(s, "multiseq");
  auto t0 = tokens(9, s.vocab, 4), t1 = tokens(13, s.vocab, 5);
  auto a = ctx(*r);
  ASSERT_TRUE(prefill(*a, t0, 0).ok());
  f8model::Status st;
  std::vector<float> l0(a->logits(-1, &st), a->logits(-1, &st) + s.vocab);
  a->clear();
  ASSERT_TRUE(prefill(*a, t1, 0).ok());
  std::vector<float> l1(a->logits(-1, &st), a->logits(-1, &st) + s.vocab);

  // Interleave both sequences (seq 3 and seq 7) in one batch.
  auto b = ctx(*r);
  std::vector<int32_t> tok, pos, seq;
  std::vector<int8_t> want;
  for (int i = 0; i < 13; ++i) {
    if (i < 9) {
      tok.push_back(t0[i]); pos.push_back(i); seq.push_back(3); want.push_back(i == 8);
    }
    tok.push_back(t1[i]); pos.push_back(i); seq.push_back(7); want.push_back(i == 12);
  }
  st = b->decode({int(tok.size()), tok.data(), pos.data(), seq.data(), want.data()});
  ASSERT_TRUE(st.ok()) << st.message;
  EXPECT_EQ(b->n_outputs(), 2);
  int i0 = -1, i1 = -1;
  for (int i = 0; i < int(tok.size()); ++i) {
    if (want[i] && seq[i] == 3) i0 = i;
    if (want[i] && seq[i] == 7) i1 = i;
  }
  EXPECT_LT(max_abs_diff(b->logits(i0, &st), l0.data(), s.vocab), 1e-4);
  EXPECT_LT(max_abs_diff(b->logits(i1, &st), l1.data(), s.vocab), 1e-4);
  EXPECT_EQ(b->logits(0, &st), nullptr);  // entry 0 asked for no logits
  EXPECT_EQ(st.code, Code::InvalidArgument);
  EXPECT_EQ(b->seq_pos_max(3), 8);
  EXPECT_EQ(b->seq_pos_max(7), 12);

  // seq_keep drops the other sequence; the kept one continues unchanged.
  ASSERT_TRUE(b->seq_keep(7).ok());
  EXPECT_EQ(b->seq_pos_max(3), -1);
  EXPECT_EQ(b->n_used(), 13);
}

TEST(Batch, TruncateAndRedecodeReproduces) {
  tiny::Spec s;
  auto r = make(s, "trunc");
  auto toks = tokens(16, s.vocab, 6);
  auto c = ctx(*r);
  ASSERT_TRUE(prefill(*c, toks).ok());
  f8model::Status st;
  std::vector<float> want(c->logits(15, &st), c->logits(15, &st) + s.vocab);
  // Drop positions 10.. and decode them again (a different tail first).
  ASSERT_TRUE(c->seq_rm(0, 10, -1).ok());
  EXPECT_EQ(c->seq_pos_max(0), 9);
  ASSERT_TRUE(prefill(*c, {1, 2, 3}, 0, 10).ok());
  ASSERT_TRUE(c->seq_rm(0, 10, -1).ok());
  std::vector<int32_t> tail(toks.begin() + 10, toks.end());
  ASSERT_TRUE(prefill(*c, tail, 0, 10).ok());
  EXPECT_LT(max_abs_diff(c->logits(-1, &st), want.data(), s.vocab), 1e-4);
  // seq_cp shares a prefix: seq 1 continues from seq 0's first 10 positions.
  ASSERT_TRUE(c->seq_cp(0, 1, 0, 10).ok());
  ASSERT_TRUE(prefill(*c, tail, 1, 10).ok());
  EXPECT_LT(max_abs_diff(c->logits(-1, &st), want.data(), s.vocab), 1e-4);
}

TEST(Batch, ContextFullLeavesCacheUnchanged) {
  tiny::Spec s;
  auto r = make(s, "full");
  auto c = ctx(*r, ggf8::DType::F32, /*n_ctx=*/16);
  ASSERT_TRUE(prefill(*c, tokens(10, s.vocab, 1)).ok());
  f8model::Status st = prefill(*c, tokens(7, s.vocab, 1), 0, 10);
  EXPECT_EQ(st.code, Code::ContextFull);
  EXPECT_NE(st.message.find("context full"), std::string::npos) << st.message;
  EXPECT_EQ(c->n_used(), 10);
  EXPECT_EQ(c->seq_pos_max(0), 9);
  EXPECT_TRUE(prefill(*c, tokens(6, s.vocab, 1), 0, 10).ok());
}

TEST(Batch, BadEntriesAreRejected) {
  tiny::Spec s;
  auto r = make(s, "bad");
  auto c = ctx(*r);
  EXPECT_EQ(prefill(*c, {int32_t(s.vocab)}).code, Code::InvalidArgument);
  EXPECT_EQ(prefill(*c, {-1}).code, Code::InvalidArgument);
  EXPECT_EQ(prefill(*c, {1}, 64).code, Code::InvalidArgument);
  EXPECT_EQ(prefill(*c, {1}, -1).code, Code::InvalidArgument);
  EXPECT_EQ(prefill(*c, {1}, 0, -5).code, Code::InvalidArgument);
  ASSERT_TRUE(prefill(*c, {1, 2, 3}).ok());
  f8model::Status st = prefill(*c, {4}, 0, 2);  // position already in the cache
  EXPECT_EQ(st.code, Code::InvalidArgument);
  EXPECT_NE(st.message.find("not after its last position 2"), std::string::npos) << st.message;
  EXPECT_EQ(c->n_used(), 3);
  EXPECT_EQ(c->decode({0, nullptr, nullptr, nullptr, nullptr}).code, Code::InvalidArgument);
}

TEST(Batch, AbortRollsBack) {
  tiny::Spec s;
  auto r = make(s, "abort");
  auto c = ctx(*r);
  ASSERT_TRUE(prefill(*c, tokens(5, s.vocab, 1)).ok());
  int calls = 0;
  c->set_abort([](void* ud) { return ++*static_cast<int*>(ud) > 1; }, &calls);
  f8model::Status st = prefill(*c, tokens(5, s.vocab, 2), 0, 5);
  EXPECT_EQ(st.code, Code::Aborted);
  EXPECT_EQ(c->n_used(), 5);
  EXPECT_EQ(c->seq_pos_max(0), 4);
  c->set_abort(nullptr, nullptr);
  EXPECT_TRUE(prefill(*c, tokens(5, s.vocab, 2), 0, 5).ok());
}

TEST(Context, BadParamsAreRejected) {
  tiny::Spec s;
  auto r = make(s, "params");
  f8model::ContextParams cp;
  std::unique_ptr<f8model::Context> c;
  cp.n_threads = 0;
  EXPECT_EQ(f8model::Context::create(*r->model, cp, &c).code, Code::InvalidArgument);
  cp.n_threads = 1;
  cp.n_batch = 0;
  EXPECT_EQ(f8model::Context::create(*r->model, cp, &c).code, Code::InvalidArgument);
  cp.n_batch = 8;
  cp.n_ctx = -3;
  EXPECT_EQ(f8model::Context::create(*r->model, cp, &c).code, Code::InvalidArgument);
  cp.n_ctx = 0;
  cp.kv_type = ggf8::DType::I8;
  EXPECT_EQ(f8model::Context::create(*r->model, cp, &c).code, Code::InvalidArgument);
  cp.kv_type = ggf8::DType::BF16;
  ASSERT_TRUE(f8model::Context::create(*r->model, cp, &c).ok());
  EXPECT_EQ(c->params().n_ctx, 512);  // the model's context (tiny: 512)
}

TEST(Calibration, ScalesFollowMeasuredAmax) {
  tiny::Spec s;
  auto r = make(s, "calib");
  std::vector<float> ks, vs;
  f8model::Status st = f8model::calibrate_kv_scales(*r->model, tokens(40, s.vocab, 9), ggf8::DType::E4M3, 1,
                                                    "cpu", &ks, &vs);
  ASSERT_TRUE(st.ok()) << st.message;
  ASSERT_EQ(ks.size(), 2u);
  for (int l = 0; l < 2; ++l) {
    EXPECT_GT(ks[l], 0.0f);
    EXPECT_GT(vs[l], 0.0f);
    EXPECT_LT(ks[l], 1.0f);  // tiny model activations are O(1): amax*2/448 << 1
  }
}
