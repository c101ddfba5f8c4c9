// test_seq_tokens.cpp — prefix reuse through the context
// (f8_kv_seq_common_prefix, model/seq_tokens.h): the context knows which
// token each sequence holds at each position, through decode, seq_rm,
// seq_cp, seq_keep and clear; a new prompt that continues what a sequence
// holds decodes only the rest and gets bit-identical logits to decoding it
// whole in a fresh context (the CPU numerics are batch-invariant).
#include <gtest/gtest.h>

#include <cstring>

#include "model/context.h"
#include "model/model.h"
#include "model/seq_tokens.h"
#include "model_test_util.h"
#include "tiny_model.h"

namespace {

TEST(SeqTokens, FollowsTheCacheOperations) {
  f8model::SeqTokens t(4);
  const int32_t a[] = {5, 6, 7, 8, 9};
  for (int p = 0; p < 4; ++p) t.set(0, p, a[p]);
  EXPECT_EQ(t.common_prefix(0, a, 5), 4u);
  const int32_t b[] = {5, 6, 1, 8};
  EXPECT_EQ(t.common_prefix(0, b, 4), 2u);
  EXPECT_EQ(t.common_prefix(0, a, 3), 3u);  // at most n
  t.cp(0, 1, 0, 3);
  EXPECT_EQ(t.common_prefix(1, a, 5), 3u);
  t.rm(0, 2, 3);  // a hole at position 2: the prefix ends there
  EXPECT_EQ(t.common_prefix(0, a, 5), 2u);
  t.rm(-1, 1, -1);
  EXPECT_EQ(t.common_prefix(0, a, 5), 1u);
  EXPECT_EQ(t.common_prefix(1, a, 5), 1u);
  t.set(2, 0, 5);
  t.keep(2);
  EXPECT_EQ(t.common_prefix(0, a, 5), 0u);
  EXPECT_EQ(t.common_prefix(2, a, 5), 1u);
  t.clear();
  EXPECT_EQ(t.common_prefix(2, a, 5), 0u);
  EXPECT_EQ(t.common_prefix(9, a, 5), 0u);  // no such sequence
}

TEST(SeqTokens, ContextReusesAPrefixWithIdenticalLogits) {
  tiny::Spec s;
  s.vocab = 160;
  s.embd = 64;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 16;
  s.ff = 128;
  s.layers = 2;
  s.wtype = ggf8::DType::E4M3;
  s.scale = ggf8::ScaleKind::Channel;
  const std::string path = std::string(F8_BINARY_DIR) + "/tests_seq_tokens.f8";
  ASSERT_TRUE(tiny::write(path, s, nullptr).ok());
  std::unique_ptr<ggf8::File> file;
  ASSERT_TRUE(ggf8::File::open(path, &file).ok());
  std::unique_ptr<f8model::Model> model;
  ASSERT_TRUE(f8model::Model::load(*file, f8model::LoadOptions{}, &model).ok());
  f8model::ContextParams cp;
  cp.backend = "cpu-simd";
  cp.n_threads = 1;
  cp.n_ctx = 512;
  cp.kv_type = ggf8::DType::E4M3;
  cp.k_scale.assign(s.layers, 0.05f);
  cp.v_scale.assign(s.layers, 0.04f);

  // Turn 1: 150 tokens; turn 2: its first 130 tokens + 40 new ones.
  const std::vector<int32_t> t1 = f8test::tokens(150, s.vocab, 1);
  std::vector<int32_t> t2(t1.begin(), t1.begin() + 130);
  for (int32_t x : f8test::tokens(40, s.vocab, 2)) t2.push_back(x);

  auto warm = f8test::create_context(*model, cp);
  ASSERT_TRUE(f8test::prefill(*warm, t1).ok());
  const size_t k = warm->seq_common_prefix(0, t2.data(), t2.size());
  EXPECT_EQ(k, 130u);
  ASSERT_TRUE(warm->seq_rm(0, int32_t(k), -1).ok());
  std::vector<int32_t> rest(t2.begin() + std::ptrdiff_t(k), t2.end());
  ASSERT_TRUE(f8test::prefill(*warm, rest, 0, int32_t(k)).ok());
  EXPECT_EQ(warm->seq_common_prefix(0, t2.data(), t2.size()), t2.size());

  auto cold = f8test::create_context(*model, cp);
  ASSERT_TRUE(f8test::prefill(*cold, t2).ok());
  f8model::Status st;
  for (int i = 0; i < int(rest.size()); ++i) {
    const float* w = warm->logits(i, &st);
    const float* c = cold->logits(int32_t(k) + i, &st);
    ASSERT_TRUE(w && c);
    EXPECT_EQ(std::memcmp(w, c, sizeof(float) * size_t(s.vocab)), 0) << "position " << k + size_t(i);
  }

  // Shared into another sequence: it holds the same prefix.
  ASSERT_TRUE(warm->seq_cp(0, 3, 0, 64).ok());
  EXPECT_EQ(warm->seq_common_prefix(3, t2.data(), t2.size()), 64u);
  warm->clear();
  EXPECT_EQ(warm->seq_common_prefix(0, t2.data(), t2.size()), 0u);
}

}  // namespace
