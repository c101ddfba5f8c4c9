// test_model_load.cpp — hparams and weight validation on synthetic files:
// every bad file is rejected with a message naming the key/tensor.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "ggf8/keys.h"
#include "model/hparams.h"
#include "model/weights.h"
#include "tiny_model.h"

using f8model::Code;

namespace {

std::string tmp_path(const std::string& name) {
  return std::string(F8_BINARY_DIR) + "/tests_model_" + name + ".f8";
}

struct Loaded {
  std::unique_ptr<ggf8::File> file;
  f8model::HParams hp;
  f8model::ModelWeights w;
  f8model::Status st;
};

Loaded load(const tiny::Spec& s, const std::string& name) {
  Loaded r;
  std::string p = tmp_path(name);
  ggf8::Status ws = tiny::write(p, s);
  EXPECT_TRUE(ws.ok()) << ws.message;
  ggf8::Status os = ggf8::File::open(p, &r.file);
  EXPECT_TRUE(os.ok()) << os.message;
  if (!os.ok()) return r;
  r.st = f8model::load_hparams(*r.file, &r.hp);
  if (r.st.ok()) r.st = f8model::bind_weights(*r.file, r.hp, &r.w);
  return r;
}

}  // namespace

TEST(ModelLoad, ValidLlama) {
  tiny::Spec s;
  Loaded r = load(s, "valid");
  ASSERT_TRUE(r.st.ok()) << r.st.message;
  EXPECT_EQ(r.hp.arch, f8model::Arch::Llama);
  EXPECT_EQ(r.hp.n_embd, 32u);
  EXPECT_EQ(r.hp.n_head_kv, 2u);
  EXPECT_EQ(r.hp.q_dim(), 32u);
  EXPECT_EQ(r.hp.kv_dim(), 16u);
  ASSERT_EQ(r.w.layers.size(), 2u);
  // Zero copy: the weight points into the mapping.
  const ggf8::TensorInfo* t = r.file->tensor("blk.1.ffn_down.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(r.w.layers[1].down.data, r.file->data(*t));
  EXPECT_EQ(r.w.layers[1].down.rows, 32);
  EXPECT_EQ(r.w.layers[1].down.cols, 48);
  EXPECT_EQ(r.w.weight_type, "f32");
  EXPECT_FALSE(r.w.has_kv_scales);
}

TEST(ModelLoad, QwenTiedFp8WithKvScales) {
  tiny::Spec s;
  s.arch = "qwen2";
  s.qkv_bias = true;
  s.tied = true;
  s.wtype = ggf8::DType::E4M3;
  s.kv_scales = true;
  Loaded r = load(s, "qwen");
  ASSERT_TRUE(r.st.ok()) << r.st.message;
  EXPECT_TRUE(r.hp.qkv_bias);
  EXPECT_TRUE(r.hp.tied_embeddings);
  EXPECT_EQ(r.w.output.data, r.w.token_embd.data);
  EXPECT_NE(r.w.layers[0].bq.data, nullptr);
  EXPECT_EQ(r.w.layers[0].wq.scale_kind, ggf8::ScaleKind::Channel);
  EXPECT_NE(r.w.layers[0].wq.scale, nullptr);
  EXPECT_EQ(r.w.weight_type, "e4m3");
  EXPECT_TRUE(r.w.has_kv_scales);
  EXPECT_FLOAT_EQ(r.w.layers[1].k_scale, 4.0f / 448.0f);
}

TEST(ModelLoad, MissingTensorIsNamed) {
  tiny::Spec s;
  s.omit = {"blk.1.ffn_up.weight", "output.weight"};
  Loaded r = load(s, "missing");
  ASSERT_EQ(r.st.code, Code::Format);
  EXPECT_NE(r.st.message.find("blk.1.ffn_up.weight: missing"), std::string::npos) << r.st.message;
  EXPECT_NE(r.st.message.find("output.weight: missing"), std::string::npos) << r.st.message;
  EXPECT_NE(r.st.message.find("2 tensor problems"), std::string::npos) << r.st.message;
}

TEST(ModelLoad, QwenWithoutBiasIsNamed) {
  tiny::Spec s;
  s.arch = "qwen2";
  s.qkv_bias = false;
  s.omit_keys = {ggf8::keys::kQkvBias};  // qwen2 defaults to biases
  Loaded r = load(s, "qwen_nobias");
  ASSERT_EQ(r.st.code, Code::Format);
  EXPECT_NE(r.st.message.find("blk.0.attn_q.bias: missing"), std::string::npos) << r.st.message;
}

TEST(ModelLoad, WrongShapeIsNamed) {
  tiny::Spec s;
  s.reshape["blk.0.attn_k.weight"] = {32, 32};
  Loaded r = load(s, "shape");
  ASSERT_EQ(r.st.code, Code::Format);
  EXPECT_NE(r.st.message.find("blk.0.attn_k.weight: shape [32, 32], expected [16, 32]"), std::string::npos)
      << r.st.message;
}

TEST(ModelLoad, NormMustBeVector) {
  tiny::Spec s;
  s.reshape["output_norm.weight"] = {32, 1};
  Loaded r = load(s, "norm");
  ASSERT_EQ(r.st.code, Code::Format);
  EXPECT_NE(r.st.message.find("output_norm.weight: shape [32, 1], expected [32]"), std::string::npos)
      << r.st.message;
}

TEST(ModelLoad, OtherArchitectureIsUnsupported) {
  tiny::Spec s;
  s.arch = "gpt2";
  Loaded r = load(s, "gpt2");
  ASSERT_EQ(r.st.code, Code::Unsupported);
  EXPECT_NE(r.st.message.find("architecture 'gpt2' is not supported"), std::string::npos) << r.st.message;
}

TEST(ModelLoad, BadHyperparameters) {
  {
    tiny::Spec s;
    s.kv_heads = 3;
    Loaded r = load(s, "gqa");
    ASSERT_EQ(r.st.code, Code::Format);
    EXPECT_NE(r.st.message.find("not a multiple of llm.attention.head_count_kv"), std::string::npos)
        << r.st.message;
  }
  {
    tiny::Spec s;
    s.omit_keys = {ggf8::keys::kBlockCount};
    Loaded r = load(s, "nolayers");
    ASSERT_EQ(r.st.code, Code::Format);
    EXPECT_NE(r.st.message.find("llm.block_count: missing"), std::string::npos) << r.st.message;
  }
  {
    tiny::Spec s;
    s.override_keys[ggf8::keys::kEmbeddingLength] = ggf8::Value::u64(0);
    Loaded r = load(s, "zeroembd");
    ASSERT_EQ(r.st.code, Code::Format);
    EXPECT_NE(r.st.message.find("llm.embedding_length = 0"), std::string::npos) << r.st.message;
  }
  {
    tiny::Spec s;
    s.override_keys[ggf8::keys::kRmsEps] = ggf8::Value::f32(-1.0f);
    Loaded r = load(s, "eps");
    ASSERT_EQ(r.st.code, Code::Format);
    EXPECT_NE(r.st.message.find("layer_norm_rms_epsilon"), std::string::npos) << r.st.message;
  }
  {
    tiny::Spec s;
    s.override_keys[ggf8::keys::kHeadCount] = ggf8::Value::str("four");
    Loaded r = load(s, "strheads");
    ASSERT_EQ(r.st.code, Code::Format);
    EXPECT_NE(r.st.message.find("llm.attention.head_count: expected an unsigned integer"), std::string::npos)
        << r.st.message;
  }
  {
    tiny::Spec s;
    s.override_keys[ggf8::keys::kRopeScalingType] = ggf8::Value::str("dynamic");
    Loaded r = load(s, "dynamic");
    ASSERT_EQ(r.st.code, Code::Unsupported);
    EXPECT_NE(r.st.message.find("'dynamic'"), std::string::npos) << r.st.message;
  }
  {  // YaRN is supported, with its factor and original context
    tiny::Spec s;
    s.override_keys[ggf8::keys::kRopeScalingType] = ggf8::Value::str("yarn");
    Loaded r = load(s, "yarn");
    ASSERT_EQ(r.st.code, Code::Format);
    EXPECT_NE(r.st.message.find("llm.rope.scaling.factor: missing (required)"), std::string::npos) << r.st.message;
    s.override_keys[ggf8::keys::kRopeScalingFactor] = ggf8::Value::f32(32.0f);
    s.override_keys[ggf8::keys::kRopeScalingOrigCtx] = ggf8::Value::u64(4096);
    s.override_keys[ggf8::keys::kRopeScalingAttnFactor] = ggf8::Value::f32(1.25f);
    s.override_keys[ggf8::keys::kRopeScalingTruncate] = ggf8::Value::boolean(false);
    Loaded ok = load(s, "yarn_ok");
    ASSERT_TRUE(ok.st.ok()) << ok.st.message;
    EXPECT_EQ(ok.hp.rope_type, f8model::RopeType::Yarn);
    EXPECT_EQ(ok.hp.rope_attn_factor, 1.25f);
    EXPECT_FALSE(ok.hp.rope_truncate);
    EXPECT_EQ(ok.hp.rope_beta_fast, 32.0f);  // defaults when absent
    EXPECT_EQ(ok.hp.rope_beta_slow, 1.0f);
  }
}

TEST(ModelLoad, Llama3RopeNeedsItsKeys) {
  tiny::Spec s;
  s.rope = "llama3";
  Loaded ok = load(s, "llama3");
  ASSERT_TRUE(ok.st.ok()) << ok.st.message;
  EXPECT_EQ(ok.hp.rope_type, f8model::RopeType::Llama3);
  EXPECT_EQ(ok.hp.rope_orig_ctx, 64u);
  s.omit_keys = {ggf8::keys::kRopeScalingLowFreq};
  Loaded bad = load(s, "llama3_bad");
  ASSERT_EQ(bad.st.code, Code::Format);
  EXPECT_NE(bad.st.message.find("low_freq_factor: missing"), std::string::npos) << bad.st.message;
}
