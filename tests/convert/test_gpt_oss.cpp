// test_gpt_oss.cpp — GptOssForCausalLM in the converter:
//   - MXFP4 -> E4M3 + 1x32 block scales is lossless: every E2M1 nibble times
//     every finite E8M0 scale (subnormal float32 scales included) decodes to
//     the MXFP4 value bit for bit; E8M0 255 (NaN) is refused;
//   - the config schema (GptOssConfig's defaults, the published transformers
//     4.55 form, transformers 5's form), and YaRN against transformers'
//     numbers (tests/goldens/rope/yarn.json, scripts/gen_rope_goldens.py):
//     the attention factor the converter resolves and the inv_freq the
//     runtime computes from it;
//   - end-to-end conversion of tiny checkpoints in both published layouts
//     (MXFP4 and the dequantized [E, in, out] BF16 one) into the same stacks,
//     and each malformed variant refused with one line naming the tensor.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "backend/cpu/cpu_common.h"
#include "convert/converter.h"
#include "convert/hf_config.h"
#include "convert/mxfp4.h"
#include "ggf8/fp8.h"
#include "ggf8/keys.h"
#include "st_builder.h"

using namespace f8conv;
using namespace f8test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const float kFp4[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                        -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};  // transformers' FP4_VALUES

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

// ---- MXFP4 -------------------------------------------------------------------------

TEST(Mxfp4, EveryNibbleTimesEveryScaleIsExactInE4M3) {
  int n_checked = 0, n_subnormal = 0;
  for (int s = 0; s < 255; ++s) {
    float scale = 0;
    ASSERT_TRUE(mxfp4::e8m0_scale(uint8_t(s), &scale)) << s;
    ASSERT_EQ(bits(scale), bits(std::ldexp(1.0f, s - 127))) << "E8M0 " << s;  // 2^(s-127), s = 0 subnormal
    for (int n = 0; n < 16; ++n) {
      // transformers: lut[nibble] then torch.ldexp(., s - 127)
      const float want = std::ldexp(kFp4[n], s - 127);
      const uint8_t code = mxfp4::e2m1_to_e4m3(uint8_t(n));
      ASSERT_EQ(bits(ggf8::e4m3_to_f32(code)), bits(kFp4[n])) << "nibble " << n;  // the code is the value (-0 too)
      const float got = ggf8::e4m3_to_f32(code) * scale;  // what the runtime's gemm multiplies
      ASSERT_EQ(bits(got), bits(want)) << "nibble " << n << " scale 2^" << s - 127;
      ASSERT_EQ(bits(mxfp4::e2m1_value(uint8_t(n))), bits(kFp4[n]));
      // and transformers' default dequantization dtype, BF16, holds it exactly too
      ASSERT_EQ(bits(bf16_bits_to_f32(f32_to_bf16_bits(want))), bits(want));
      n_subnormal += std::fpclassify(want) == FP_SUBNORMAL;
      ++n_checked;
    }
  }
  EXPECT_EQ(n_checked, 16 * 255);
  EXPECT_GT(n_subnormal, 0);  // 2^-127 and 2^-126 scales make float32 subnormal values
  float scale = 1.0f;
  EXPECT_FALSE(mxfp4::e8m0_scale(255, &scale));  // NaN in OCP MX
}

TEST(Mxfp4, RowImportLowNibbleFirstAndNanScaleReported) {
  std::vector<uint8_t> blocks(32, 0), scales = {127, 120}, codes(64);
  std::vector<float> bs(2);
  blocks[0] = 0x21;   // element 0 = nibble 1 (0.5), element 1 = nibble 2 (1.0)
  blocks[16] = 0xF8;  // block 1: element 0 = nibble 8 (-0), element 1 = nibble 15 (-6)
  EXPECT_EQ(mxfp4::import_row(blocks.data(), scales.data(), 64, codes.data(), bs.data()), -1);
  EXPECT_EQ(ggf8::e4m3_to_f32(codes[0]), 0.5f);
  EXPECT_EQ(ggf8::e4m3_to_f32(codes[1]), 1.0f);
  EXPECT_EQ(codes[32], 0x80);  // -0
  EXPECT_EQ(ggf8::e4m3_to_f32(codes[33]) * bs[1], -6.0f / 128.0f);
  EXPECT_EQ(bs[0], 1.0f);
  scales[1] = 255;
  EXPECT_EQ(mxfp4::import_row(blocks.data(), scales.data(), 64, codes.data(), bs.data()), 1);
}

