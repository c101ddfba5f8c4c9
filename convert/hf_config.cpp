// hf_config.cpp — config.json parsing and validation (see hf_config.h).
#include "convert/hf_config.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "convert/safetensors.h"  // parse_json_strict
#include "ggf8/keys.h"

namespace f8conv {

using ggf8::Code;
using ggf8::KV;
using ggf8::Status;
using ggf8::Value;
using nlohmann::json;

namespace {

struct ArchName {
  const char* hf;
  const char* ours;
};
constexpr ArchName kArchs[] = {
    {"LlamaForCausalLM", "llama"},
    {"MistralForCausalLM", "mistral"},
    {"Qwen2ForCausalLM", "qwen2"},
};

constexpr uint64_t kMaxDim = 1ull << 31;  // sanity bound on any size field

class Reader {
 public:
  Reader(const json& j, std::string file) : j_(j), file_(std::move(file)) {}
  Status fail(Code c, const std::string& field, const std::string& what) const {
    return Status::Error(c, file_ + ": \"" + field + "\" " + what);
  }
  bool has(const char* f) const { return j_.contains(f) && !j_[f].is_null(); }
  // Positive integer field in [1, kMaxDim]; `def` used when absent (0 = required).
  Status uint(const char* f, uint64_t def, uint64_t* out, bool allow_zero = false) const {
    if (!has(f)) {
      if (def == 0 && !allow_zero) return fail(Code::NotFound, f, "is missing");
      *out = def;
      return Status::Ok();
    }
    const json& v = j_[f];
    if (!v.is_number_unsigned()) return fail(Code::BadType, f, "must be a non-negative integer, got " + v.dump());
    uint64_t x = v.get<uint64_t>();
    if ((x == 0 && !allow_zero) || x > kMaxDim)
      return fail(Code::BadShape, f, "= " + std::to_string(x) + " is out of range [1, 2^31]");
    *out = x;
    return Status::Ok();
  }
  Status real(const char* f, float def, float* out, bool positive = true) const {
    if (!has(f)) {
      *out = def;
      return Status::Ok();
    }
    const json& v = j_[f];
    if (!v.is_number()) return fail(Code::BadType, f, "must be a number, got " + v.dump());
    double x = v.get<double>();
    if (!std::isfinite(x) || (positive && x <= 0))
      return fail(Code::BadType, f, "= " + v.dump() + " must be finite" + (positive ? " and > 0" : ""));
    *out = static_cast<float>(x);
    return Status::Ok();
  }
  Status boolean(const char* f, bool def, bool* out, bool* given = nullptr) const {
    if (given) *given = has(f);
    if (!has(f)) {
      *out = def;
      return Status::Ok();
    }
    if (!j_[f].is_boolean()) return fail(Code::BadType, f, "must be true or false, got " + j_[f].dump());
    *out = j_[f].get<bool>();
    return Status::Ok();
  }

