// test_deepseek.cpp — DeepseekV3ForCausalLM in the converter:
//   - the config schema on DeepSeek-V3's published config.json and the forms
//     transformers 4 / 5 write: MLA dims, the softmax scale with YaRN's
//     mscale_all_dim, the router's groups and scale, dense layers, the MTP
//     note, DeepseekV3Config's defaults, and every refusal naming its key;
//   - the tensor names (MLA, router score bias, shared experts, MTP skipped);
//   - rope_interleave: rotate_half RoPE on the converter's row order equals
//     transformers' apply_rotary_pos_emb_interleave on the original rows, bit
//     for bit;
//   - end to end on a tiny block-FP8 checkpoint: every FP8 tensor imported
//     byte for byte (the RoPE rows only moved, whole), scales unchanged, the
//     MTP layer not converted; RoPE rows that would leave their scale block
//     refused naming the tensor.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "convert/arch.h"
#include "convert/converter.h"
#include "convert/hf_config.h"
#include "ggf8/fp8.h"
#include "ggf8/keys.h"
#include "st_builder.h"

using namespace f8conv;
using namespace f8test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json published(const std::string& entry) {
  std::ifstream f(std::string(F8_SOURCE_DIR) + "/tests/goldens/configs/" + entry + "/config.json");
  return json::parse(f);
}

ggf8::Status parse(const json& j, HParams* hp) { return parse_hf_config(j.dump(), "config.json", hp); }

bool has_note(const HParams& hp, const std::string& words) {
  for (const auto& n : hp.notes)
    if (n.find(words) != std::string::npos) return true;
  return false;
}

double mscale(double f, double m) { return f <= 1 ? 1.0 : 0.1 * m * std::log(f) + 1.0; }

}  // namespace

TEST(DeepseekConfig, PublishedV3) {
  HParams hp;
  ggf8::Status s = parse(published("published/deepseek-ai--DeepSeek-V3"), &hp);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(hp.arch, "deepseek3");
  EXPECT_TRUE(hp.mla);
  EXPECT_EQ(hp.q_lora, 1536u);
  EXPECT_EQ(hp.kv_lora, 512u);
  EXPECT_EQ(hp.qk_nope, 128u);
  EXPECT_EQ(hp.qk_rope, 64u);
  EXPECT_EQ(hp.v_head, 128u);
  EXPECT_EQ(hp.head_dim, 192u);
  EXPECT_TRUE(hp.rope_interleave);  // DeepseekV3Config's default
  EXPECT_EQ(hp.rope_type, "yarn");
  EXPECT_EQ(hp.rope_factor, 40.0f);
  EXPECT_EQ(hp.rope_attn_factor, 1.0f);  // mscale / mscale_all_dim = 1 / 1
  // transformers: qk_head_dim ** -0.5 * mscale(40, 1)^2 (yarn_apply_mscale), in doubles
  EXPECT_EQ(hp.attn_scale, float(1.0 / std::sqrt(192.0) * mscale(40, 1) * mscale(40, 1)));
  EXPECT_EQ(hp.n_experts, 256u);
  EXPECT_EQ(hp.n_experts_used, 8u);
  EXPECT_EQ(hp.moe_ffn, 2048u);
  EXPECT_EQ(hp.shexp_ffn, 2048u);
  EXPECT_EQ(hp.gating, "sigmoid_group_topk");
  EXPECT_EQ(hp.n_group, 8u);
  EXPECT_EQ(hp.topk_group, 4u);
  EXPECT_TRUE(hp.norm_topk);
  EXPECT_EQ(hp.routed_scale, 2.5f);
  ASSERT_EQ(hp.moe_layers.size(), 61u);
  for (uint64_t l = 0; l < 61; ++l) EXPECT_EQ(hp.moe_layers[l], l >= 3 ? 1 : 0) << l;
  EXPECT_EQ(hp.mtp_layers, 1u);
  EXPECT_TRUE(has_note(hp, "model.layers.61.*"));
  EXPECT_EQ(hp.quant.method, "fp8");
  EXPECT_EQ(hp.quant.block_rows, 128u);
  EXPECT_EQ(hp.unread_keys, (std::vector<std::string>{"ep_size", "moe_layer_freq"}));
}