// ---- config.json --------------------------------------------------------------------

ggf8::Status parse(const std::string& text, HParams* hp) { return parse_hf_config(text, "config.json", hp); }

TEST(GptOssConfig, DefaultsAreGptOssConfigs) {
  HParams hp;
  ASSERT_TRUE(parse(R"({"architectures": ["GptOssForCausalLM"]})", &hp).ok());
  EXPECT_EQ(hp.arch, "gpt-oss");
  EXPECT_EQ(hp.n_layers, 36u);
  EXPECT_EQ(hp.hidden, 2880u);
  EXPECT_EQ(hp.n_heads, 64u);
  EXPECT_EQ(hp.n_kv_heads, 8u);
  EXPECT_EQ(hp.head_dim, 64u);
  EXPECT_EQ(hp.vocab, 201088u);
  EXPECT_EQ(hp.ctx, 131072u);
  EXPECT_EQ(hp.n_experts, 128u);
  EXPECT_EQ(hp.n_experts_used, 4u);
  EXPECT_EQ(hp.moe_ffn, 2880u);
  EXPECT_EQ(hp.gating, "topk_softmax");
  EXPECT_EQ(hp.expert_act, "swiglu_oss");
  EXPECT_EQ(hp.swiglu_alpha, 1.702f);
  EXPECT_EQ(hp.swiglu_limit, 7.0f);
  EXPECT_TRUE(hp.qkv_bias && hp.attn_out_bias && hp.attn_sinks && hp.router_bias);
  EXPECT_EQ(hp.rms_eps, 1e-5f);
  EXPECT_EQ(hp.sliding_window, 128u);
  ASSERT_EQ(hp.swa_layers.size(), 36u);
  for (size_t i = 0; i < 36; ++i) EXPECT_EQ(hp.swa_layers[i], i % 2 == 0) << i;  // layer 0 slides
  EXPECT_EQ(hp.rope_type, "yarn");
  EXPECT_EQ(hp.rope_theta, 150000.0f);
  EXPECT_EQ(hp.rope_factor, 32.0f);
  EXPECT_EQ(hp.rope_orig_ctx, 4096u);
  EXPECT_EQ(hp.rope_beta_fast, 32.0f);
  EXPECT_EQ(hp.rope_beta_slow, 1.0f);
  EXPECT_FALSE(hp.rope_truncate);
  EXPECT_EQ(hp.rope_attn_factor, float(0.1 * std::log(32.0) + 1.0));
  EXPECT_TRUE(hp.unread_keys.empty());
}

// openai/gpt-oss-20b's config.json keys and values (transformers 4.55 wrote it).
const char* kPublished20b = R"({
  "architectures": ["GptOssForCausalLM"], "attention_bias": true, "attention_dropout": 0.0,
  "eos_token_id": 200002, "experts_per_token": 4, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2880,
  "initial_context_length": 4096, "initializer_range": 0.02, "intermediate_size": 2880,
  "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention",
                  "sliding_attention", "full_attention", "sliding_attention", "full_attention",
                  "sliding_attention", "full_attention", "sliding_attention", "full_attention",
                  "sliding_attention", "full_attention", "sliding_attention", "full_attention",
                  "sliding_attention", "full_attention", "sliding_attention", "full_attention",
                  "sliding_attention", "full_attention", "sliding_attention", "full_attention"],
  "max_position_embeddings": 131072, "model_type": "gpt_oss", "num_attention_heads": 64,
  "num_experts_per_tok": 4, "num_hidden_layers": 24, "num_key_value_heads": 8, "num_local_experts": 32,
  "output_router_logits": false, "pad_token_id": 199999,
  "quantization_config": {"modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router",
                                                     "model.embed_tokens", "lm_head"], "quant_method": "mxfp4"},
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0, "original_max_position_embeddings": 4096,
                   "rope_type": "yarn", "truncate": false},
  "rope_theta": 150000, "router_aux_loss_coef": 0.9, "sliding_window": 128, "swiglu_limit": 7.0,
  "tie_word_embeddings": false, "transformers_version": "4.55.0.dev0", "use_cache": true, "vocab_size": 201088})";

