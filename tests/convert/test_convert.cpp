// End-to-end converter tests on tiny generated Hugging Face directories:
// every tensor of the .f8 dequantizes back to its source within the format's
// precision; FP8 checkpoints import byte-identical; bad input fails with one
// line naming the problem and leaves no output file behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "convert/arch.h"
#include "convert/converter.h"
#include "convert/hf_config.h"
#include "ggf8/fp8.h"
#include "ggf8/keys.h"
#include "st_builder.h"

using namespace f8conv;
using namespace f8test;
namespace fs = std::filesystem;

namespace {

class Convert : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() /
           ("f8conv_" + std::to_string(getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    dir = root + "/model";
    fs::create_directories(dir);
    out = root + "/out.f8";
  }
  void TearDown() override { fs::remove_all(root); }

  ggf8::Status convert(ConvertOptions o = {}) {
    o.model_dir = dir;
    o.output = out;
    o.threads = 2;
    rep = ConvertReport{};
    return convert_checkpoint(o, &rep);
  }
  std::unique_ptr<ggf8::File> open_out() {
    std::unique_ptr<ggf8::File> f;
    ggf8::Status s = ggf8::File::open(out, &f);
    EXPECT_TRUE(s.ok()) << s.message;
    return f;
  }
  // The failure leaves nothing at the output path and no temporary files.
  void expect_failure(const ggf8::Status& s, const std::string& needle) {
    ASSERT_FALSE(s.ok()) << "expected failure mentioning " << needle;
    EXPECT_NE(s.message.find(needle), std::string::npos) << s.message;
    EXPECT_EQ(s.message.find('\n'), std::string::npos) << s.message;
    EXPECT_FALSE(fs::exists(out));
    for (const auto& e : fs::directory_iterator(root))
      EXPECT_EQ(e.path().filename().string().find("out.f8"), std::string::npos) << "left behind: " << e.path();
  }

  std::string root, dir, out;
  ConvertReport rep;
};

std::string canonical(const std::string& hf) {
  static const std::map<std::string, std::string> fixed{{"model.embed_tokens.weight", "token_embd.weight"},
                                                        {"model.norm.weight", "output_norm.weight"},
                                                        {"lm_head.weight", "output.weight"}};
  if (auto it = fixed.find(hf); it != fixed.end()) return it->second;
  static const std::vector<std::pair<std::string, std::string>> parts{
      {"input_layernorm.weight", "attn_norm.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj", "attn_q"}, {"self_attn.k_proj", "attn_k"}, {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"}, {"mlp.gate_proj", "ffn_gate"}, {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"}};
  std::string rest = hf.substr(std::string("model.layers.").size());
  size_t dot = rest.find('.');
  std::string l = rest.substr(0, dot), tail = rest.substr(dot + 1);
  for (const auto& [a, b] : parts)
    if (tail.rfind(a, 0) == 0) return "blk." + l + "." + b + tail.substr(a.size());
  return "?";
}

std::vector<float> widen(const StEntry& e) {
  StDType t = e.dtype == "F32" ? StDType::F32 : e.dtype == "BF16" ? StDType::BF16 : StDType::F16;
  std::vector<float> v(e.bytes.size() / (e.dtype == "F32" ? 4 : 2));
  widen_to_f32(t, e.bytes.data(), v.data(), v.size());
  return v;
}

// Dequantizes one stored tensor to F32 using its scale tensor.
std::vector<float> dequantize(const ggf8::File& f, const ggf8::TensorInfo& t) {
  const uint8_t* p = f.data(t);
  const uint64_t n = t.count();
  std::vector<float> v(n);
  const uint64_t cols = t.dims.back(), rows = n / cols;
  std::vector<float> s{1.0f};
  if (t.scale_kind != ggf8::ScaleKind::None) {
    const ggf8::TensorInfo* st = f.tensor(t.scale_name);
    EXPECT_NE(st, nullptr) << t.name;
    s.resize(st->count());
    std::memcpy(s.data(), f.data(*st), st->nbytes);
  }
  for (uint64_t i = 0; i < rows; ++i)
    for (uint64_t j = 0; j < cols; ++j) {
      const uint64_t k = i * cols + j;
      float x = 0;
      switch (t.dtype) {
        case ggf8::DType::E4M3: x = ggf8::e4m3_to_f32(p[k]); break;
        case ggf8::DType::E5M2: x = ggf8::e5m2_to_f32(p[k]); break;
        case ggf8::DType::BF16: {
          uint16_t h;
          std::memcpy(&h, p + 2 * k, 2);
          x = bf16_bits_to_f32(h);
          break;
        }
        case ggf8::DType::F32: std::memcpy(&x, p + 4 * k, 4); break;
        default: ADD_FAILURE() << "unexpected dtype in " << t.name;
      }
      float sc = 1.0f;
      switch (t.scale_kind) {
        case ggf8::ScaleKind::Tensor: sc = s[0]; break;
        case ggf8::ScaleKind::Channel: sc = s[i]; break;
        case ggf8::ScaleKind::Block: sc = s[(i / t.block_rows) * ((cols + t.block_cols - 1) / t.block_cols) + j / t.block_cols]; break;
        default: break;
      }
      v[k] = x * sc;
    }
  return v;
}

// Every source tensor is in the file under its canonical name and matches
// within the stored format's precision: |x - deq| <= half an ULP of the
// format at |x|/s, times s (s = the element's scale).
void check_roundtrip(const ggf8::File& f, const std::vector<StEntry>& src, double min_sqnr) {
  for (const auto& e : src) {
    if (e.name == "lm_head.weight" && !f.tensor("output.weight")) continue;
    const std::string name = canonical(e.name);
    const ggf8::TensorInfo* t = f.tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->dims, e.shape) << name;
    const std::vector<float> x = widen(e), d = dequantize(f, *t);
    ASSERT_EQ(x.size(), d.size());
    std::vector<float> sc(x.size(), 1.0f);
    if (t->scale_kind != ggf8::ScaleKind::None) {
      // Recover each element's scale to express the bound in FP8 units.
      const ggf8::TensorInfo* st = f.tensor(t->scale_name);
      std::vector<float> s(st->count());
      std::memcpy(s.data(), f.data(*st), st->nbytes);
      const uint64_t cols = t->dims.back();
      for (uint64_t k = 0; k < x.size(); ++k) {
        const uint64_t i = k / cols, j = k % cols;
        if (t->scale_kind == ggf8::ScaleKind::Tensor) {
          sc[k] = s[0];
        } else if (t->scale_kind == ggf8::ScaleKind::Channel) {
          sc[k] = s[i];
        } else {
          sc[k] = s[(i / t->block_rows) * ((cols + t->block_cols - 1) / t->block_cols) + j / t->block_cols];
        }
      }
    }
    const int mant = t->dtype == ggf8::DType::E4M3 ? 3 : t->dtype == ggf8::DType::E5M2 ? 2 : t->dtype == ggf8::DType::BF16 ? 7 : 23;
    const int emin = t->dtype == ggf8::DType::E4M3 ? -6 : t->dtype == ggf8::DType::E5M2 ? -14 : -126;
    double sig = 0, noise = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      const double y = std::fabs(x[k]) / sc[k];
      int ex = y > 0 ? std::max(std::ilogb(y), emin) : emin;
      const double bound = std::ldexp(1.0, ex - mant - 1) * sc[k] * (1 + 1e-6) + std::fabs(x[k]) * 1e-7;
      const double err = std::fabs(double(x[k]) - d[k]);
      ASSERT_LE(err, bound) << name << " element " << k << " x=" << x[k] << " deq=" << d[k];
      sig += double(x[k]) * x[k];
      noise += err * err;
    }
    if (t->dtype == ggf8::DType::E4M3 || t->dtype == ggf8::DType::E5M2)
      EXPECT_GT(10 * std::log10(sig / noise), min_sqnr) << name;
  }
}

std::string meta_str(const ggf8::File& f, const char* k) {
  std::string s;
  EXPECT_TRUE(f.get_str(k, &s).ok()) << k;
  return s;
}
uint64_t meta_u64(const ggf8::File& f, const char* k) {
  uint64_t v = 0;
  EXPECT_TRUE(f.get_u64(k, &v).ok()) << k;
  return v;
}

}  // namespace