 private:
  const json& j_;
  std::string file_;
};

#define F8_TRY(expr)              \
  do {                            \
    Status _s = (expr);           \
    if (!_s.ok()) return _s;      \
  } while (0)

Status parse_rope_scaling(const json& rs, const std::string& file, HParams* hp) {
  if (rs.is_null()) return Status::Ok();
  if (!rs.is_object()) return Status::Error(Code::BadType, file + ": \"rope_scaling\" must be an object or null");
  std::string type;
  for (const char* k : {"rope_type", "type"})
    if (rs.contains(k) && rs[k].is_string()) {
      type = rs[k].get<std::string>();
      break;
    }
  Reader r(rs, file + " rope_scaling");
  if (type.empty() || type == "default") return Status::Ok();
  if (type == "linear") {
    hp->rope_type = "linear";
    F8_TRY(r.real("factor", 0.f, &hp->rope_factor));
    if (hp->rope_factor <= 0) return r.fail(Code::NotFound, "factor", "is missing");
    return Status::Ok();
  }
  if (type == "llama3") {
    hp->rope_type = "llama3";
    F8_TRY(r.real("factor", 0.f, &hp->rope_factor));
    F8_TRY(r.real("low_freq_factor", 0.f, &hp->rope_low_freq));
    F8_TRY(r.real("high_freq_factor", 0.f, &hp->rope_high_freq));
    F8_TRY(r.uint("original_max_position_embeddings", 0, &hp->rope_orig_ctx));
    if (hp->rope_factor <= 0 || hp->rope_low_freq <= 0 || hp->rope_high_freq <= 0)
      return Status::Error(Code::NotFound,
                           file + ": rope_scaling llama3 needs factor, low_freq_factor and high_freq_factor");
    if (hp->rope_high_freq <= hp->rope_low_freq)
      return Status::Error(Code::BadType, file + ": rope_scaling high_freq_factor must exceed low_freq_factor");
    return Status::Ok();
  }
  return Status::Error(Code::BadType, file + ": rope_scaling type \"" + type +
                                          "\" is not supported (supported: default, linear, llama3)");
}

Status parse_quant_config(const json& q, const std::string& file, HfQuantConfig* qc) {
  if (q.is_null()) return Status::Ok();
  if (!q.is_object()) return Status::Error(Code::BadType, file + ": \"quantization_config\" must be an object");
  std::string m = q.contains("quant_method") && q["quant_method"].is_string() ? q["quant_method"].get<std::string>() : "";
  if (m != "compressed-tensors" && m != "fp8")
    return Status::Error(Code::BadType, file + ": quantization_config.quant_method \"" + m +
                                            "\" is not supported (supported: compressed-tensors FP8, fp8)");
  qc->method = m;
  // Block size: fp8 (DeepSeek style) says weight_block_size; compressed-tensors
  // block strategy says config_groups.*.weights.block_structure.
  const json* bs = nullptr;
  if (q.contains("weight_block_size") && q["weight_block_size"].is_array()) bs = &q["weight_block_size"];
  if (!bs && q.contains("config_groups") && q["config_groups"].is_object())
    for (const auto& g : q["config_groups"])
      if (g.is_object() && g.contains("weights") && g["weights"].is_object() &&
          g["weights"].contains("block_structure") && g["weights"]["block_structure"].is_array())
        bs = &g["weights"]["block_structure"];
  if (bs) {
    if (bs->size() != 2 || !(*bs)[0].is_number_unsigned() || !(*bs)[1].is_number_unsigned() ||
        (*bs)[0].get<uint64_t>() == 0 || (*bs)[1].get<uint64_t>() == 0 ||
        (*bs)[0].get<uint64_t>() > 65536 || (*bs)[1].get<uint64_t>() > 65536)
      return Status::Error(Code::BadShape, file + ": quantization_config block size must be [rows, cols] in 1..65536, got " + bs->dump());
    qc->block_rows = static_cast<uint32_t>((*bs)[0].get<uint64_t>());
    qc->block_cols = static_cast<uint32_t>((*bs)[1].get<uint64_t>());
  }
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& supported_architectures() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> r;
    for (const auto& a : kArchs) r.push_back(a.hf);
    return r;
  }();
  return v;
}

Status parse_hf_config(const std::string& text, const std::string& file, HParams* out) {
  json j;
  std::string jerr;
  if (!parse_json_strict(text.data(), text.size(), &j, &jerr)) return Status::Error(Code::BadString, file + ": " + jerr);
  if (!j.is_object()) return Status::Error(Code::BadType, file + ": not a JSON object");
  HParams hp;
  if (!j.contains("architectures") || !j["architectures"].is_array() || j["architectures"].empty() ||
      !j["architectures"][0].is_string())
    return Status::Error(Code::NotFound, file + ": \"architectures\" is missing or not a list of strings");
  hp.hf_arch = j["architectures"][0].get<std::string>();
  for (const auto& a : kArchs)
    if (hp.hf_arch == a.hf) hp.arch = a.ours;
  if (hp.arch.empty()) {
    std::string list;
    for (const auto& a : kArchs) list += std::string(list.empty() ? "" : ", ") + a.hf;
    return Status::Error(Code::BadType,
                         file + ": architecture \"" + hp.hf_arch + "\" is not supported (supported: " + list + ")");
  }
  if (j.contains("model_type") && j["model_type"].is_string()) hp.model_type = j["model_type"].get<std::string>();

  Reader r(j, file);
  F8_TRY(r.uint("hidden_size", 0, &hp.hidden));
  F8_TRY(r.uint("num_hidden_layers", 0, &hp.n_layers));
  F8_TRY(r.uint("num_attention_heads", 0, &hp.n_heads));
  F8_TRY(r.uint("num_key_value_heads", hp.n_heads, &hp.n_kv_heads));
  F8_TRY(r.uint("intermediate_size", 0, &hp.ffn));
  F8_TRY(r.uint("vocab_size", 0, &hp.vocab));
  F8_TRY(r.uint("max_position_embeddings", 0, &hp.ctx));
  if (r.has("head_dim")) {
    F8_TRY(r.uint("head_dim", 0, &hp.head_dim));
  } else {
    if (hp.hidden % hp.n_heads != 0)
      return Status::Error(Code::BadShape, file + ": hidden_size " + std::to_string(hp.hidden) +
                                               " is not divisible by num_attention_heads " + std::to_string(hp.n_heads));
    hp.head_dim = hp.hidden / hp.n_heads;
  }
  if (hp.n_heads % hp.n_kv_heads != 0)
    return Status::Error(Code::BadShape, file + ": num_attention_heads " + std::to_string(hp.n_heads) +
                                             " is not a multiple of num_key_value_heads " + std::to_string(hp.n_kv_heads));
  if (hp.head_dim % 2 != 0)
    return Status::Error(Code::BadShape, file + ": head_dim " + std::to_string(hp.head_dim) + " must be even for RoPE");
  F8_TRY(r.real("rms_norm_eps", 1e-6f, &hp.rms_eps));
  F8_TRY(r.real("rope_theta", 10000.f, &hp.rope_theta));
  // Llama/Mistral/Qwen2 configs default to untied; SmolLM2 says true.
  F8_TRY(r.boolean("tie_word_embeddings", false, &hp.tied, &hp.tied_given));

  std::string act = j.contains("hidden_act") && j["hidden_act"].is_string() ? j["hidden_act"].get<std::string>() : "silu";
  if (act != "silu")
    return Status::Error(Code::BadType, file + ": hidden_act \"" + act + "\" is not supported (only silu)");
  bool mlp_bias = false, attn_bias = false;
  F8_TRY(r.boolean("mlp_bias", false, &mlp_bias));
  if (mlp_bias) return Status::Error(Code::BadType, file + ": mlp_bias true is not supported");
  if (hp.arch == "qwen2") {
    hp.qkv_bias = true;
    bool sw = false;
    F8_TRY(r.boolean("use_sliding_window", false, &sw));
    if (sw) return Status::Error(Code::BadType, file + ": Qwen2 use_sliding_window true is not supported");
  } else {
    F8_TRY(r.boolean("attention_bias", false, &attn_bias));
    // Llama's attention_bias also puts a bias on o_proj, which the runtime has no slot for.
    if (attn_bias) return Status::Error(Code::BadType, file + ": attention_bias true is not supported for " + hp.hf_arch);
  }
  if (hp.arch == "mistral") F8_TRY(r.uint("sliding_window", 0, &hp.sliding_window, /*allow_zero=*/true));
  if (j.contains("rope_scaling")) F8_TRY(parse_rope_scaling(j["rope_scaling"], file, &hp));
  if (j.contains("quantization_config")) F8_TRY(parse_quant_config(j["quantization_config"], file, &hp.quant));
  *out = hp;
  return Status::Ok();
}

Status load_hf_config(const std::string& path, HParams* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Error(Code::NotFound, path + ": cannot open (a model directory needs config.json)");
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return Status::Error(Code::Io, path + ": read failed");
  std::string text = ss.str();
  if (text.size() > (64u << 20)) return Status::Error(Code::BadCount, path + ": larger than 64 MiB");
  return parse_hf_config(text, path, out);
}

std::vector<KV> hparams_metadata(const HParams& hp) {
  namespace k = ggf8::keys;
  std::vector<KV> m;
  m.push_back({k::kArchitecture, Value::str(hp.arch)});
  m.push_back({k::kSourceArch, Value::str(hp.hf_arch)});
  m.push_back({k::kContextLength, Value::u64(hp.ctx)});
  m.push_back({k::kEmbeddingLength, Value::u64(hp.hidden)});
  m.push_back({k::kBlockCount, Value::u64(hp.n_layers)});
  m.push_back({k::kFeedForwardLength, Value::u64(hp.ffn)});
  m.push_back({k::kHeadCount, Value::u64(hp.n_heads)});
  m.push_back({k::kHeadCountKv, Value::u64(hp.n_kv_heads)});
  m.push_back({k::kHeadDim, Value::u64(hp.head_dim)});
  m.push_back({k::kRmsEps, Value::f32(hp.rms_eps)});
  m.push_back({k::kQkvBias, Value::boolean(hp.qkv_bias)});
  m.push_back({k::kSlidingWindow, Value::u64(hp.sliding_window)});
  m.push_back({k::kVocabSize, Value::u64(hp.vocab)});
  m.push_back({k::kTiedEmbeddings, Value::boolean(hp.tied)});
  m.push_back({k::kRopeFreqBase, Value::f32(hp.rope_theta)});
  m.push_back({k::kRopeScalingType, Value::str(hp.rope_type)});
  if (hp.rope_type != "none") m.push_back({k::kRopeScalingFactor, Value::f32(hp.rope_factor)});
  if (hp.rope_type == "llama3") {
    m.push_back({k::kRopeScalingLowFreq, Value::f32(hp.rope_low_freq)});
    m.push_back({k::kRopeScalingHighFreq, Value::f32(hp.rope_high_freq)});
    m.push_back({k::kRopeScalingOrigCtx, Value::u64(hp.rope_orig_ctx)});
  }
  return m;
}

}  // namespace f8conv