TEST(GptOssConfig, PublishedConfigConverts) {
  HParams hp;
  ggf8::Status s = parse(kPublished20b, &hp);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(hp.n_layers, 24u);
  EXPECT_EQ(hp.n_experts, 32u);
  EXPECT_EQ(hp.quant.method, "mxfp4");
  EXPECT_EQ(hp.eos_ids, std::vector<int64_t>{200002});
  EXPECT_EQ(hp.rope_type, "yarn");
  EXPECT_EQ(hp.sliding_window, 128u);
  // The release's own keys no transformers code reads: accepted and listed.
  EXPECT_EQ(hp.unread_keys, (std::vector<std::string>{"experts_per_token", "initial_context_length"}));
}

TEST(GptOssConfig, VariantsAndRefusals) {
  json j = json::parse(kPublished20b);
  HParams hp;
  // transformers 5's form: rope_parameters carrying theta, dtype, swiglu_alpha
  json t5 = j;
  t5.erase("rope_scaling");
  t5.erase("rope_theta");
  t5["rope_parameters"] = j["rope_scaling"];
  t5["rope_parameters"]["rope_theta"] = 150000.0;
  t5["swiglu_alpha"] = 1.5;
  t5["swiglu_limit"] = 5.0;
  t5["dtype"] = "bfloat16";
  ASSERT_TRUE(parse(t5.dump(), &hp).ok());
  EXPECT_EQ(hp.rope_theta, 150000.0f);
  EXPECT_EQ(hp.swiglu_alpha, 1.5f);
  EXPECT_EQ(hp.swiglu_limit, 5.0f);
  // No window at all (null), no biases, the transformers 4 expert-count name.
  json v = j;
  v["sliding_window"] = nullptr;
  v["attention_bias"] = false;
  v.erase("num_local_experts");
  v["num_experts"] = 16;
  ASSERT_TRUE(parse(v.dump(), &hp).ok());
  EXPECT_EQ(hp.sliding_window, 0u);
  EXPECT_TRUE(hp.swa_layers.empty());
  EXPECT_FALSE(hp.qkv_bias || hp.attn_out_bias);
  EXPECT_TRUE(hp.attn_sinks);
  EXPECT_EQ(hp.n_experts, 16u);
  // A default-RoPE statement wins over the class's YaRN, as in transformers.
  json d = j;
  d["rope_scaling"] = {{"rope_type", "default"}};
  ASSERT_TRUE(parse(d.dump(), &hp).ok());
  EXPECT_EQ(hp.rope_type, "none");
  // Refused: more experts per token than experts, mxfp4 on another architecture,
  // YaRN without its factor, a NaN-free but non-boolean truncate.
  json r = j;
  r["num_experts_per_tok"] = 40;
  EXPECT_NE(parse(r.dump(), &hp).message.find("num_experts_per_tok"), std::string::npos);
  r = json::parse(R"({"architectures": ["LlamaForCausalLM"], "quantization_config": {"quant_method": "mxfp4"}})");
  EXPECT_NE(parse(r.dump(), &hp).message.find("GptOssForCausalLM's experts only"), std::string::npos);
  r = j;
  r["rope_scaling"].erase("factor");
  EXPECT_NE(parse(r.dump(), &hp).message.find("needs factor"), std::string::npos);
  r = j;
  r["rope_scaling"]["truncate"] = "no";
  EXPECT_NE(parse(r.dump(), &hp).message.find("truncate"), std::string::npos);
}

// ---- YaRN against transformers -------------------------------------------------------