TEST(DeepseekConfig, R1V31AndTheTransformers5Form) {
  for (const char* e : {"published/deepseek-ai--DeepSeek-R1", "published/deepseek-ai--DeepSeek-V3.1",
                        "saved-tf5/tf5-deepseek-v3"}) {
    HParams hp;
    ggf8::Status s = parse(published(e), &hp);
    ASSERT_TRUE(s.ok()) << e << ": " << s.message;
    EXPECT_EQ(hp.head_dim, 192u) << e;
    EXPECT_EQ(hp.attn_scale, float(1.0 / std::sqrt(192.0) * mscale(40, 1) * mscale(40, 1))) << e;
    // tf5 writes the derived head_dim (64) and qk_head_dim (192): consistent, so no note
    EXPECT_FALSE(has_note(hp, "recomputes")) << e;
  }
}

TEST(DeepseekConfig, DefaultsNullsAndNotes) {
  json j = {{"architectures", {"DeepseekV3ForCausalLM"}}, {"model_type", "deepseek_v3"}};
  HParams hp;
  ASSERT_TRUE(parse(j, &hp).ok());  // every value from DeepseekV3Config
  EXPECT_EQ(hp.hidden, 7168u);
  EXPECT_EQ(hp.n_layers, 61u);
  EXPECT_EQ(hp.q_lora, 1536u);
  EXPECT_EQ(hp.rope_type, "none");
  EXPECT_EQ(hp.attn_scale, float(1.0 / std::sqrt(192.0)));  // no YaRN: no mscale
  EXPECT_EQ(hp.mtp_layers, 1u);
  j["q_lora_rank"] = nullptr;        // V2-Lite style: q_proj
  j["rope_interleave"] = nullptr;    // None is falsy in transformers' `if`
  j["head_dim"] = 128;               // transformers overwrites it with qk_rope_head_dim
  j["topk_method"] = "greedy";       // DeepseekV3TopkRouter reads neither of these
  j["scoring_func"] = "softmax";
  j["num_nextn_predict_layers"] = 0;
  j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 8.0},
                          {"original_max_position_embeddings", 4096}, {"mscale", 0.707}, {"mscale_all_dim", 0.707}};
  ASSERT_TRUE(parse(j, &hp).ok());
  EXPECT_EQ(hp.q_lora, 0u);
  EXPECT_FALSE(hp.rope_interleave);
  EXPECT_EQ(hp.head_dim, 192u);
  EXPECT_TRUE(has_note(hp, "\"head_dim\" = 128") || has_note(hp, "head_dim = 128")) << hp.notes.size();
  EXPECT_TRUE(has_note(hp, "topk_method"));
  EXPECT_TRUE(has_note(hp, "scoring_func"));
  EXPECT_EQ(hp.mtp_layers, 0u);
  EXPECT_EQ(hp.rope_attn_factor, float(mscale(8, 0.707) / mscale(8, 0.707)));
  EXPECT_EQ(hp.attn_scale, float(1.0 / std::sqrt(192.0) * mscale(8, 0.707) * mscale(8, 0.707)));
}

TEST(DeepseekConfig, RefusalsNameTheKey) {
  const json base = published("published/deepseek-ai--DeepSeek-V3");
  struct Case {
    const char* key;
    json value;
    const char* words;
  };
  for (const Case& c : {Case{"attention_bias", true, "attention_bias"},
                        Case{"num_key_value_heads", 16, "num_key_value_heads"},
                        Case{"n_group", 7, "n_group"},
                        Case{"n_group", 256, "n_group"},
                        Case{"topk_group", 9, "topk_group"},
                        Case{"num_experts_per_tok", 40, "num_experts_per_tok"},
                        Case{"qk_rope_head_dim", 63, "qk_rope_head_dim"},
                        Case{"hidden_act", "gelu", "hidden_act"}}) {
    json j = base;
    j[c.key] = c.value;
    if (std::string(c.key) == "num_experts_per_tok") j["topk_group"] = 1;
    HParams hp;
    ggf8::Status s = parse(j, &hp);
    ASSERT_FALSE(s.ok()) << c.key;
    EXPECT_NE(s.message.find(c.words), std::string::npos) << s.message;
  }
}