TEST_F(Convert, DefaultIsE4M3ChannelForLinearLayers) {
  TinyModel m;
  m.write(dir);
  ggf8::Status s = convert();
  ASSERT_TRUE(s.ok()) << s.message;
  auto f = open_out();
  ASSERT_TRUE(f);
  EXPECT_EQ(meta_str(*f, ggf8::keys::kArchitecture), "llama");
  EXPECT_EQ(meta_str(*f, ggf8::keys::kSourceArch), "LlamaForCausalLM");
  EXPECT_EQ(meta_u64(*f, ggf8::keys::kBlockCount), 2u);
  EXPECT_EQ(meta_u64(*f, ggf8::keys::kHeadCountKv), 2u);
  EXPECT_EQ(meta_u64(*f, ggf8::keys::kHeadDim), 16u);
  EXPECT_EQ(meta_str(*f, ggf8::keys::kQuantWeights), "e4m3");
  EXPECT_EQ(meta_str(*f, ggf8::keys::kQuantScale), "channel");
  EXPECT_EQ(meta_str(*f, ggf8::keys::kQuantSource), "requantized");
  const ggf8::Value* names = f->find(ggf8::keys::kQuantStatNames);
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(names->array_size(), 14u);  // 7 projections x 2 layers
  const ggf8::Value* sq = f->find(ggf8::keys::kQuantStatSqnr);
  ASSERT_NE(sq, nullptr);
  std::vector<float> sqv;
  ASSERT_TRUE(sq->to_f32_vector(&sqv));
  for (float v : sqv) EXPECT_GT(v, 28.f);
  EXPECT_EQ(rep.quantized.size(), 14u);
  for (const char* n : {"blk.0.attn_q.weight", "blk.1.ffn_down.weight"}) {
    const ggf8::TensorInfo* t = f->tensor(n);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, ggf8::DType::E4M3);
    EXPECT_EQ(t->scale_kind, ggf8::ScaleKind::Channel);
    EXPECT_EQ(t->scale_name, std::string(n) + ".scale");
  }
  EXPECT_EQ(f->tensor("token_embd.weight")->dtype, ggf8::DType::BF16);
  EXPECT_EQ(f->tensor("output.weight")->dtype, ggf8::DType::BF16);
  EXPECT_EQ(f->tensor("blk.0.attn_norm.weight")->dtype, ggf8::DType::F32);
  // Embeddings are the source bytes.
  auto src = m.entries();
  EXPECT_EQ(std::memcmp(f->data(*f->tensor("token_embd.weight")), src[0].bytes.data(), src[0].bytes.size()), 0);
  check_roundtrip(*f, src, 28.0);
  EXPECT_TRUE(f->verify().ok());
}

struct ModeCase {
  WeightFormat fmt;
  ScaleMode mode;
  double min_sqnr;
};
class ConvertModes : public Convert, public ::testing::WithParamInterface<ModeCase> {};

TEST_P(ConvertModes, EveryTensorRoundTrips) {
  TinyModel m;
  m.hidden = 136;  // not a multiple of 128: partial blocks
  m.heads = 4;
  m.kv_heads = 1;
  m.ffn = 300;
  m.dtype = "F32";
  m.write(dir, 5);
  ConvertOptions o;
  o.weights = GetParam().fmt;
  o.scale = GetParam().mode;
  ggf8::Status s = convert(o);
  ASSERT_TRUE(s.ok()) << s.message;
  auto f = open_out();
  ASSERT_TRUE(f);
  check_roundtrip(*f, m.entries(5), GetParam().min_sqnr);
  EXPECT_EQ(meta_str(*f, ggf8::keys::kQuantWeights), weight_format_name(GetParam().fmt));
}
INSTANTIATE_TEST_SUITE_P(All, ConvertModes,
                         ::testing::Values(ModeCase{WeightFormat::E4M3, ScaleMode::Tensor, 24.0},
                                           ModeCase{WeightFormat::E4M3, ScaleMode::Block, 28.0},
                                           ModeCase{WeightFormat::E5M2, ScaleMode::Channel, 22.0},
                                           ModeCase{WeightFormat::BF16, ScaleMode::Channel, 0.0}));

TEST_F(Convert, Qwen2BiasesF16TiedAndSharded) {
  TinyModel m;
  m.arch = "Qwen2ForCausalLM";
  m.qkv_bias = true;
  m.tied = true;
  m.dtype = "F16";
  write_file(dir + "/config.json", m.config_json());
  auto es = m.entries(9);
  std::vector<StEntry> a(es.begin(), es.begin() + 8), b(es.begin() + 8, es.end());
  write_file(dir + "/model-00001-of-00002.safetensors", st_image(a));
  write_file(dir + "/model-00002-of-00002.safetensors", st_image(b));
  std::string wm;
  for (size_t i = 0; i < es.size(); ++i)
    wm += (i ? "," : "") + std::string("\"") + es[i].name + "\":\"model-0000" + (i < 8 ? "1" : "2") + "-of-00002.safetensors\"";
  write_file(dir + "/model.safetensors.index.json", "{\"weight_map\":{" + wm + "}}");
  ggf8::Status s = convert();
  ASSERT_TRUE(s.ok()) << s.message;
  auto f = open_out();
  ASSERT_TRUE(f);
  EXPECT_EQ(meta_str(*f, ggf8::keys::kArchitecture), "qwen2");
  bool b1 = false, tied = false;
  ASSERT_TRUE(f->get_bool(ggf8::keys::kQkvBias, &b1).ok());
  ASSERT_TRUE(f->get_bool(ggf8::keys::kTiedEmbeddings, &tied).ok());
  EXPECT_TRUE(b1);
  EXPECT_TRUE(tied);
  EXPECT_EQ(f->tensor("output.weight"), nullptr);
  EXPECT_EQ(f->tensor("blk.1.attn_k.bias")->dtype, ggf8::DType::F32);
  check_roundtrip(*f, es, 28.0);
}

TEST_F(Convert, QuantizeAndKeepRegexes) {
  TinyModel m;
  m.write(dir);
  ConvertOptions o;
  o.keep_regex = "ffn_down|attn_v";
  ASSERT_TRUE(convert(o).ok());
  auto f = open_out();
  EXPECT_EQ(f->tensor("blk.0.ffn_down.weight")->dtype, ggf8::DType::BF16);
  EXPECT_EQ(f->tensor("blk.0.attn_v.weight")->dtype, ggf8::DType::BF16);
  EXPECT_EQ(f->tensor("blk.0.ffn_up.weight")->dtype, ggf8::DType::E4M3);
  f.reset();
  o = {};
  o.quantize_regex = "lm_head|mlp\\.up_proj";  // HF names work too
  o.overwrite = true;
  ASSERT_TRUE(convert(o).ok());
  f = open_out();
  EXPECT_EQ(f->tensor("output.weight")->dtype, ggf8::DType::E4M3);
  EXPECT_EQ(f->tensor("blk.1.ffn_up.weight")->dtype, ggf8::DType::E4M3);
  EXPECT_EQ(f->tensor("blk.1.ffn_gate.weight")->dtype, ggf8::DType::BF16);
  f.reset();
  fs::remove(out);
  o.quantize_regex = "([";
  expect_failure(convert(o), "regex");
}

// ---- pre-quantized FP8 checkpoints ------------------------------------------

namespace {
// Random valid E4M3 codes (no NaN).
std::vector<uint8_t> random_codes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) {
    b = static_cast<uint8_t>(rng());
    if ((b & 0x7F) == 0x7F) b ^= 1;
  }
  return v;
}
StEntry scalar_f32(const std::string& name, float v, bool shape1) {
  return make_tensor(name, "F32", shape1 ? std::vector<uint64_t>{1} : std::vector<uint64_t>{}, {v});
}
}  // namespace

TEST_F(Convert, CompressedTensorsFp8ImportsByteIdentical) {
  TinyModel m;
  std::string cfg = m.config_json();
  cfg.pop_back();
  cfg += ",\"quantization_config\":{\"quant_method\":\"compressed-tensors\",\"format\":\"float-quantized\"}}";
  write_file(dir + "/config.json", cfg);
  std::vector<StEntry> es;
  std::map<std::string, std::vector<uint8_t>> codes;
  std::map<std::string, std::vector<float>> scales;
  uint32_t seed = 100;
  for (auto e : m.entries()) {
    const bool lin = e.name.find("_proj.weight") != std::string::npos;
    if (!lin) {
      es.push_back(e);
      continue;
    }
    const std::string stem = e.name.substr(0, e.name.size() - std::string(".weight").size());
    e.dtype = "F8_E4M3";
    e.bytes = random_codes(e.shape[0] * e.shape[1], seed++);
    codes[canonical(e.name)] = e.bytes;
    es.push_back(e);
    if (stem.find("mlp") != std::string::npos) {
      // Per-channel [out, 1] in BF16 (exactly representable values).
      std::vector<float> s(e.shape[0]);
      for (size_t i = 0; i < s.size(); ++i) s[i] = std::ldexp(1.0f + float(i % 8) / 8, -int(8 + i % 5));
      es.push_back(make_tensor(stem + ".weight_scale", "BF16", {e.shape[0], 1}, s));
      scales[canonical(e.name)] = s;
    } else {
      const float s = 0.00123f * float(seed % 7 + 1);
      es.push_back(scalar_f32(stem + ".weight_scale", s, seed % 2 == 0));
      scales[canonical(e.name)] = {s};
    }
    es.push_back(scalar_f32(stem + ".input_scale", 0.01f * float(seed % 5 + 1), false));
  }
  for (int l = 0; l < 2; ++l) {
    es.push_back(scalar_f32("model.layers." + std::to_string(l) + ".self_attn.k_scale", 0.5f + l, false));
    es.push_back(scalar_f32("model.layers." + std::to_string(l) + ".self_attn.v_scale", 0.25f + l, true));
  }
  write_file(dir + "/model.safetensors", st_image(es));
  ConvertOptions o;
  o.weights = WeightFormat::E5M2;  // ignored for FP8 tensors: they are imported, not requantized
  ggf8::Status s = convert(o);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(rep.n_imported_fp8, 14u);
  EXPECT_TRUE(rep.quantized.empty());
  auto f = open_out();
  ASSERT_TRUE(f);
  EXPECT_EQ(meta_str(*f, ggf8::keys::kQuantSource), "prequantized");
  EXPECT_EQ(meta_str(*f, ggf8::keys::kQuantScale), "mixed");
  for (const auto& [name, c] : codes) {
    const ggf8::TensorInfo* t = f->tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->dtype, ggf8::DType::E4M3);
    ASSERT_EQ(t->nbytes, c.size());
    EXPECT_EQ(std::memcmp(f->data(*t), c.data(), c.size()), 0) << name << " bytes changed";
    const ggf8::TensorInfo* st = f->tensor(t->scale_name);
    ASSERT_NE(st, nullptr);
    const auto& want = scales[name];
    EXPECT_EQ(t->scale_kind, want.size() == 1 ? ggf8::ScaleKind::Tensor : ggf8::ScaleKind::Channel) << name;
    ASSERT_EQ(st->count(), want.size());
    EXPECT_EQ(std::memcmp(f->data(*st), want.data(), want.size() * 4), 0) << name << " scales changed";
    const std::string stem = name.substr(0, name.size() - 7);
    ASSERT_NE(f->tensor(stem + ".input_scale"), nullptr) << stem;
  }
  float kv = 0;
  std::memcpy(&kv, f->data(*f->tensor("blk.1.attn_k.kv_scale")), 4);
  EXPECT_EQ(kv, 1.5f);
  std::memcpy(&kv, f->data(*f->tensor("blk.0.attn_v.kv_scale")), 4);
  EXPECT_EQ(kv, 0.25f);
}