TEST(GptOssConfig, YarnMatchesTransformers) {
  std::ifstream f(fs::path(F8_SOURCE_DIR) / "tests" / "goldens" / "rope" / "yarn.json");
  ASSERT_TRUE(f.good());
  const json g = json::parse(f);
  int n_cases = 0, n_exact = 0, n_vals = 0;
  for (const json& c : g["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    HParams hp;
    ggf8::Status s = parse(c["config"].dump(), &hp);
    ASSERT_TRUE(s.ok()) << s.message;
    ASSERT_EQ(hp.rope_type, "yarn");
    EXPECT_EQ(hp.rope_attn_factor, float(c["attention_factor"].get<double>()));
    // What the runtime makes of the file's values (src/model/context.cpp).
    f8backend::RopeParams p;
    p.head_dim = p.n_rot = int32_t(hp.head_dim);
    p.freq_base = hp.rope_theta;
    p.scaling = f8backend::RopeScaling::Yarn;
    p.factor = hp.rope_factor;
    p.orig_ctx = int32_t(hp.rope_orig_ctx);
    p.beta_fast = hp.rope_beta_fast;
    p.beta_slow = hp.rope_beta_slow;
    p.truncate = hp.rope_truncate;
    p.attn_factor = hp.rope_attn_factor;
    const std::vector<float> inv = f8backend::cpu::rope_inv_freq(p);
    ASSERT_EQ(inv.size(), c["inv_freq"].size());
    for (size_t i = 0; i < inv.size(); ++i) {
      const float want = std::stof(c["inv_freq"][i].get<std::string>());
      // transformers' float32 pow (SLEEF, <= 1 ulp) vs glibc's powf: the
      // same bits or a neighbour.
      const int64_t ulps = std::llabs(int64_t(bits(inv[i])) - int64_t(bits(want)));
      EXPECT_LE(ulps, 1) << "inv_freq[" << i << "] = " << inv[i] << ", transformers " << want;
      n_exact += ulps == 0;
      ++n_vals;
    }
    ++n_cases;
  }
  EXPECT_EQ(n_cases, 6);
  std::printf("YaRN inv_freq: %d of %d values bit-identical to transformers, the rest within 1 ulp\n", n_exact,
              n_vals);
}

// YaRN on Phi-3: transformers 5 takes the top-level original_max_position_embeddings
// over the RoPE object's, transformers 4 does not: refused when they differ.
TEST(GptOssConfig, YarnOriginalContextContradictionOnPhi3) {
  json c = {{"architectures", {"Phi3ForCausalLM"}}, {"hidden_size", 64}, {"num_attention_heads", 4},
            {"max_position_embeddings", 16384}, {"original_max_position_embeddings", 4096},
            {"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 4096}}}};
  HParams hp;
  ggf8::Status s = parse(c.dump(), &hp);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(hp.rope_orig_ctx, 4096u);
  c["original_max_position_embeddings"] = 2048;
  s = parse(c.dump(), &hp);
  EXPECT_NE(s.message.find("transformers 5 uses this top-level value"), std::string::npos) << s.message;
}

// ---- conversion ------------------------------------------------------------------------

// A tiny gpt-oss checkpoint: 2 layers, 4 experts of width 32 on hidden 64.
struct TinyOss {
  static constexpr uint64_t H = 64, NH = 2, NKV = 1, HD = 32, L = 2, E = 4, F = 32, V = 300;
  bool mxfp4 = true;
  std::mt19937 rng{7};
  // MXFP4 sources per layer: gate_up [E, 2F, H/32, 16] + scales, down [E, H, F/32, 16] + scales.
  std::vector<std::vector<uint8_t>> gu_blocks, gu_scales, dn_blocks, dn_scales;

  std::string config() const {
    json c = json::parse(kPublished20b);
    c["hidden_size"] = H;
    c["num_attention_heads"] = NH;
    c["num_key_value_heads"] = NKV;
    c["head_dim"] = HD;
    c["num_hidden_layers"] = L;
    c["layer_types"] = {"sliding_attention", "full_attention"};
    c["num_local_experts"] = E;
    c["num_experts_per_tok"] = 2;
    c["intermediate_size"] = F;
    c["vocab_size"] = V;
    c["eos_token_id"] = 2;
    if (!mxfp4) c.erase("quantization_config");
    return c.dump();
  }
  void make_sources() {
    std::uniform_int_distribution<int> byte(0, 255), ex(120, 127);
    auto fill = [&](size_t n, bool scale) {
      std::vector<uint8_t> v(n);
      for (auto& x : v) x = uint8_t(scale ? ex(rng) : byte(rng));
      return v;
    };
    for (uint64_t l = 0; l < L; ++l) {
      gu_blocks.push_back(fill(E * 2 * F * H / 2, false));
      gu_scales.push_back(fill(E * 2 * F * H / 32, true));
      dn_blocks.push_back(fill(E * H * F / 2, false));
      dn_scales.push_back(fill(E * H * F / 32, true));
    }
  }
  // MXFP4 value of element (e, r, c) of a [E, R, C] source.
  static float value(const std::vector<uint8_t>& b, const std::vector<uint8_t>& s, uint64_t R, uint64_t C,
                     uint64_t e, uint64_t r, uint64_t c) {
    const uint64_t row = e * R + r;
    const uint8_t byte = b[row * C / 2 + c / 2];
    const uint8_t nib = (c % 2) ? byte >> 4 : byte & 0xF;
    return std::ldexp(kFp4[nib], int(s[row * C / 32 + c / 32]) - 127);
  }
  std::vector<StEntry> entries() {
    if (gu_blocks.empty()) make_sources();
    std::vector<StEntry> es;
    uint32_t seed = 100;
    auto bf = [&](const std::string& n, std::vector<uint64_t> shape, float std = 0.02f) {
      uint64_t k = 1;
      for (auto d : shape) k *= d;
      es.push_back(make_tensor(n, "BF16", shape, random_values(k, seed++, std)));
    };
    bf("model.embed_tokens.weight", {V, H});
    for (uint64_t l = 0; l < L; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      bf(p + "input_layernorm.weight", {H});
      bf(p + "post_attention_layernorm.weight", {H});
      bf(p + "self_attn.q_proj.weight", {NH * HD, H});
      bf(p + "self_attn.q_proj.bias", {NH * HD});
      bf(p + "self_attn.k_proj.weight", {NKV * HD, H});
      bf(p + "self_attn.k_proj.bias", {NKV * HD});
      bf(p + "self_attn.v_proj.weight", {NKV * HD, H});
      bf(p + "self_attn.v_proj.bias", {NKV * HD});
      bf(p + "self_attn.o_proj.weight", {H, NH * HD});
      bf(p + "self_attn.o_proj.bias", {H});
      bf(p + "self_attn.sinks", {NH}, 1.0f);
      bf(p + "mlp.router.weight", {E, H}, 0.5f);
      bf(p + "mlp.router.bias", {E}, 0.3f);
      bf(p + "mlp.experts.gate_up_proj_bias", {E, 2 * F}, 0.3f);
      bf(p + "mlp.experts.down_proj_bias", {E, H}, 0.1f);
      const std::string x = p + "mlp.experts.";
      if (mxfp4) {
        es.push_back({x + "gate_up_proj_blocks", "U8", {E, 2 * F, H / 32, 16}, gu_blocks[l]});
        es.push_back({x + "gate_up_proj_scales", "U8", {E, 2 * F, H / 32}, gu_scales[l]});
        es.push_back({x + "down_proj_blocks", "U8", {E, H, F / 32, 16}, dn_blocks[l]});
        es.push_back({x + "down_proj_scales", "U8", {E, H, F / 32}, dn_scales[l]});
      } else {  // dequantized, [E, in, out] as transformers holds it
        std::vector<float> gu(E * H * 2 * F), dn(E * F * H);
        for (uint64_t e = 0; e < E; ++e)
          for (uint64_t o = 0; o < 2 * F; ++o)
            for (uint64_t i = 0; i < H; ++i)
              gu[(e * H + i) * 2 * F + o] = value(gu_blocks[l], gu_scales[l], 2 * F, H, e, o, i);
        for (uint64_t e = 0; e < E; ++e)
          for (uint64_t o = 0; o < H; ++o)
            for (uint64_t i = 0; i < F; ++i) dn[(e * F + i) * H + o] = value(dn_blocks[l], dn_scales[l], H, F, e, o, i);
        es.push_back(make_tensor(x + "gate_up_proj", "BF16", {E, H, 2 * F}, gu));
        es.push_back(make_tensor(x + "down_proj", "BF16", {E, F, H}, dn));
      }
    }
    bf("model.norm.weight", {H});
    bf("lm_head.weight", {V, H});
    return es;
  }
  void write(const std::string& dir, const std::vector<StEntry>& es) const {
    write_file(dir + "/config.json", config());
    write_file(dir + "/model.safetensors", st_image(es));
  }
  void write(const std::string& dir) { write(dir, entries()); }
};

class GptOssConvert : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() /
           ("f8oss_" + std::to_string(getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    dir = root + "/model";
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(root); }
  ggf8::Status convert(const std::string& out, ConvertOptions o = {}) {
    o.model_dir = dir;
    o.output = out;
    o.threads = 2;
    return convert_checkpoint(o, &rep);
  }
  std::string root, dir;
  ConvertReport rep;
};

// Element [e, r, c] of a stored stack, dequantized with its scale.
float stored(const ggf8::File& f, const ggf8::TensorInfo& t, uint64_t e, uint64_t r, uint64_t c) {
  const uint64_t R = t.dims[1], C = t.dims[2], k = (e * R + r) * C + c;
  const uint8_t* p = f.data(t);
  float x = 0, s = 1;
  if (t.dtype == ggf8::DType::E4M3) x = ggf8::e4m3_to_f32(p[k]);
  if (t.dtype == ggf8::DType::BF16) {
    uint16_t h;
    std::memcpy(&h, p + 2 * k, 2);
    x = bf16_bits_to_f32(h);
  }
  if (t.scale_kind == ggf8::ScaleKind::Block) {
    const float* sc = reinterpret_cast<const float*>(f.data(*f.tensor(t.scale_name)));
    const uint64_t nbc = (C + t.block_cols - 1) / t.block_cols, nbr = (R + t.block_rows - 1) / t.block_rows;
    s = sc[(e * nbr + r / t.block_rows) * nbc + c / t.block_cols];
  }
  return x * s;
}

TEST_F(GptOssConvert, Mxfp4AndDenseLayoutsGiveTheSameStacks) {
  TinyOss m;
  m.write(dir);
  const std::string a = root + "/mxfp4.f8", b = root + "/dense.f8";
  ggf8::Status s = convert(a);  // default options: MXFP4 is imported whatever --weights says
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(rep.n_imported_mxfp4, TinyOss::L * 3);  // gate, up, down per layer
  EXPECT_EQ(rep.n_imported_fp8, 0u);
  m.mxfp4 = false;
  m.write(dir);
  ConvertOptions keep;
  keep.weights = WeightFormat::BF16;
  s = convert(b, keep);
  ASSERT_TRUE(s.ok()) << s.message;
  std::unique_ptr<ggf8::File> fa, fb;
  ASSERT_TRUE(ggf8::File::open(a, &fa).ok());
  ASSERT_TRUE(ggf8::File::open(b, &fb).ok());
  std::string arch;
  ASSERT_TRUE(fa->get_str(ggf8::keys::kArchitecture, &arch).ok());
  EXPECT_EQ(arch, "gpt-oss");
  std::string v;
  ASSERT_TRUE(fa->get_str(ggf8::keys::kExpertGating, &v).ok());
  EXPECT_EQ(v, "topk_softmax");
  ASSERT_TRUE(fa->get_str(ggf8::keys::kExpertActivation, &v).ok());
  EXPECT_EQ(v, "swiglu_oss");
  ASSERT_TRUE(fa->get_str(ggf8::keys::kRopeScalingType, &v).ok());
  EXPECT_EQ(v, "yarn");
  ASSERT_TRUE(fa->get_str(ggf8::keys::kQuantSource, &v).ok());
  EXPECT_EQ(v, "prequantized");
  bool flag = false;
  ASSERT_TRUE(fa->get_bool(ggf8::keys::kAttnSinks, &flag).ok());
  EXPECT_TRUE(flag);
  ASSERT_TRUE(fa->get_bool(ggf8::keys::kAttnOutputBias, &flag).ok());
  EXPECT_TRUE(flag);
  const uint64_t E = TinyOss::E, F = TinyOss::F, H = TinyOss::H;
  for (uint64_t l = 0; l < TinyOss::L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    struct Want {
      const char* name;
      uint64_t rows, cols;
      int part;  // 0 gate (even rows of gate_up), 1 up (odd), -1 down
    };
    for (const Want& w : {Want{"ffn_gate_exps.weight", F, H, 0}, Want{"ffn_up_exps.weight", F, H, 1},
                          Want{"ffn_down_exps.weight", H, F, -1}}) {
      SCOPED_TRACE(p + w.name);
      const ggf8::TensorInfo* ta = fa->tensor(p + w.name);
      const ggf8::TensorInfo* tb = fb->tensor(p + w.name);
      ASSERT_TRUE(ta && tb);
      EXPECT_EQ(ta->dims, (std::vector<uint64_t>{E, w.rows, w.cols}));
      EXPECT_EQ(ta->dtype, ggf8::DType::E4M3);
      EXPECT_EQ(ta->scale_kind, ggf8::ScaleKind::Block);
      EXPECT_EQ(ta->block_rows, 1u);
      EXPECT_EQ(ta->block_cols, 32u);
      EXPECT_EQ(tb->dtype, ggf8::DType::BF16);
      for (uint64_t e = 0; e < E; ++e)
        for (uint64_t r = 0; r < w.rows; ++r)
          for (uint64_t c = 0; c < w.cols; ++c) {
            const float want = w.part < 0 ? TinyOss::value(m.dn_blocks[l], m.dn_scales[l], H, F, e, r, c)
                                          : TinyOss::value(m.gu_blocks[l], m.gu_scales[l], 2 * F, H, e,
                                                           2 * r + uint64_t(w.part), c);
            ASSERT_EQ(bits(stored(*fa, *ta, e, r, c)), bits(want)) << e << " " << r << " " << c;
            ASSERT_EQ(bits(stored(*fb, *tb, e, r, c)), bits(want)) << e << " " << r << " " << c;
          }
    }
    // Biases de-interleaved as F32; sinks, o_proj and router biases kept.
    for (const char* n : {"ffn_gate_exps.bias", "ffn_up_exps.bias", "ffn_down_exps.bias", "attn_sinks.weight",
                          "attn_output.bias", "ffn_gate_inp.bias"}) {
      const ggf8::TensorInfo* t = fa->tensor(p + n);
      ASSERT_TRUE(t) << p + n;
      EXPECT_EQ(t->dtype, ggf8::DType::F32) << n;
    }
    EXPECT_EQ(fa->tensor(p + "ffn_gate_exps.bias")->dims, (std::vector<uint64_t>{E, F}));
    EXPECT_EQ(fa->tensor(p + "attn_sinks.weight")->dims, (std::vector<uint64_t>{TinyOss::NH}));
  }
}

TEST_F(GptOssConvert, MalformedExpertsRefusedByName) {
  TinyOss m;
  auto expect = [&](const std::vector<StEntry>& es, const std::string& needle) {
    m.write(dir, es);
    ggf8::Status s = convert(root + "/out.f8");
    ASSERT_FALSE(s.ok()) << needle;
    EXPECT_NE(s.message.find(needle), std::string::npos) << s.message;
    EXPECT_EQ(s.message.find('\n'), std::string::npos) << s.message;
    EXPECT_FALSE(fs::exists(root + "/out.f8"));
  };
  auto find = [](std::vector<StEntry>& es, const std::string& name) -> StEntry& {
    for (auto& e : es)
      if (e.name == name) return e;
    ADD_FAILURE() << name;
    return es[0];
  };
  const std::string x1 = "model.layers.1.mlp.experts.";
  {  // an E8M0 NaN scale
    auto es = m.entries();
    find(es, x1 + "gate_up_proj_scales").bytes[5] = 255;
    expect(es, "E8M0 scale 255 (NaN) at expert 0, row 2, block 1");
  }
  {  // blocks without their scales
    auto es = m.entries();
    es.erase(std::find_if(es.begin(), es.end(), [&](const StEntry& e) { return e.name == x1 + "down_proj_scales"; }));
    expect(es, "\"" + x1 + "down_proj_scales\" is missing");
  }
  {  // both layouts for one projection
    auto es = m.entries();
    es.push_back(make_tensor(x1 + "gate_up_proj", "BF16", {TinyOss::E, TinyOss::H, 2 * TinyOss::F},
                             std::vector<float>(TinyOss::E * TinyOss::H * 2 * TinyOss::F, 0.0f)));
    expect(es, "one layout per projection");
  }
  {  // a shape config.json does not imply (blocks for 16-wide groups)
    auto es = m.entries();
    find(es, x1 + "down_proj_blocks").shape = {TinyOss::E, TinyOss::H, TinyOss::F / 16, 8};
    expect(es, "config.json implies [4, 64, 1, 16]");
  }
  {  // no experts at all for a layer
    auto es = m.entries();
    es.erase(std::remove_if(es.begin(), es.end(),
                            [&](const StEntry& e) { return e.name.rfind(x1 + "gate_up_proj_", 0) == 0 &&
                                                           e.name != x1 + "gate_up_proj_bias"; }),
             es.end());
    expect(es, "missing tensor \"" + x1 + "gate_up_proj_blocks\"");
  }
  {  // a sink per head is part of the model
    auto es = m.entries();
    es.erase(std::find_if(es.begin(), es.end(),
                          [&](const StEntry& e) { return e.name == "model.layers.0.self_attn.sinks"; }));
    expect(es, "model.layers.0.self_attn.sinks");
  }
  // and the well-formed checkpoint converts
  m.write(dir);
  ggf8::Status s = convert(root + "/out.f8");
  EXPECT_TRUE(s.ok()) << s.message;
}

}  // namespace