TEST(DeepseekNames, MapAsPublished) {
  HParams hp;
  ASSERT_TRUE(parse(published("published/deepseek-ai--DeepSeek-V3"), &hp).ok());
  MappedName m;
  struct Case {
    const char* hf;
    const char* canonical;
    Role role;
  };
  for (const Case& c : {
           Case{"model.layers.0.self_attn.q_a_proj.weight", "blk.0.attn_q_a.weight", Role::Linear},
           Case{"model.layers.0.self_attn.q_a_proj.weight_scale_inv", "blk.0.attn_q_a.weight.scale", Role::WeightScaleInv},
           Case{"model.layers.0.self_attn.q_a_layernorm.weight", "blk.0.attn_q_a_norm.weight", Role::Norm},
           Case{"model.layers.0.self_attn.q_b_proj.weight", "blk.0.attn_q_b.weight", Role::Linear},
           Case{"model.layers.5.self_attn.kv_a_proj_with_mqa.weight", "blk.5.attn_kv_a_mqa.weight", Role::Linear},
           Case{"model.layers.5.self_attn.kv_a_layernorm.weight", "blk.5.attn_kv_a_norm.weight", Role::Norm},
           Case{"model.layers.5.self_attn.kv_b_proj.weight", "blk.5.attn_kv_b.weight", Role::Linear},
           Case{"model.layers.5.self_attn.o_proj.weight", "blk.5.attn_output.weight", Role::Linear},
           Case{"model.layers.2.mlp.gate_proj.weight", "blk.2.ffn_gate.weight", Role::Linear},
           Case{"model.layers.3.mlp.gate.weight", "blk.3.ffn_gate_inp.weight", Role::Linear},
           Case{"model.layers.3.mlp.gate.e_score_correction_bias", "blk.3.ffn_gate_inp.score_bias", Role::Bias},
           Case{"model.layers.3.mlp.experts.255.down_proj.weight", "blk.3.ffn_down_exps.weight", Role::Linear},
           Case{"model.layers.3.mlp.shared_experts.up_proj.weight", "blk.3.ffn_up_shexp.weight", Role::Linear},
           Case{"model.layers.60.post_attention_layernorm.weight", "blk.60.ffn_norm.weight", Role::Norm},
       }) {
    ASSERT_TRUE(map_hf_name(hp, c.hf, &m)) << c.hf;
    EXPECT_EQ(m.canonical, c.canonical) << c.hf;
    EXPECT_EQ(m.role, c.role) << c.hf;
  }
  // The MTP layer (61) is skipped whole; 62 is not a layer; MLA has no k/v_proj.
  for (const char* n : {"model.layers.61.eh_proj.weight", "model.layers.61.shared_head.head.weight",
                        "model.layers.61.mlp.experts.7.up_proj.weight_scale_inv"}) {
    ASSERT_TRUE(map_hf_name(hp, n, &m)) << n;
    EXPECT_EQ(m.role, Role::Ignore) << n;
  }
  EXPECT_FALSE(map_hf_name(hp, "model.layers.62.input_layernorm.weight", &m));
  EXPECT_FALSE(map_hf_name(hp, "model.layers.0.self_attn.k_proj.weight", &m));
  EXPECT_FALSE(map_hf_name(hp, "model.layers.0.self_attn.q_proj.weight", &m));  // q_lora_rank is set
  EXPECT_FALSE(map_hf_name(hp, "model.layers.0.mlp.experts.256.up_proj.weight", &m));
  EXPECT_EQ(hf_name_for("blk.4.attn_kv_b.weight"), "model.layers.4.self_attn.kv_b_proj.weight");
  EXPECT_EQ(hf_name_for("blk.4.ffn_gate_inp.score_bias"), "model.layers.4.mlp.gate.e_score_correction_bias");
  EXPECT_EQ(expected_shape(hp, "blk.4.attn_kv_b.weight"), (std::vector<uint64_t>{128 * 256, 512}));
  EXPECT_EQ(expected_shape(hp, "blk.4.attn_kv_a_mqa.weight"), (std::vector<uint64_t>{576, 7168}));
  EXPECT_TRUE(is_linear_weight("blk.4.attn_kv_b.weight"));
  EXPECT_FALSE(is_linear_weight("blk.4.ffn_gate_inp.weight"));  // the router stays BF16
}