TEST_F(Convert, BlockFp8WeightScaleInvImportsByteIdentical) {
  TinyModel m;
  m.hidden = 136;
  m.ffn = 300;
  m.kv_heads = 4;
  std::string cfg = m.config_json();
  cfg.pop_back();
  cfg += ",\"quantization_config\":{\"quant_method\":\"fp8\",\"weight_block_size\":[128,128]}}";
  write_file(dir + "/config.json", cfg);
  std::vector<StEntry> es;
  std::map<std::string, std::pair<std::vector<uint8_t>, std::vector<float>>> want;
  uint32_t seed = 7;
  for (auto e : m.entries()) {
    if (e.name.find("_proj.weight") == std::string::npos) {
      es.push_back(e);
      continue;
    }
    e.dtype = "F8_E4M3";
    e.bytes = random_codes(e.shape[0] * e.shape[1], seed++);
    const uint64_t br = (e.shape[0] + 127) / 128, bc = (e.shape[1] + 127) / 128;
    std::vector<float> s(br * bc);
    for (size_t i = 0; i < s.size(); ++i) s[i] = 0.001f * float(i + seed);
    want[canonical(e.name)] = {e.bytes, s};
    es.push_back(e);
    es.push_back(make_tensor(e.name + "_scale_inv", "F32", {br, bc}, s));
  }
  write_file(dir + "/model.safetensors", st_image(es));
  ggf8::Status s = convert();
  ASSERT_TRUE(s.ok()) << s.message;
  auto f = open_out();
  ASSERT_TRUE(f);
  EXPECT_EQ(meta_str(*f, ggf8::keys::kQuantScale), "block");
  for (const auto& [name, ws] : want) {
    const ggf8::TensorInfo* t = f->tensor(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->scale_kind, ggf8::ScaleKind::Block);
    EXPECT_EQ(t->block_rows, 128u);
    EXPECT_EQ(t->block_cols, 128u);
    EXPECT_EQ(std::memcmp(f->data(*t), ws.first.data(), ws.first.size()), 0) << name;
    const ggf8::TensorInfo* st = f->tensor(t->scale_name);
    ASSERT_EQ(st->count(), ws.second.size());
    EXPECT_EQ(std::memcmp(f->data(*st), ws.second.data(), ws.second.size() * 4), 0) << name;
  }
}

// A Qwen3-MoE checkpoint: each layer's per-expert matrices become one stacked
// tensor [experts, rows, cols]. Block-FP8 experts (Qwen3-30B-A3B-FP8's
// layout) are imported byte for byte with their scales stacked per expert;
// BF16 experts are quantized one by one with per-expert channel scales; a
// missing expert is an error naming it.
TEST_F(Convert, MoeExpertsAreStackedPerExpert) {
  const uint64_t H = 64, F = 48, E = 3, L = 2;
  auto config = [&](bool fp8) {
    std::string c = "{\"architectures\":[\"Qwen3MoeForCausalLM\"],\"model_type\":\"qwen3_moe\",\"hidden_size\":64,"
                    "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":16,"
                    "\"intermediate_size\":96,\"moe_intermediate_size\":48,\"num_experts\":3,"
                    "\"num_experts_per_tok\":2,\"norm_topk_prob\":true,\"vocab_size\":300,"
                    "\"max_position_embeddings\":512,\"tie_word_embeddings\":false";
    if (fp8) c += ",\"quantization_config\":{\"quant_method\":\"fp8\",\"weight_block_size\":[32,32]}";
    return c + "}";
  };
  auto entries = [&](bool fp8, std::map<std::string, std::pair<std::vector<uint8_t>, std::vector<float>>>* want) {
    std::vector<StEntry> es;
    uint32_t seed = 3;
    auto add = [&](const std::string& n, std::vector<uint64_t> shape, bool linear) {
      uint64_t cnt = 1;
      for (auto d : shape) cnt *= d;
      auto v = random_values(cnt, seed++);
      if (n.find("norm") != std::string::npos)
        for (auto& x : v) x = 1.0f + x;
      StEntry e = make_tensor(n, "BF16", shape, v);
      if (fp8 && linear) {
        e.dtype = "F8_E4M3";
        e.bytes = random_codes(cnt, seed++);
        const uint64_t br = (shape[0] + 31) / 32, bc = (shape[1] + 31) / 32;
        std::vector<float> sc(br * bc);
        for (size_t i = 0; i < sc.size(); ++i) sc[i] = 0.001f * float(i + seed);
        if (want) {
          auto& w = (*want)[n];
          w.first = e.bytes;
          w.second = sc;
        }
        es.push_back(e);
        es.push_back(make_tensor(n + "_scale_inv", "F32", {br, bc}, sc));
        return;
      }
      es.push_back(e);
    };
    add("model.embed_tokens.weight", {300, H}, false);
    for (uint64_t l = 0; l < L; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      add(p + "input_layernorm.weight", {H}, false);
      add(p + "self_attn.q_proj.weight", {64, H}, true);
      add(p + "self_attn.k_proj.weight", {32, H}, true);
      add(p + "self_attn.v_proj.weight", {32, H}, true);
      add(p + "self_attn.q_norm.weight", {16}, false);
      add(p + "self_attn.k_norm.weight", {16}, false);
      add(p + "self_attn.o_proj.weight", {H, 64}, true);
      add(p + "post_attention_layernorm.weight", {H}, false);
      add(p + "mlp.gate.weight", {E, H}, false);
      for (uint64_t e = 0; e < E; ++e) {  // experts interleaved with nothing in particular: order is free
        add(p + "mlp.experts." + std::to_string(e) + ".gate_proj.weight", {F, H}, true);
        add(p + "mlp.experts." + std::to_string(e) + ".up_proj.weight", {F, H}, true);
        add(p + "mlp.experts." + std::to_string(e) + ".down_proj.weight", {H, F}, true);
      }
    }
    add("model.norm.weight", {H}, false);
    add("lm_head.weight", {300, H}, false);
    return es;
  };
  {  // block FP8: bytes and scales stacked unchanged
    std::map<std::string, std::pair<std::vector<uint8_t>, std::vector<float>>> want;
    write_file(dir + "/config.json", config(true));
    write_file(dir + "/model.safetensors", st_image(entries(true, &want)));
    ggf8::Status s = convert();
    ASSERT_TRUE(s.ok()) << s.message;
    auto f = open_out();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->version_major(), 2);  // stacked scales
    EXPECT_EQ(meta_u64(*f, ggf8::keys::kExpertCount), E);
    EXPECT_EQ(meta_u64(*f, ggf8::keys::kExpertUsedCount), 2u);
    EXPECT_EQ(meta_str(*f, ggf8::keys::kExpertGating), "softmax_topk");
    const ggf8::TensorInfo* r = f->tensor("blk.1.ffn_gate_inp.weight");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->dtype, ggf8::DType::BF16);  // the router is not quantized
    for (const char* proj : {"gate", "up", "down"}) {
      const std::string name = std::string("blk.1.ffn_") + proj + "_exps.weight";
      const ggf8::TensorInfo* t = f->tensor(name);
      ASSERT_NE(t, nullptr) << name;
      const bool down = std::string(proj) == "down";
      EXPECT_EQ(t->dims, (std::vector<uint64_t>{E, down ? H : F, down ? F : H}));
      EXPECT_EQ(t->scale_kind, ggf8::ScaleKind::Block);
      const ggf8::TensorInfo* st = f->tensor(t->scale_name);
      ASSERT_NE(st, nullptr);
      EXPECT_EQ(st->dims, (std::vector<uint64_t>{E, (t->dims[1] + 31) / 32, (t->dims[2] + 31) / 32}));
      size_t off = 0, soff = 0;
      for (uint64_t e = 0; e < E; ++e) {
        const auto& w = want.at("model.layers.1.mlp.experts." + std::to_string(e) + "." + proj + "_proj.weight");
        EXPECT_EQ(std::memcmp(f->data(*t) + off, w.first.data(), w.first.size()), 0) << name << " expert " << e;
        EXPECT_EQ(std::memcmp(f->data(*st) + soff, w.second.data(), w.second.size() * 4), 0) << name << " expert " << e;
        off += w.first.size();
        soff += w.second.size() * 4;
      }
    }
  }
  {  // BF16 experts: quantized per expert, channel scales [E, rows]
    fs::remove(out);
    write_file(dir + "/config.json", config(false));
    auto es = entries(false, nullptr);
    write_file(dir + "/model.safetensors", st_image(es));
    ggf8::Status s = convert();
    ASSERT_TRUE(s.ok()) << s.message;
    auto f = open_out();
    ASSERT_TRUE(f);
    const ggf8::TensorInfo* t = f->tensor("blk.0.ffn_down_exps.weight");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, ggf8::DType::E4M3);
    EXPECT_EQ(f->tensor(t->scale_name)->dims, (std::vector<uint64_t>{E, H}));
    // A missing expert names the tensor and the expert.
    std::vector<StEntry> less;
    for (const auto& e : es)
      if (e.name != "model.layers.0.mlp.experts.2.up_proj.weight") less.push_back(e);
    fs::remove(out);
    write_file(dir + "/model.safetensors", st_image(less));
    expect_failure(convert(), "blk.0.ffn_up_exps.weight: expert 2 of 3 is missing");
  }
}

