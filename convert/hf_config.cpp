// hf_config.cpp — config.json -> HParams: picks the architecture's schema
// (config_schemas.h), reads the keys every architecture shares (stop ids,
// dtype, quantization), and accepts every key nothing read: known
// bookkeeping silently, the rest listed (see hf_config.h).
#include "convert/hf_config.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "convert/config_schemas.h"
#include "convert/safetensors.h"  // parse_json_strict
#include "ggf8/keys.h"

namespace f8conv {

using ggf8::Code;
using ggf8::KV;
using ggf8::Status;
using ggf8::Value;
using nlohmann::json;

namespace {

using cfg::Notes;
using cfg::Reader;

// One row per architecture: its Hugging Face name, general.architecture, and
// the schema that reads its config.
using Schema = Status (*)(Reader&, HParams*, Notes*, std::vector<std::string>*);
template <Status (*F)(Reader&, HParams*, Notes*)>
Status flat(Reader& r, HParams* hp, Notes* n, std::vector<std::string>*) {
  return F(r, hp, n);
}
struct Arch {
  const char* hf;
  const char* ours;
  Schema schema;
};
constexpr Arch kArchs[] = {
    {"LlamaForCausalLM", "llama", flat<cfg::schema_llama>},
    {"MistralForCausalLM", "mistral", flat<cfg::schema_mistral>},
    {"Qwen2ForCausalLM", "qwen2", flat<cfg::schema_qwen2>},
    {"Qwen3ForCausalLM", "qwen3", flat<cfg::schema_qwen3>},
    {"Phi3ForCausalLM", "phi3", flat<cfg::schema_phi3>},
    {"SeedOssForCausalLM", "llama", flat<cfg::schema_seed_oss>},
    {"Gemma2ForCausalLM", "gemma2", flat<cfg::schema_gemma2>},
    {"Gemma3ForCausalLM", "gemma3", flat<cfg::schema_gemma3>},
    {"Gemma3ForConditionalGeneration", "gemma3", cfg::schema_gemma3_multimodal},
    {"MixtralForCausalLM", "mixtral", flat<cfg::schema_mixtral>},
    {"Qwen2MoeForCausalLM", "qwen2moe", flat<cfg::schema_qwen2_moe>},
    {"Qwen3MoeForCausalLM", "qwen3moe", flat<cfg::schema_qwen3_moe>},
    {"GptOssForCausalLM", "gpt-oss", flat<cfg::schema_gpt_oss>},
    {"DeepseekV3ForCausalLM", "deepseek3", flat<cfg::schema_deepseek_v3>},
};

// --ignore-config-key: the named keys are removed before any schema looks.
Status drop_ignored(json* j, const std::vector<std::string>& keys, HParams* hp) {
  for (const std::string& k : keys) {
    json* obj = j;
    std::string leaf = k;
    if (k.rfind("text_config.", 0) == 0 && j->contains("text_config") && (*j)["text_config"].is_object()) {
      obj = &(*j)["text_config"];
      leaf = k.substr(12);
    }
    if (!obj->contains(leaf)) {
      hp->notes.push_back("--ignore-config-key " + k + ": there is no such key");
      continue;
    }
    obj->erase(leaf);
    hp->ignored_keys.push_back(k);
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

Status parse_hf_config(const std::string& text, const std::string& file, HParams* out, const HfConfigOptions& opts) {
  json j;
  std::string jerr;
  if (!parse_json_strict(text.data(), text.size(), &j, &jerr)) return Status::Error(Code::BadString, file + ": " + jerr);
  if (!j.is_object()) return Status::Error(Code::BadType, file + ": not a JSON object");
  HParams hp;
  if (!j.contains("architectures") || !j["architectures"].is_array() || j["architectures"].empty() ||
      !j["architectures"][0].is_string())
    return Status::Error(Code::NotFound, file + ": \"architectures\" is missing or not a list of strings");
  hp.hf_arch = j["architectures"][0].get<std::string>();
  const Arch* arch = nullptr;
  for (const auto& a : kArchs)
    if (hp.hf_arch == a.hf) arch = &a;
  if (!arch) {
    std::string list;
    for (const auto& a : kArchs) list += std::string(list.empty() ? "" : ", ") + a.hf;
    return Status::Error(Code::BadType,
                         file + ": architecture \"" + hp.hf_arch + "\" is not supported (supported: " + list + ")");
  }
  hp.arch = arch->ours;
  F8_CFG_TRY(drop_ignored(&j, opts.ignore_keys, &hp));

  Reader r(j, file);
  r.touch("architectures");
  F8_CFG_TRY(r.str("model_type", "", &hp.model_type));
  std::vector<std::string> nested_unread;
  F8_CFG_TRY(arch->schema(r, &hp, &hp.notes, &nested_unread));

  // Stored dtype of the checkpoint: "torch_dtype" (transformers 4) or "dtype"
  // (5); informative only (the tensors' own dtypes are what f8 converts).
  for (const char* k : {"dtype", "torch_dtype"}) {
    std::string d;
    if (!r.has(k)) continue;
    F8_CFG_TRY(r.str(k, "", &d));
    if (!hp.dtype.empty() && hp.dtype != d)
      hp.notes.push_back(std::string("dtype = \"") + hp.dtype + "\" but torch_dtype = \"" + d +
                         "\": transformers 5 reads dtype; f8 converts the tensors as stored either way");
    else
      hp.dtype = d;
  }
  F8_CFG_TRY(cfg::read_eos(r, &hp));
  bool encdec = false;
  F8_CFG_TRY(r.boolean("is_encoder_decoder", false, &encdec));
  if (encdec) return r.refuse("is_encoder_decoder", "encoder-decoder models are not supported");
  F8_CFG_TRY(cfg::read_quant(r, &hp.quant));
  if (hp.quant.method == "mxfp4" && hp.expert_names != "gpt_oss")
    return Status::Error(Code::BadType, file + ": quantization_config.quant_method \"mxfp4\" is supported for "
                                               "GptOssForCausalLM's experts only, not for " + hp.hf_arch);

  hp.unread_keys = cfg::unread_keys(r);
  hp.unread_keys.insert(hp.unread_keys.end(), nested_unread.begin(), nested_unread.end());
  *out = hp;
  return Status::Ok();
}

Status load_hf_config(const std::string& path, HParams* out, const HfConfigOptions& opts) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Error(Code::NotFound, path + ": cannot open (a model directory needs config.json)");
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return Status::Error(Code::Io, path + ": read failed");
  std::string text = ss.str();
  if (text.size() > (64u << 20)) return Status::Error(Code::BadCount, path + ": larger than 64 MiB");
  return parse_hf_config(text, path, out, opts);
}

std::vector<std::string> config_notes(const HParams& hp, const std::string& file) {
  auto quoted = [](const std::vector<std::string>& v) {
    std::string l;
    for (const auto& k : v) l += (l.empty() ? "\"" : ", \"") + k + "\"";
    return l;
  };
  std::vector<std::string> out;
  for (const auto& n : hp.notes) out.push_back(file + ": " + n);
  if (!hp.unread_keys.empty())
    out.push_back(file + ": key" + (hp.unread_keys.size() > 1 ? "s " : " ") + quoted(hp.unread_keys) +
                  " not read by f8 for " + hp.hf_arch +
                  ": accepted as not changing the computation (listed in the file's general.source.config_unread)");
  if (!hp.ignored_keys.empty())
    out.push_back(file + ": skipped as asked (--ignore-config-key): " + quoted(hp.ignored_keys));
  return out;
}

std::vector<KV> hparams_metadata(const HParams& hp) {
  namespace k = ggf8::keys;
  std::vector<KV> m;
  m.push_back({k::kArchitecture, Value::str(hp.arch)});
  m.push_back({k::kSourceArch, Value::str(hp.hf_arch)});
  if (!hp.unread_keys.empty()) m.push_back({k::kSourceConfigUnread, Value::array_str(hp.unread_keys)});
  if (!hp.ignored_keys.empty()) m.push_back({k::kSourceConfigIgnored, Value::array_str(hp.ignored_keys)});
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
  if (!hp.swa_layers.empty()) m.push_back({k::kSlidingWindowLayers, Value::bytes(hp.swa_layers)});
  if (hp.gemma) {
    m.push_back({k::kAttnScale, Value::f32(hp.attn_scale)});
    m.push_back({k::kAttnSoftcap, Value::f32(hp.attn_softcap)});
    m.push_back({k::kFinalSoftcap, Value::f32(hp.final_softcap)});
    m.push_back({k::kEmbeddingScale, Value::f32(hp.embd_scale)});
    m.push_back({k::kFfnActivation, Value::str("gelu_tanh")});
    m.push_back({k::kPostNorms, Value::boolean(true)});
    if (hp.rope_local_theta > 0) m.push_back({k::kRopeFreqBaseLocal, Value::f32(hp.rope_local_theta)});
  }
  if (hp.n_experts) {
    m.push_back({k::kExpertCount, Value::u64(hp.n_experts)});
    m.push_back({k::kExpertUsedCount, Value::u64(hp.n_experts_used)});
    m.push_back({k::kExpertFeedForwardLength, Value::u64(hp.moe_ffn)});
    m.push_back({k::kExpertSharedFeedForwardLength, Value::u64(hp.shexp_ffn)});
    m.push_back({k::kExpertGating, Value::str(hp.gating)});
    m.push_back({k::kExpertNormTopk, Value::boolean(hp.norm_topk)});
    m.push_back({k::kExpertSharedGate, Value::boolean(hp.shexp_gate)});
    if (!hp.moe_layers.empty()) m.push_back({k::kExpertLayers, Value::bytes(hp.moe_layers)});
    if (hp.expert_act != "silu") {
      m.push_back({k::kExpertActivation, Value::str(hp.expert_act)});
      m.push_back({k::kExpertSwigluAlpha, Value::f32(hp.swiglu_alpha)});
      m.push_back({k::kExpertSwigluLimit, Value::f32(hp.swiglu_limit)});
    }
  }
  if (hp.mla) {
    m.push_back({k::kAttnQLoraRank, Value::u64(hp.q_lora)});
    m.push_back({k::kAttnKvLoraRank, Value::u64(hp.kv_lora)});
    m.push_back({k::kAttnQkNopeDim, Value::u64(hp.qk_nope)});
    m.push_back({k::kAttnQkRopeDim, Value::u64(hp.qk_rope)});
    m.push_back({k::kAttnVDim, Value::u64(hp.v_head)});
    m.push_back({k::kAttnScale, Value::f32(hp.attn_scale)});
  }
  if (hp.gating == "sigmoid_group_topk") {
    m.push_back({k::kExpertGroupCount, Value::u64(hp.n_group)});
    m.push_back({k::kExpertGroupUsedCount, Value::u64(hp.topk_group)});
    m.push_back({k::kExpertWeightsScale, Value::f32(hp.routed_scale)});
  }
  if (hp.attn_out_bias) m.push_back({k::kAttnOutputBias, Value::boolean(true)});
  if (hp.attn_sinks) m.push_back({k::kAttnSinks, Value::boolean(true)});
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
  if (hp.rope_type == "yarn") {
    m.push_back({k::kRopeScalingOrigCtx, Value::u64(hp.rope_orig_ctx)});
    m.push_back({k::kRopeScalingBetaFast, Value::f32(hp.rope_beta_fast)});
    m.push_back({k::kRopeScalingBetaSlow, Value::f32(hp.rope_beta_slow)});
    m.push_back({k::kRopeScalingTruncate, Value::boolean(hp.rope_truncate)});
    m.push_back({k::kRopeScalingAttnFactor, Value::f32(hp.rope_attn_factor)});
  }
  return m;
}

}  // namespace f8conv