// The converter's row order + rotate_half (f8's RoPE) == transformers'
// apply_rotary_pos_emb_interleave on the checkpoint's rows, bit for bit.
TEST(DeepseekRope, DeinterleavedRowsGiveTransformersInterleavedRope) {
  HParams hp;
  ASSERT_TRUE(parse(published("published/deepseek-ai--DeepSeek-V3"), &hp).ok());
  const uint64_t P = hp.qk_rope, D = hp.qk_nope + P;
  const std::vector<uint64_t> q = mla_rope_rows(hp, "blk.7.attn_q_b.weight");
  const std::vector<uint64_t> kv = mla_rope_rows(hp, "blk.7.attn_kv_a_mqa.weight");
  ASSERT_EQ(q.size(), hp.n_heads * D);
  ASSERT_EQ(kv.size(), hp.kv_lora + P);
  EXPECT_TRUE(mla_rope_rows(hp, "blk.7.attn_kv_b.weight").empty());
  EXPECT_TRUE(mla_rope_rows(hp, "blk.7.attn_output.weight").empty());
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  for (const auto* order : {&q, &kv}) {
    const uint64_t n = order->size(), head = order == &q ? D : hp.kv_lora + P, first = head - P;
    std::vector<float> x(n);
    for (auto& v : x) v = nd(rng);
    std::vector<float> y(n);  // the rows as f8 stores them
    for (uint64_t i = 0; i < n; ++i) y[i] = x[(*order)[i]];
    for (uint64_t i = 0; i < n; ++i)
      if (i % head < first) EXPECT_EQ((*order)[i], i) << "a non-RoPE row moved";
    const float angle[] = {0.0f, 0.37f, 2.9f};
    for (float a0 : angle)
      for (uint64_t h = 0; h < n / head; ++h) {
        const float* xs = x.data() + h * head + first;  // interleaved pairs (2i, 2i+1)
        const float* ys = y.data() + h * head + first;  // rotate_half pairs (i, i + P/2)
        for (uint64_t i = 0; i < P / 2; ++i) {
          const float c = std::cos(a0 * float(i + 1)), s = std::sin(a0 * float(i + 1));
          // transformers: cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin]) with x1 = evens, x2 = odds
          const float t0 = xs[2 * i] * c - xs[2 * i + 1] * s, t1 = xs[2 * i + 1] * c + xs[2 * i] * s;
          const float f0 = ys[i] * c - ys[i + P / 2] * s, f1 = ys[i + P / 2] * c + ys[i] * s;
          ASSERT_EQ(f0, t0);
          ASSERT_EQ(f1, t1);
        }
      }
  }
}

// ---- end to end on a tiny block-FP8 checkpoint --------------------------------------