TEST_F(Convert, Fp8WithoutScaleOrWithBadScaleShapeFails) {
  TinyModel m;
  write_file(dir + "/config.json", m.config_json());
  auto es = m.entries();
  es[2].dtype = "F8_E4M3";  // q_proj of layer 0
  es[2].bytes.resize(es[2].bytes.size() / 2);
  write_file(dir + "/model.safetensors", st_image(es));
  expect_failure(convert(), "has no weight_scale");
  es.push_back(make_tensor("model.layers.0.self_attn.q_proj.weight_scale", "F32", {3}, {1, 2, 3}));
  write_file(dir + "/model.safetensors", st_image(es));
  expect_failure(convert(), "fits neither");
}

// ---- bad input ---------------------------------------------------------------

TEST_F(Convert, MissingDirectoryConfigAndWeights) {
  ConvertOptions o;
  o.model_dir = root + "/nope";
  o.output = out;
  expect_failure(convert_checkpoint(o, &rep), "not a directory");
  expect_failure(convert(), "config.json");
  TinyModel m;
  write_file(dir + "/config.json", m.config_json());
  expect_failure(convert(), "no model.safetensors");
}

TEST_F(Convert, UnsupportedArchitectureListsSupported) {
  TinyModel m;
  m.arch = "GPT2LMHeadModel";
  m.write(dir);
  ggf8::Status s = convert();
  expect_failure(s, "GPT2LMHeadModel");
  EXPECT_NE(s.message.find("LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM"), std::string::npos) << s.message;
}

TEST_F(Convert, ShapeMismatchAgainstConfig) {
  TinyModel m;
  m.write(dir);
  m.ffn = 128;  // config says 128, weights have 160
  write_file(dir + "/config.json", m.config_json());
  ggf8::Status s = convert();
  expect_failure(s, "model.layers.0.mlp.gate_proj.weight\" has shape [160, 64] but config.json implies [128, 64]");
}

TEST_F(Convert, MissingAndUnexpectedTensors) {
  TinyModel m;
  write_file(dir + "/config.json", m.config_json());
  auto es = m.entries();
  auto missing = es;
  missing.erase(missing.begin() + 3);  // k_proj of layer 0
  write_file(dir + "/model.safetensors", st_image(missing));
  expect_failure(convert(), "missing tensor \"model.layers.0.self_attn.k_proj.weight\"");
  auto extra = es;
  extra.push_back(make_tensor("model.layers.2.mlp.up_proj.weight", "BF16", {2}, {1, 2}));  // layer 2 of 2
  write_file(dir + "/model.safetensors", st_image(extra));
  expect_failure(convert(), "model.layers.2.mlp.up_proj.weight");
}

TEST_F(Convert, NonFiniteWeightsFailUnlessAllowed) {
  TinyModel m;
  write_file(dir + "/config.json", m.config_json());
  auto es = m.entries();
  uint16_t nan = 0x7FC0, inf = 0x7F80;
  std::memcpy(es[2].bytes.data() + 10, &nan, 2);
  std::memcpy(es[0].bytes.data() + 4, &inf, 2);  // embeddings too
  write_file(dir + "/model.safetensors", st_image(es));
  expect_failure(convert(), "NaN/Inf");
  ConvertOptions o;
  o.allow_nonfinite = true;
  ggf8::Status s = convert(o);
  ASSERT_TRUE(s.ok()) << s.message;
  auto f = open_out();
  EXPECT_EQ(f->data(*f->tensor("blk.0.attn_q.weight"))[5], ggf8::kFp8NaN);
}

TEST_F(Convert, UnsupportedDtype) {
  TinyModel m;
  write_file(dir + "/config.json", m.config_json());
  auto es = m.entries();
  es[1].dtype = "I32";  // input_layernorm [64] BF16 = 128 bytes; make it 64 x I32
  es[1].bytes.resize(64 * 4);
  write_file(dir + "/model.safetensors", st_image(es));
  expect_failure(convert(), "unsupported dtype I32");
}

TEST_F(Convert, TruncatedAndCorruptSafetensors) {
  TinyModel m;
  m.write(dir);
  auto img = st_image(m.entries());
  img.resize(img.size() - 100);
  write_file(dir + "/model.safetensors", img);
  expect_failure(convert(), "model.safetensors");
  img = st_image(m.entries());
  img[8] = '[';
  write_file(dir + "/model.safetensors", img);
  expect_failure(convert(), "model.safetensors");
}

TEST_F(Convert, ExistingOutputNeedsOverwriteAndIsKeptOnFailure) {
  TinyModel m;
  m.write(dir);
  write_file(out, std::string("precious"));
  ggf8::Status s = convert();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code, ggf8::Code::Exists);
  EXPECT_NE(s.message.find("--force"), std::string::npos);
  EXPECT_EQ(fs::file_size(out), 8u);
  // A failing conversion with overwrite leaves the old file alone.
  auto es = m.entries();
  uint16_t nan = 0x7FC0;
  std::memcpy(es.back().bytes.data(), &nan, 2);
  write_file(dir + "/model.safetensors", st_image(es));
  ConvertOptions o;
  o.overwrite = true;
  ASSERT_FALSE(convert(o).ok());
  EXPECT_EQ(fs::file_size(out), 8u);
}

TEST_F(Convert, UnwritableOutput) {
  TinyModel m;
  m.write(dir);
  ConvertOptions o;
  o.model_dir = dir;
  o.output = root + "/no/such/dir/out.f8";
  ggf8::Status s = convert_checkpoint(o, &rep);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message.find("out.f8"), std::string::npos) << s.message;
}

// ---- config.json schemas (transformers 4 and 5) -------------------------------

namespace {

// A complete small Llama config with `extra` merged in (nullptr values delete).
std::string llama_cfg(const nlohmann::json& extra, const std::string& arch = "LlamaForCausalLM") {
  nlohmann::json j = {{"architectures", {arch}}, {"hidden_size", 64}, {"num_hidden_layers", 2},
                      {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"intermediate_size", 160},
                      {"vocab_size", 256}, {"max_position_embeddings", 512}, {"rms_norm_eps", 1e-5},
                      {"hidden_act", "silu"}, {"tie_word_embeddings", false}};
  for (const auto& [k, v] : extra.items()) {
    if (v.is_null()) j.erase(k);
    else j[k] = v;
  }
  return j.dump();
}

ggf8::Status parse(const std::string& text, HParams* hp, std::vector<std::string> ignore = {}) {
  HfConfigOptions o;
  o.ignore_keys = std::move(ignore);
  return parse_hf_config(text, "config.json", hp, o);
}

void expect_refused(const std::string& text, const std::vector<std::string>& needles) {
  HParams hp;
  ggf8::Status s = parse(text, &hp);
  ASSERT_FALSE(s.ok()) << text;
  for (const auto& n : needles) EXPECT_NE(s.message.find(n), std::string::npos) << s.message;
}

}  // namespace

TEST(ConfigSchema, RopeThetaInEveryForm) {
  using nlohmann::json;
  for (const json& extra : {json{{"rope_theta", 100000.0}},                                              // tf 4
                            json{{"rope_parameters", {{"rope_theta", 100000.0}, {"rope_type", "default"}}}},  // tf 5
                            json{{"rope_theta", 100000.0}, {"rope_scaling", nullptr}},
                            json{{"rope_theta", 1e5}, {"rope_parameters", {{"rope_theta", 100000}}}}}) {
    HParams hp;
    ggf8::Status s = parse(llama_cfg(extra), &hp);
    ASSERT_TRUE(s.ok()) << s.message << " " << extra.dump();
    EXPECT_EQ(hp.rope_theta, 100000.f) << extra.dump();
    EXPECT_EQ(hp.rope_type, "none");
  }
  HParams hp;
  ASSERT_TRUE(parse(llama_cfg({}), &hp).ok());
  EXPECT_EQ(hp.rope_theta, 10000.f);  // nothing stated: LlamaConfig's default
}

TEST(ConfigSchema, RopeScalingInEveryForm) {
  using nlohmann::json;
  const json l3 = {{"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                   {"original_max_position_embeddings", 8192}};
  json v4 = l3, v4old = l3, v5 = l3;
  v4["rope_type"] = "llama3";
  v4old["type"] = "llama3";
  v5["rope_type"] = "llama3";
  v5["rope_theta"] = 500000.0;
  for (const json& extra : {json{{"rope_theta", 500000.0}, {"rope_scaling", v4}},
                            json{{"rope_theta", 500000.0}, {"rope_scaling", v4old}}, json{{"rope_parameters", v5}}}) {
    HParams hp;
    ggf8::Status s = parse(llama_cfg(extra), &hp);
    ASSERT_TRUE(s.ok()) << s.message;
    EXPECT_EQ(hp.rope_type, "llama3");
    EXPECT_EQ(hp.rope_theta, 500000.f);
    EXPECT_EQ(hp.rope_factor, 8.f);
    EXPECT_EQ(hp.rope_low_freq, 1.f);
    EXPECT_EQ(hp.rope_high_freq, 4.f);
    EXPECT_EQ(hp.rope_orig_ctx, 8192u);
  }
  HParams hp;
  ASSERT_TRUE(parse(llama_cfg({{"rope_parameters", {{"rope_type", "linear"}, {"factor", 2.0}, {"rope_theta", 1e4}}}}), &hp).ok());
  EXPECT_EQ(hp.rope_type, "linear");
  EXPECT_EQ(hp.rope_factor, 2.f);
}

TEST(ConfigSchema, ContradictionsNameBothValues) {
  // transformers 5 reads rope_parameters, transformers 4 rope_theta: a real contradiction.
  expect_refused(llama_cfg({{"rope_theta", 10000.0}, {"rope_parameters", {{"rope_theta", 100000.0}}}}),
                 {"rope_theta = 10000.0", "rope_parameters.rope_theta = 100000.0", "transformers 5 uses",
                  "--ignore-config-key rope_theta"});
  HParams hp;  // ... which the user may settle by skipping the key transformers 5 does not read
  ASSERT_TRUE(parse(llama_cfg({{"rope_theta", 10000.0}, {"rope_parameters", {{"rope_theta", 100000.0}}}}), &hp,
                    {"rope_theta"})
                  .ok());
  EXPECT_EQ(hp.rope_theta, 100000.f);
  EXPECT_EQ(hp.ignored_keys, std::vector<std::string>{"rope_theta"});
  // Both versions take rope_scaling over rope_parameters: no contradiction, a note.
  ASSERT_TRUE(parse(llama_cfg({{"rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}}},
                               {"rope_parameters", {{"rope_type", "linear"}, {"factor", 4.0}}}}),
                    &hp)
                  .ok());
  EXPECT_EQ(hp.rope_factor, 2.f);
  ASSERT_EQ(hp.notes.size(), 1u);
  EXPECT_NE(hp.notes[0].find("rope_parameters is not read"), std::string::npos) << hp.notes[0];
  // dtype / torch_dtype only describe the stored tensors: a note, not an error.
  ASSERT_TRUE(parse(llama_cfg({{"dtype", "bfloat16"}, {"torch_dtype", "float16"}}), &hp).ok());
  EXPECT_EQ(hp.dtype, "bfloat16");
  ASSERT_EQ(hp.notes.size(), 1u);
  EXPECT_NE(hp.notes[0].find("float16"), std::string::npos);
}

TEST(ConfigSchema, UnsupportedNumericsAreRefusedByName) {
  expect_refused(llama_cfg({{"rope_parameters", {{"rope_type", "dynamic"}, {"factor", 4.0}, {"rope_theta", 1e4}}}}),
                 {"rope_parameters.rope_type", "dynamic", "default, linear, llama3, yarn"});
  expect_refused(llama_cfg({{"rope_scaling", {{"type", "dynamic"}, {"factor", 2.0}}}}), {"dynamic"});
  expect_refused(llama_cfg({{"rope_scaling", {{"type", "su"}, {"short_factor", {1.0}}}}}, "Phi3ForCausalLM"),
                 {"LongRoPE"});
  expect_refused(llama_cfg({{"rope_parameters", {{"rope_type", "default"}, {"partial_rotary_factor", 0.5}}}}),
                 {"partial_rotary_factor", "0.5"});
  {  // a field the type does not use: transformers ignores it, f8 notes it
    HParams hp;
    ASSERT_TRUE(parse(llama_cfg({{"rope_parameters", {{"rope_type", "linear"}, {"factor", 2.0}, {"beta_fast", 32}}}}), &hp)
                    .ok());
    ASSERT_EQ(hp.notes.size(), 1u);
    EXPECT_NE(hp.notes[0].find("rope_parameters.beta_fast"), std::string::npos) << hp.notes[0];
  }
  expect_refused(llama_cfg({{"rope_parameters", {{"full_attention", {{"rope_theta", 1e6}}}}}}),
                 {"rope_parameters.full_attention", "per-layer-type"});
  expect_refused(llama_cfg({{"rope_scaling", {{"rope_type", "linear"}}}}), {"needs factor"});
  // A key LlamaForCausalLM does not read is accepted and listed; one the
  // user skips is not listed.
  const std::string odd = llama_cfg({{"logits_scaling", 8.0}, {"final_logit_softcapping", 30.0}});
  HParams hp;
  ASSERT_TRUE(parse(odd, &hp).ok());
  EXPECT_EQ(hp.unread_keys, (std::vector<std::string>{"final_logit_softcapping", "logits_scaling"}));
  ASSERT_TRUE(parse(odd, &hp, {"logits_scaling"}).ok());
  EXPECT_EQ(hp.unread_keys, (std::vector<std::string>{"final_logit_softcapping"}));
  EXPECT_EQ(hp.ignored_keys, (std::vector<std::string>{"logits_scaling"}));
  expect_refused(llama_cfg({{"attention_bias", true}}, "Qwen3ForCausalLM"), {"attention_bias"});
  {  // Qwen2/3 sliding windows: layers >= max_window_layers (Qwen2Config), or layer_types
    HParams q;
    ASSERT_TRUE(parse(llama_cfg({{"use_sliding_window", true}, {"sliding_window", 64}, {"max_window_layers", 1}},
                                "Qwen2ForCausalLM"),
                      &q)
                    .ok());
    EXPECT_EQ(q.sliding_window, 64u);
    EXPECT_EQ(q.swa_layers, (std::vector<uint8_t>{0, 1}));
    ASSERT_TRUE(parse(llama_cfg({{"use_sliding_window", true}, {"sliding_window", 64},
                                 {"layer_types", {"sliding_attention", "full_attention"}}},
                                "Qwen3ForCausalLM"),
                      &q)
                    .ok());
    EXPECT_EQ(q.swa_layers, (std::vector<uint8_t>{1, 0}));
    HParams none;  // max_window_layers 28 (the default) >= 2 layers: no layer is windowed
    ASSERT_TRUE(parse(llama_cfg({{"use_sliding_window", true}, {"sliding_window", 64}}, "Qwen2ForCausalLM"), &none).ok());
    EXPECT_EQ(none.sliding_window, 0u);
    EXPECT_TRUE(none.swa_layers.empty());
  }
  expect_refused(llama_cfg({{"use_sliding_window", true}, {"sliding_window", 64},
                            {"layer_types", {"full_attention", "chunked_attention"}}},
                           "Qwen2ForCausalLM"),
                 {"layer_types[1]", "chunked_attention"});
  {  // without use_sliding_window, Qwen windows no layer whatever layer_types says
    HParams q;
    ASSERT_TRUE(parse(llama_cfg({{"layer_types", {"full_attention", "sliding_attention"}}, {"sliding_window", 8}},
                                "Qwen3ForCausalLM"),
                      &q)
                    .ok());
    EXPECT_EQ(q.sliding_window, 0u);
    EXPECT_TRUE(q.unread_keys.empty());
    // LlamaForCausalLM has no window: transformers never reads the key
    ASSERT_TRUE(parse(llama_cfg({{"sliding_window", 64}}), &q).ok());
    EXPECT_EQ(q.sliding_window, 0u);
    EXPECT_EQ(q.unread_keys, std::vector<std::string>{"sliding_window"});
  }
  expect_refused(llama_cfg({{"hidden_act", "gelu"}}), {"gelu"});
}

TEST(ConfigSchema, KnownHarmlessKeysAndPerArchDefaults) {
  HParams hp;
  ggf8::Status s = parse(llama_cfg({{"initializer_range", 0.02}, {"use_cache", true}, {"transformers_version", "5.0"},
                                    {"attention_dropout", 0.0}, {"bos_token_id", 1}, {"eos_token_id", {2, 3}},
                                    {"pad_token_id", nullptr}, {"dtype", "bfloat16"}, {"pretraining_tp", 1},
                                    {"rms_norm_eps", nullptr}}),
                         &hp);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(hp.dtype, "bfloat16");
  EXPECT_EQ(hp.eos_ids, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(hp.rms_eps, 1e-6f);
  ASSERT_TRUE(parse(llama_cfg({{"rms_norm_eps", nullptr}}, "Phi3ForCausalLM"), &hp).ok());
  EXPECT_EQ(hp.rms_eps, 1e-5f);
  EXPECT_TRUE(hp.fused_qkv);
  ASSERT_TRUE(parse(llama_cfg({}, "Qwen3ForCausalLM"), &hp).ok());
  EXPECT_EQ(hp.head_dim, 128u);  // Qwen3Config's default, not hidden / heads
  EXPECT_TRUE(hp.qk_norm);
  EXPECT_FALSE(hp.qkv_bias);
  // A window as wide as the context is no window.
  ASSERT_TRUE(parse(llama_cfg({{"sliding_window", 512}}, "MistralForCausalLM"), &hp).ok());
  EXPECT_EQ(hp.sliding_window, 0u);
  ASSERT_TRUE(parse(llama_cfg({{"sliding_window", 128}}, "MistralForCausalLM"), &hp).ok());
  EXPECT_EQ(hp.sliding_window, 128u);
}

// Gemma 2 / Gemma 3: transformers-4 keys (rope_theta, rope_local_base_freq,
// rope_scaling for the global layers, sliding_window_pattern), the
// transformers-5 per-layer-type rope_parameters, Gemma2Config /
// Gemma3TextConfig defaults, contradictions and refusals.
TEST(ConfigSchema, GemmaKeysDefaultsAndContradictions) {
  HParams hp;
  const nlohmann::json g2 = {{"hidden_act", nullptr}, {"tie_word_embeddings", nullptr}, {"num_hidden_layers", 4}};
  { ggf8::Status gs = parse(llama_cfg(g2, "Gemma2ForCausalLM"), &hp); ASSERT_TRUE(gs.ok()) << gs.message; }
  EXPECT_EQ(hp.arch, "gemma2");
  EXPECT_TRUE(hp.gemma && hp.tied && !hp.qk_norm);
  EXPECT_EQ(hp.head_dim, 256u);                      // Gemma2Config default
  EXPECT_FLOAT_EQ(hp.attn_scale, 1.0f / 16.0f);      // query_pre_attn_scalar 256
  EXPECT_EQ(hp.attn_softcap, 50.0f);
  EXPECT_EQ(hp.final_softcap, 30.0f);
  EXPECT_EQ(hp.embd_scale, 8.0f);                    // sqrt(64)
  EXPECT_EQ(hp.sliding_window, 4096u);
  EXPECT_EQ(hp.swa_layers, (std::vector<uint8_t>{1, 0, 1, 0}));
  // null soft-caps are none; a pattern key is not Gemma 2's
  {  // explicit nulls (llama_cfg drops null-valued keys)
    nlohmann::json j = nlohmann::json::parse(
        llama_cfg({{"hidden_act", nullptr}, {"query_pre_attn_scalar", 24}}, "Gemma2ForCausalLM"));
    j["attn_logit_softcapping"] = nullptr;
    j["final_logit_softcapping"] = nullptr;
    ASSERT_TRUE(parse(j.dump(), &hp).ok());
  }
  EXPECT_EQ(hp.attn_softcap, 0.0f);
  EXPECT_EQ(hp.final_softcap, 0.0f);
  EXPECT_FLOAT_EQ(hp.attn_scale, float(1.0 / std::sqrt(24.0)));
  ASSERT_TRUE(parse(llama_cfg({{"hidden_act", nullptr}, {"sliding_window_pattern", 2}}, "Gemma2ForCausalLM"), &hp).ok());
  EXPECT_EQ(hp.unread_keys, std::vector<std::string>{"sliding_window_pattern"});  // not a Gemma2Config key
  expect_refused(llama_cfg({{"hidden_act", nullptr}, {"hidden_activation", "gelu"}}, "Gemma2ForCausalLM"),
                 {"hidden_activation", "gelu"});
  expect_refused(llama_cfg({{"hidden_act", nullptr}, {"use_bidirectional_attention", true}}, "Gemma2ForCausalLM"),
                 {"use_bidirectional_attention"});

  // Gemma 3, transformers 4 form: 6 layers, pattern 3, local base, linear scaling on the global layers.
  const nlohmann::json g3 = {{"hidden_act", nullptr}, {"num_hidden_layers", 6}, {"rope_theta", 1000000.0},
                             {"rope_local_base_freq", 10000.0}, {"sliding_window", 16},
                             {"sliding_window_pattern", 3}, {"rope_scaling", {{"rope_type", "linear"}, {"factor", 8.0}}}};
  ASSERT_TRUE(parse(llama_cfg(g3, "Gemma3ForCausalLM"), &hp).ok());
  EXPECT_TRUE(hp.qk_norm);
  EXPECT_EQ(hp.attn_softcap, 0.0f);
  EXPECT_EQ(hp.rope_theta, 1000000.0f);
  EXPECT_EQ(hp.rope_local_theta, 10000.0f);
  EXPECT_EQ(hp.rope_type, "linear");
  EXPECT_EQ(hp.rope_factor, 8.0f);
  EXPECT_EQ(hp.swa_layers, (std::vector<uint8_t>{1, 1, 0, 1, 1, 0}));
  // the same in the transformers 5 form
  nlohmann::json g3v5 = g3;
  for (const char* k : {"rope_theta", "rope_local_base_freq", "rope_scaling", "sliding_window_pattern"}) g3v5[k] = nullptr;
  g3v5["rope_parameters"] = {{"full_attention", {{"rope_type", "linear"}, {"factor", 8.0}, {"rope_theta", 1000000.0}}},
                             {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 10000.0}}}};
  g3v5["layer_types"] = {"sliding_attention", "sliding_attention", "full_attention",
                         "sliding_attention", "sliding_attention", "full_attention"};
  HParams hp5;
  ASSERT_TRUE(parse(llama_cfg(g3v5, "Gemma3ForCausalLM"), &hp5).ok());
  EXPECT_EQ(hp5.rope_local_theta, 10000.0f);
  EXPECT_EQ(hp5.rope_theta, 1000000.0f);
  EXPECT_EQ(hp5.rope_type, "linear");
  EXPECT_EQ(hp5.swa_layers, hp.swa_layers);
  // defaults: global 1e6, local 1e4, 5 of every 6 layers windowed
  ASSERT_TRUE(parse(llama_cfg({{"hidden_act", nullptr}, {"num_hidden_layers", 6}}, "Gemma3ForCausalLM"), &hp).ok());
  EXPECT_EQ(hp.rope_theta, 1000000.0f);
  EXPECT_EQ(hp.rope_local_theta, 10000.0f);
  EXPECT_EQ(hp.swa_layers, (std::vector<uint8_t>{1, 1, 1, 1, 1, 0}));
  // contradictions name both
  nlohmann::json bad = g3v5;
  bad["rope_local_base_freq"] = 20000.0;
  expect_refused(llama_cfg(bad, "Gemma3ForCausalLM"), {"rope_local_base_freq", "sliding_attention.rope_theta"});
  bad = g3v5;  // layer_types wins over a pattern (transformers 4 and 5 alike): a note
  bad["sliding_window_pattern"] = 2;
  ASSERT_TRUE(parse(llama_cfg(bad, "Gemma3ForCausalLM"), &hp).ok());
  EXPECT_EQ(hp.swa_layers, hp5.swa_layers);
  ASSERT_EQ(hp.notes.size(), 1u);
  EXPECT_NE(hp.notes[0].find("transformers uses layer_types"), std::string::npos) << hp.notes[0];
  bad = g3v5;  // what transformers 5 writes: _sliding_window_pattern beside layer_types, never read
  bad["_sliding_window_pattern"] = 6;
  ASSERT_TRUE(parse(llama_cfg(bad, "Gemma3ForCausalLM"), &hp).ok());
  EXPECT_EQ(hp.swa_layers, hp5.swa_layers);
  bad = g3v5;
  bad["rope_parameters"]["sliding_attention"]["rope_type"] = "linear";
  expect_refused(llama_cfg(bad, "Gemma3ForCausalLM"), {"sliding_attention.rope_type", "default"});
  // rope_local_base_freq is not a key of other architectures: listed as unread
  ASSERT_TRUE(parse(llama_cfg({{"rope_local_base_freq", 10000.0}}), &hp).ok());
  EXPECT_EQ(hp.unread_keys, std::vector<std::string>{"rope_local_base_freq"});
}

// What the ecosystem writes (issue 20): keys transformers adds, keys no
// transformers code reads, and Gemma 3 as Google publishes it.
TEST(ConfigSchema, AcceptsWhatTheEcosystemWrites) {
  using nlohmann::json;
  HParams hp;
  // save_pretrained of transformers 5.x: bookkeeping keys f8 never needs.
  json saved = json::parse(llama_cfg({{"_model_name_or_path", "HuggingFaceTB/SmolLM2-135M"}, {"unk_token_id", 0},
                                      {"pad_token_id", nullptr}, {"transformers_version", "5.17.0"},
                                      {"rope_parameters", {{"rope_theta", 100000.0}, {"rope_type", "default"}}}}));
  saved["pad_token_id"] = nullptr;
  ASSERT_TRUE(parse(saved.dump(), &hp).ok());
  EXPECT_TRUE(hp.unread_keys.empty());
  EXPECT_TRUE(hp.notes.empty());
  // google/gemma-2-9b-it's config.json: "sliding_window_size" is read by no
  // transformers code (Gemma2Config has "sliding_window").
  const json g2 = {{"architectures", {"Gemma2ForCausalLM"}}, {"attention_bias", false}, {"attention_dropout", 0.0},
                   {"attn_logit_softcapping", 50.0}, {"bos_token_id", 2}, {"cache_implementation", "hybrid"},
                   {"eos_token_id", 1}, {"final_logit_softcapping", 30.0}, {"head_dim", 256},
                   {"hidden_act", "gelu_pytorch_tanh"}, {"hidden_activation", "gelu_pytorch_tanh"},
                   {"hidden_size", 3584}, {"initializer_range", 0.02}, {"intermediate_size", 14336},
                   {"max_position_embeddings", 8192}, {"model_type", "gemma2"}, {"num_attention_heads", 16},
                   {"num_hidden_layers", 42}, {"num_key_value_heads", 8}, {"pad_token_id", 0},
                   {"query_pre_attn_scalar", 256}, {"rms_norm_eps", 1e-06}, {"rope_theta", 10000.0},
                   {"sliding_window", 4096}, {"sliding_window_size", 4096}, {"torch_dtype", "float32"},
                   {"transformers_version", "4.42.0.dev0"}, {"use_cache", true}, {"vocab_size", 256000}};
  ASSERT_TRUE(parse(g2.dump(), &hp).ok());
  EXPECT_EQ(hp.unread_keys, std::vector<std::string>{"sliding_window_size"});
  EXPECT_EQ(hp.sliding_window, 4096u);
  EXPECT_EQ(hp.swa_layers.size(), 42u);
  std::vector<std::string> lines = config_notes(hp, "config.json");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"sliding_window_size\" not read by f8 for Gemma2ForCausalLM"), std::string::npos) << lines[0];
  // Gemma 3 as transformers 5 saves it with its own layer_types: the
  // "_sliding_window_pattern" beside them is never read.
  json g3 = json::parse(llama_cfg({{"hidden_act", nullptr}, {"num_hidden_layers", 4}, {"_sliding_window_pattern", 6},
                                   {"layer_types", {"sliding_attention", "full_attention", "sliding_attention",
                                                    "full_attention"}}},
                                  "Gemma3ForCausalLM"));
  ASSERT_TRUE(parse(g3.dump(), &hp).ok());
  EXPECT_EQ(hp.swa_layers, (std::vector<uint8_t>{1, 0, 1, 0}));
  ASSERT_EQ(hp.notes.size(), 1u);
  EXPECT_NE(hp.notes[0].find("_sliding_window_pattern = 6 is not read: transformers uses layer_types"), std::string::npos);
  // google/gemma-3-4b-it: Gemma3ForConditionalGeneration, the text model's
  // config under text_config with most values left to Gemma3TextConfig's
  // defaults, the vision tower's beside it.
  const json mm = {
      {"architectures", {"Gemma3ForConditionalGeneration"}}, {"boi_token_index", 255999}, {"eoi_token_index", 256000},
      {"eos_token_id", {1, 106}}, {"image_token_index", 262144}, {"initializer_range", 0.02},
      {"mm_tokens_per_image", 256}, {"model_type", "gemma3"},
      {"text_config", {{"hidden_size", 2560}, {"intermediate_size", 10240}, {"model_type", "gemma3_text"},
                       {"num_hidden_layers", 34}, {"rope_scaling", {{"factor", 8.0}, {"rope_type", "linear"}}},
                       {"sliding_window", 1024}, {"some_future_key", 1}}},
      {"torch_dtype", "bfloat16"}, {"transformers_version", "4.50.0.dev0"},
      {"vision_config", {{"hidden_size", 1152}, {"image_size", 896}, {"model_type", "siglip_vision_model"}}}};
  ASSERT_TRUE(parse(mm.dump(), &hp).ok());
  EXPECT_EQ(hp.arch, "gemma3");
  EXPECT_TRUE(hp.multimodal_wrapper);
  EXPECT_EQ(hp.hidden, 2560u);
  EXPECT_EQ(hp.n_layers, 34u);
  EXPECT_EQ(hp.vocab, 262208u);  // Gemma3TextConfig defaults from here on
  EXPECT_EQ(hp.n_heads, 8u);
  EXPECT_EQ(hp.n_kv_heads, 4u);
  EXPECT_EQ(hp.head_dim, 256u);
  EXPECT_EQ(hp.ctx, 131072u);
  EXPECT_TRUE(hp.tied && hp.qk_norm && hp.gemma);
  EXPECT_EQ(hp.rope_theta, 1000000.0f);
  EXPECT_EQ(hp.rope_local_theta, 10000.0f);
  EXPECT_EQ(hp.rope_type, "linear");
  EXPECT_EQ(hp.rope_factor, 8.0f);
  EXPECT_EQ(hp.sliding_window, 1024u);
  EXPECT_EQ(hp.swa_layers[5], 0);
  EXPECT_EQ(hp.swa_layers[4], 1);
  EXPECT_EQ(hp.eos_ids, (std::vector<int64_t>{1, 106}));
  EXPECT_EQ(hp.unread_keys, std::vector<std::string>{"text_config.some_future_key"});
  ASSERT_EQ(hp.notes.size(), 1u);
  EXPECT_NE(hp.notes[0].find("vision tower"), std::string::npos);
  // a nested key can be skipped by name
  ASSERT_TRUE(parse(mm.dump(), &hp, {"text_config.some_future_key", "text_config.rope_scaling"}).ok());
  EXPECT_TRUE(hp.unread_keys.empty());
  EXPECT_EQ(hp.rope_type, "none");
  EXPECT_EQ(hp.ignored_keys.size(), 2u);
  // Tensor names: both layouts transformers has saved, the vision side skipped.
  MappedName m;
  ASSERT_TRUE(map_hf_name(hp, "language_model.model.layers.3.self_attn.q_proj.weight", &m));
  EXPECT_EQ(m.canonical, "blk.3.attn_q.weight");
  ASSERT_TRUE(map_hf_name(hp, "model.language_model.embed_tokens.weight", &m));
  EXPECT_EQ(m.canonical, "token_embd.weight");
  ASSERT_TRUE(map_hf_name(hp, "model.vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight", &m));
  EXPECT_EQ(m.role, Role::Ignore);
  ASSERT_TRUE(map_hf_name(hp, "multi_modal_projector.mm_input_projection_weight", &m));
  EXPECT_EQ(m.role, Role::Ignore);
  EXPECT_FALSE(map_hf_name(hp, "model.layers.0.self_attn.q_proj.weight", &m));  // not the wrapper's layout
}