namespace {

struct TinyDeepseek {
  uint64_t H = 64, NH = 2, QL = 32, KVR = 32, NOPE = 16, ROPE = 16, VD = 16, E = 4, FE = 32, FF = 64, V = 128, L = 2;
  uint32_t block = 16;
  bool mtp = true;
  json config() const {
    return {{"architectures", {"DeepseekV3ForCausalLM"}}, {"model_type", "deepseek_v3"}, {"hidden_size", H},
            {"num_attention_heads", NH}, {"num_key_value_heads", NH}, {"q_lora_rank", QL}, {"kv_lora_rank", KVR},
            {"qk_nope_head_dim", NOPE}, {"qk_rope_head_dim", ROPE}, {"v_head_dim", VD}, {"n_routed_experts", E},
            {"moe_intermediate_size", FE}, {"intermediate_size", FF}, {"vocab_size", V}, {"num_hidden_layers", L},
            {"first_k_dense_replace", 1}, {"n_group", 2}, {"topk_group", 1}, {"num_experts_per_tok", 2},
            {"n_shared_experts", 1}, {"num_nextn_predict_layers", mtp ? 1 : 0}, {"max_position_embeddings", 4096},
            {"tie_word_embeddings", false},
            {"quantization_config", {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"weight_block_size", {block, block}}}}};
  }
  // Block-FP8 weight: random codes, one scale per block.
  void fp8(std::vector<StEntry>* es, const std::string& name, uint64_t rows, uint64_t cols, uint32_t seed) const {
    std::mt19937 rng(seed);
    StEntry w{name, "F8_E4M3", {rows, cols}, std::vector<uint8_t>(rows * cols)};
    for (auto& b : w.bytes) {
      b = uint8_t(rng() & 0xFF);
      if ((b & 0x7F) == 0x7F) b ^= 1;  // no NaN codes
    }
    const uint64_t br = (rows + block - 1) / block, bc = (cols + block - 1) / block;
    std::vector<float> s(br * bc);
    for (auto& x : s) x = 0.001f * float(1 + rng() % 100);
    es->push_back(w);
    es->push_back(make_tensor(name.substr(0, name.size() - 7) + ".weight_scale_inv", "F32", {br, bc}, s));
  }
  std::vector<StEntry> entries() const {
    std::vector<StEntry> es;
    uint32_t seed = 1;
    auto bf = [&](const std::string& n, std::vector<uint64_t> shape) {
      uint64_t k = 1;
      for (auto d : shape) k *= d;
      es.push_back(make_tensor(n, "BF16", shape, random_values(k, seed++, 0.5f)));
    };
    bf("model.embed_tokens.weight", {V, H});
    for (uint64_t l = 0; l < L + (mtp ? 1 : 0); ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      bf(p + "input_layernorm.weight", {H});
      bf(p + "post_attention_layernorm.weight", {H});
      fp8(&es, p + "self_attn.q_a_proj.weight", QL, H, seed++);
      bf(p + "self_attn.q_a_layernorm.weight", {QL});
      fp8(&es, p + "self_attn.q_b_proj.weight", NH * (NOPE + ROPE), QL, seed++);
      fp8(&es, p + "self_attn.kv_a_proj_with_mqa.weight", KVR + ROPE, H, seed++);
      bf(p + "self_attn.kv_a_layernorm.weight", {KVR});
      fp8(&es, p + "self_attn.kv_b_proj.weight", NH * (NOPE + VD), KVR, seed++);
      fp8(&es, p + "self_attn.o_proj.weight", H, NH * VD, seed++);
      if (l == 0) {
        for (const char* x : {"gate", "up"}) fp8(&es, p + "mlp." + x + "_proj.weight", FF, H, seed++);
        fp8(&es, p + "mlp.down_proj.weight", H, FF, seed++);
        continue;
      }
      bf(p + "mlp.gate.weight", {E, H});
      es.push_back(make_tensor(p + "mlp.gate.e_score_correction_bias", "F32", {E}, random_values(E, seed++, 0.1f)));
      for (uint64_t e = 0; e < E; ++e) {
        const std::string x = p + "mlp.experts." + std::to_string(e) + ".";
        fp8(&es, x + "gate_proj.weight", FE, H, seed++);
        fp8(&es, x + "up_proj.weight", FE, H, seed++);
        fp8(&es, x + "down_proj.weight", H, FE, seed++);
      }
      for (const char* x : {"gate", "up"}) fp8(&es, p + "mlp.shared_experts." + x + "_proj.weight", FE, H, seed++);
      fp8(&es, p + "mlp.shared_experts.down_proj.weight", H, FE, seed++);
      if (l == L) {  // the MTP module's own tensors
        bf(p + "enorm.weight", {H});
        bf(p + "hnorm.weight", {H});
        fp8(&es, p + "eh_proj.weight", H, 2 * H, seed++);
        bf(p + "shared_head.norm.weight", {H});
        bf(p + "shared_head.head.weight", {V, H});
        bf(p + "embed_tokens.weight", {V, H});
      }
    }
    bf("model.norm.weight", {H});
    bf("lm_head.weight", {V, H});
    return es;
  }
};

class DeepseekConvert : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() /
           ("f8ds_" + std::to_string(getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    dir = root + "/model";
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(root); }
  void write(const TinyDeepseek& m, const std::vector<StEntry>& es) {
    write_file(dir + "/config.json", m.config().dump());
    write_file(dir + "/model.safetensors", st_image(es));
  }
  ggf8::Status convert(const std::string& out) {
    ConvertOptions o;
    o.model_dir = dir;
    o.output = out;
    o.threads = 2;
    return convert_checkpoint(o, &rep);
  }
  std::string root, dir;
  ConvertReport rep;
};

const StEntry* find(const std::vector<StEntry>& es, const std::string& n) {
  for (const auto& e : es)
    if (e.name == n) return &e;
  return nullptr;
}

}  // namespace