// config.json files written by transformers 4 and 5 themselves
// (scripts/gen_config_fixtures.py) against transformers' own reading of them.
TEST(ConfigSchema, WrittenByTransformers4And5) {
  const fs::path root = fs::path(F8_SOURCE_DIR) / "tests" / "goldens" / "configs";
  int n = 0;
  std::set<std::string> majors;
  for (const auto& ver : fs::directory_iterator(root)) {
    // transformers-4 / transformers-5 hold expected.json; published/ and
    // saved-tf5/ are the config corpus (tests/py/test_config_corpus.py).
    if (ver.path().filename().string().rfind("transformers-", 0) != 0) continue;
    for (const auto& c : fs::directory_iterator(ver.path())) {
      if (!c.is_directory()) continue;
      SCOPED_TRACE(c.path().string());
      std::ifstream ef(c.path() / "expected.json");
      nlohmann::json e = nlohmann::json::parse(ef);
      HParams hp;
      ggf8::Status s = load_hf_config((c.path() / "config.json").string(), &hp);
      ++n;
      majors.insert(ver.path().filename().string());
      if (e.contains("refused")) {
        ASSERT_FALSE(s.ok());
        EXPECT_NE(s.message.find(e["refused"].get<std::string>()), std::string::npos) << s.message;
        continue;
      }
      ASSERT_TRUE(s.ok()) << s.message;
      EXPECT_EQ(hp.hf_arch, e["architecture"].get<std::string>());
      EXPECT_EQ(hp.hidden, e["hidden_size"].get<uint64_t>());
      EXPECT_EQ(hp.head_dim, e["head_dim"].get<uint64_t>());
      EXPECT_EQ(hp.rms_eps, e["rms_norm_eps"].get<float>());
      EXPECT_EQ(hp.tied, e["tie_word_embeddings"].get<bool>());
      EXPECT_EQ(hp.rope_theta, e["rope_theta"].get<float>());
      const std::string rt = e["rope_type"].get<std::string>();
      EXPECT_EQ(hp.rope_type, rt == "default" ? "none" : rt);
      if (!e["rope_factor"].is_null()) EXPECT_EQ(hp.rope_factor, e["rope_factor"].get<float>());
      if (!e["rope_low_freq_factor"].is_null()) EXPECT_EQ(hp.rope_low_freq, e["rope_low_freq_factor"].get<float>());
      if (!e["rope_high_freq_factor"].is_null()) EXPECT_EQ(hp.rope_high_freq, e["rope_high_freq_factor"].get<float>());
      if (!e["rope_original_max_position_embeddings"].is_null())
        EXPECT_EQ(hp.rope_orig_ctx, e["rope_original_max_position_embeddings"].get<uint64_t>());
      EXPECT_EQ(hp.sliding_window, e["sliding_window"].get<uint64_t>());
      EXPECT_EQ(hp.eos_ids, e["eos_token_id"].get<std::vector<int64_t>>());
      if (rt == "yarn") {
        if (e.contains("rope_attention_factor"))
          EXPECT_EQ(hp.rope_attn_factor, float(e["rope_attention_factor"].get<double>()));
        EXPECT_EQ(hp.rope_beta_fast, e["rope_beta_fast"].get<float>());
        EXPECT_EQ(hp.rope_beta_slow, e["rope_beta_slow"].get<float>());
        EXPECT_EQ(hp.rope_truncate, e["rope_truncate"].get<bool>());
      }
      // Windowed layers as transformers lists them (empty = every layer).
      if (e.contains("layer_types") && hp.sliding_window > 0) {
        std::vector<uint8_t> want;
        bool all = true;
        for (const auto& t : e["layer_types"]) {
          want.push_back(t.get<std::string>() == "sliding_attention");
          all = all && want.back();
        }
        if (all)
          EXPECT_TRUE(hp.swa_layers.empty() || hp.swa_layers == want);
        else
          EXPECT_EQ(hp.swa_layers, want);
      }
    }
  }
  EXPECT_GE(n, 20);
  EXPECT_TRUE(majors.count("transformers-4") && majors.count("transformers-5"));
}

TEST_F(Convert, ChatTemplateJinjaWinsAndConfigEosIsTheFallback) {
  TinyModel m;
  m.write(dir);
  // config.json with eos_token_id, no generation_config.json
  std::string cfg = m.config_json();
  cfg.insert(cfg.size() - 1, ",\"eos_token_id\":[5,6]");
  write_file(dir + "/config.json", cfg);
  write_file(dir + "/tokenizer.json",
             R"({"model":{"type":"BPE","vocab":{"a":0,"b":1,"c":2,"d":3,"e":4,"f":5,"g":6},"merges":[]}})");
  write_file(dir + "/tokenizer_config.json", R"({"chat_template":"OLD {{ messages }}","eos_token":"e"})");
  write_file(dir + "/chat_template.jinja", "NEW {{ messages }}");
  ggf8::Status s = convert();
  ASSERT_TRUE(s.ok()) << s.message;
  auto f = open_out();
  EXPECT_EQ(meta_str(*f, ggf8::keys::kChatTemplate), "NEW {{ messages }}");
  bool warned = false;
  for (const auto& w : rep.warnings) warned |= w.find("chat_template.jinja and tokenizer_config.json") != std::string::npos;
  EXPECT_TRUE(warned);
  std::vector<int64_t> eos;
  ASSERT_NE(f->find(ggf8::keys::kGenEosIds), nullptr);
  ASSERT_TRUE(f->find(ggf8::keys::kGenEosIds)->to_i64_vector(&eos));
  EXPECT_EQ(eos, (std::vector<int64_t>{5, 6, 4}));
  // generation_config.json, when present, is what counts
  write_file(dir + "/generation_config.json", R"({"eos_token_id": 3})");
  ConvertOptions o;
  o.overwrite = true;
  f.reset();
  ASSERT_TRUE(convert(o).ok());
  f = open_out();
  ASSERT_TRUE(f->find(ggf8::keys::kGenEosIds)->to_i64_vector(&eos));
  EXPECT_EQ(eos, (std::vector<int64_t>{3, 4}));
}