TEST_F(DeepseekConvert, BlockFp8ImportedByteForByteRopeRowsMovedMtpSkipped) {
  TinyDeepseek m;
  const auto es = m.entries();
  write(m, es);
  const std::string out = root + "/ds.f8";
  ggf8::Status s = convert(out);
  ASSERT_TRUE(s.ok()) << s.message;
  bool noted = false;
  for (const auto& n : rep.notes) noted = noted || n.find("model.layers.2.*") != std::string::npos;
  EXPECT_TRUE(noted) << "the MTP layer's note";
  std::unique_ptr<ggf8::File> f;
  ASSERT_TRUE(ggf8::File::open(out, &f).ok());
  std::string v;
  ASSERT_TRUE(f->get_str(ggf8::keys::kArchitecture, &v).ok());
  EXPECT_EQ(v, "deepseek3");
  ASSERT_TRUE(f->get_str(ggf8::keys::kExpertGating, &v).ok());
  EXPECT_EQ(v, "sigmoid_group_topk");
  uint64_t u = 0;
  ASSERT_TRUE(f->get_u64(ggf8::keys::kAttnKvLoraRank, &u).ok());
  EXPECT_EQ(u, m.KVR);
  ASSERT_TRUE(f->get_u64(ggf8::keys::kBlockCount, &u).ok());
  EXPECT_EQ(u, m.L);
  EXPECT_EQ(f->tensor("blk.2.attn_q_a.weight"), nullptr);  // nothing of the MTP layer
  for (const auto& t : f->tensors()) EXPECT_EQ(t.name.find("eh_proj"), std::string::npos);
  // Every non-expert FP8 tensor: the same bytes, rows in the converter's order.
  HParams hp;
  ASSERT_TRUE(parse(m.config(), &hp).ok());
  int n_checked = 0;
  for (uint64_t l = 0; l < m.L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".", b = "blk." + std::to_string(l) + ".";
    for (const auto& [hf, ours] : std::vector<std::pair<std::string, std::string>>{
             {"self_attn.q_a_proj", "attn_q_a"}, {"self_attn.q_b_proj", "attn_q_b"},
             {"self_attn.kv_a_proj_with_mqa", "attn_kv_a_mqa"}, {"self_attn.kv_b_proj", "attn_kv_b"},
             {"self_attn.o_proj", "attn_output"}}) {
      const StEntry* src = find(es, p + hf + ".weight");
      const StEntry* ssc = find(es, p + hf + ".weight_scale_inv");
      const ggf8::TensorInfo* t = f->tensor(b + ours + ".weight");
      ASSERT_TRUE(src && ssc && t) << ours;
      ASSERT_EQ(t->dtype, ggf8::DType::E4M3);
      ASSERT_EQ(t->scale_kind, ggf8::ScaleKind::Block);
      const uint64_t rows = src->shape[0], cols = src->shape[1];
      std::vector<uint64_t> order = mla_rope_rows(hp, b + ours + ".weight");
      if (order.empty())
        for (uint64_t i = 0; i < rows; ++i) order.push_back(i);
      for (uint64_t r = 0; r < rows; ++r)
        ASSERT_EQ(std::memcmp(f->data(*t) + r * cols, src->bytes.data() + order[r] * cols, cols), 0) << ours << " row " << r;
      const ggf8::TensorInfo* sc = f->tensor(t->scale_name);
      ASSERT_TRUE(sc);
      ASSERT_EQ(sc->nbytes, ssc->bytes.size());
      EXPECT_EQ(std::memcmp(f->data(*sc), ssc->bytes.data(), sc->nbytes), 0) << ours << " scales";
      ++n_checked;
    }
  }
  EXPECT_EQ(n_checked, 10);
  // the score bias stays F32, the router BF16
  const ggf8::TensorInfo* sb = f->tensor("blk.1.ffn_gate_inp.score_bias");
  ASSERT_TRUE(sb);
  EXPECT_EQ(sb->dtype, ggf8::DType::F32);
  EXPECT_EQ(f->tensor("blk.1.ffn_gate_inp.weight")->dtype, ggf8::DType::BF16);
}

// RoPE rows that straddle a scale block cannot move without changing their
// scale: refused, naming the tensor.
TEST_F(DeepseekConvert, RopeRowsAcrossScaleBlocksAreRefused) {
  TinyDeepseek m;
  m.NOPE = 12;  // head 0's RoPE rows 12..27 straddle the 16-row blocks
  m.ROPE = 16;
  m.mtp = false;
  write(m, m.entries());
  ggf8::Status s = convert(root + "/bad.f8");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message.find("q_b_proj.weight"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("scale blocks"), std::string::npos) << s.message;
  EXPECT_FALSE(fs::exists(root + "/bad.f8"));
}