// Phi-3: qkv_proj [q; k; v] and gate_up_proj [gate; up] split by rows; every
// part equals its rows of the fused source (BF16 kept: exact).
TEST_F(Convert, Phi3FusedProjectionsAreSplitByRows) {
  TinyModel m;
  m.arch = "Phi3ForCausalLM";
  m.dtype = "BF16";
  const auto es = m.entries(5);
  std::map<std::string, StEntry> by;
  for (const auto& e : es) by[e.name] = e;
  std::vector<StEntry> fused;
  for (const auto& e : es) {
    const std::string& n = e.name;
    auto cat = [&](const std::string& name, std::vector<std::string> parts) {
      StEntry f{name, e.dtype, {0, e.shape[1]}, {}};
      for (const auto& p : parts) {
        f.shape[0] += by[p].shape[0];
        f.bytes.insert(f.bytes.end(), by[p].bytes.begin(), by[p].bytes.end());
      }
      fused.push_back(f);
    };
    const size_t at = n.find("self_attn.q_proj.weight"), ag = n.find("mlp.gate_proj.weight");
    if (at != std::string::npos) {
      const std::string p = n.substr(0, at);
      cat(p + "self_attn.qkv_proj.weight",
          {p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"});
    } else if (ag != std::string::npos) {
      const std::string p = n.substr(0, ag);
      cat(p + "mlp.gate_up_proj.weight", {p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"});
    } else if (n.find("k_proj") == std::string::npos && n.find("v_proj") == std::string::npos &&
               n.find("up_proj") == std::string::npos) {
      fused.push_back(e);
    }
  }
  write_file(dir + "/config.json", m.config_json());
  write_file(dir + "/model.safetensors", st_image(fused));
  ConvertOptions o;
  o.weights = WeightFormat::BF16;
  ggf8::Status s = convert(o);
  ASSERT_TRUE(s.ok()) << s.message;
  auto f = open_out();
  EXPECT_EQ(meta_str(*f, ggf8::keys::kArchitecture), "phi3");
  check_roundtrip(*f, es, 0.0);  // the unfused tensors, by their canonical names
  EXPECT_EQ(f->tensor("blk.0.attn_qkv.weight"), nullptr);
  // A fused tensor of the wrong height names the shape config.json implies.
  fused[2].shape[0] -= 1;
  fused[2].bytes.resize(fused[2].bytes.size() - 2 * fused[2].shape[1]);
  write_file(dir + "/model.safetensors", st_image(fused));
  f.reset();
  fs::remove(out);
  expect_failure(convert(o), "config.json implies");
}

// SeedOssForCausalLM: SeedOssConfig's bias switches (q/k/v on, o_proj off by
// default), run as "llama" with the bias flags; MLP biases are refused by name.
TEST(ConfigSchema, SeedOssBiasesAndDefaults) {
  using nlohmann::json;
  HParams hp;
  ASSERT_TRUE(parse(llama_cfg({{"head_dim", 32}}, "SeedOssForCausalLM"), &hp).ok());
  EXPECT_EQ(hp.arch, "llama");
  EXPECT_TRUE(hp.qkv_bias);
  EXPECT_FALSE(hp.attn_out_bias);
  EXPECT_EQ(hp.head_dim, 32u);
  ASSERT_TRUE(parse(llama_cfg({{"attention_bias", false}, {"attention_out_bias", true}, {"residual_dropout", 0.1}},
                              "SeedOssForCausalLM"),
                    &hp)
                  .ok());
  EXPECT_FALSE(hp.qkv_bias);
  EXPECT_TRUE(hp.attn_out_bias);
  EXPECT_TRUE(hp.unread_keys.empty()) << hp.unread_keys.front();  // the dropouts are training-only
  HParams d;  // nothing stated: SeedOssConfig's own defaults
  ASSERT_TRUE(parse(R"({"architectures": ["SeedOssForCausalLM"]})", &d).ok());
  EXPECT_EQ(d.vocab, 155136u);
  EXPECT_EQ(d.n_layers, 64u);
  EXPECT_EQ(d.n_heads, 80u);
  EXPECT_EQ(d.n_kv_heads, 8u);
  EXPECT_EQ(d.head_dim, 128u);
  expect_refused(llama_cfg({{"mlp_bias", true}}, "SeedOssForCausalLM"), {"mlp_bias", "not implemented"});
}

// LlamaForCausalLM's attention_bias: biases on q/k/v and o_proj (the block
// the seed-oss golden checks); mlp_bias is refused.
TEST(ConfigSchema, LlamaAttentionBias) {
  HParams hp;
  ASSERT_TRUE(parse(llama_cfg({{"attention_bias", true}}), &hp).ok());
  EXPECT_TRUE(hp.qkv_bias);
  EXPECT_TRUE(hp.attn_out_bias);
  ASSERT_TRUE(parse(llama_cfg({{"attention_bias", false}}), &hp).ok());
  EXPECT_FALSE(hp.qkv_bias || hp.attn_out_bias);
  expect_refused(llama_cfg({{"mlp_bias", true}}), {"mlp_bias", "not implemented"});
}
