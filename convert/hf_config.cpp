// hf_config.cpp — config.json parsing and validation (see hf_config.h).
#include "convert/hf_config.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
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
    {"LlamaForCausalLM", "llama"},   {"MistralForCausalLM", "mistral"}, {"Qwen2ForCausalLM", "qwen2"},
    {"Qwen3ForCausalLM", "qwen3"},   {"Phi3ForCausalLM", "phi3"},       {"Gemma2ForCausalLM", "gemma2"},
    {"Gemma3ForCausalLM", "gemma3"},
};

// Top-level keys that do not change what the model computes: bookkeeping,
// training-only settings (dropout, init, gradient checkpointing), generation
// defaults kept in old configs, token ids (eos_token_id is read for stop ids),
// output switches. Anything not here and not read is an error
// (docs/convert.md has the table).
const std::set<std::string>& ignorable_keys() {
  static const std::set<std::string> k{
      // bookkeeping
      "_name_or_path", "_commit_hash", "_attn_implementation", "_attn_implementation_autoset",
      "_attn_implementation_internal", "_from_model_config", "transformers_version", "auto_map",
      "id2label", "label2id", "problem_type", "finetuning_task", "task_specific_params", "tokenizer_class",
      "prefix", "torchscript", "return_dict", "use_return_dict", "output_hidden_states", "output_attentions",
      "pruned_heads", "tf_legacy_loss", "use_bfloat16", "chunk_size_feed_forward", "is_decoder",
      "add_cross_attention", "cross_attention_hidden_size", "tie_encoder_decoder", "use_cache",
      "output_scores", "return_dict_in_generate", "output_router_logits", "keys_to_ignore_at_inference",
      // training only
      "initializer_range", "attention_dropout", "hidden_dropout", "embd_pdrop", "resid_pdrop",
      "dropout", "gradient_checkpointing", "pretraining_tp",
      // token ids (eos_token_id is read separately)
      "bos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id", "forced_bos_token_id",
      "forced_eos_token_id",
      // generation defaults (transformers 4 kept them in config.json)
      "max_length", "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups",
      "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
      "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
      "num_return_sequences", "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
      "begin_suppress_tokens"};
  return k;
}

constexpr uint64_t kMaxDim = 1ull << 31;  // sanity bound on any size field

class Reader {
 public:
  Reader(const json& j, std::string file, std::set<std::string>* used = nullptr)
      : j_(j), file_(std::move(file)), used_(used) {}
  Status fail(Code c, const std::string& field, const std::string& what) const {
    return Status::Error(c, file_ + ": \"" + field + "\" " + what);
  }
  // Whether `f` is present and not null; records the key as read.
  bool has(const char* f) const {
    if (used_ && j_.contains(f)) used_->insert(f);
    return j_.contains(f) && !j_[f].is_null();
  }
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
  std::set<std::string>* used_;
};

#define F8_TRY(expr)              \
  do {                            \
    Status _s = (expr);           \
    if (!_s.ok()) return _s;      \
  } while (0)

std::string num_str(const json& v) { return v.dump(); }

// The RoPE description, merged from every place a config may state it:
//   transformers 4: top-level "rope_theta", "rope_scaling" {rope_type|type, factor, ...},
//                   top-level "partial_rotary_factor" (Phi-3)
//   transformers 5: "rope_parameters" {rope_theta, rope_type, factor, ...,
//                   partial_rotary_factor}
// A field stated in two places must have the same value in both.
Status parse_rope(const json& j, const std::string& file, std::set<std::string>* used, HParams* hp) {
  struct Src {
    std::string where;  // "rope_theta", "rope_parameters.rope_theta", ...
    json value;
  };
  std::map<std::string, std::vector<Src>> fields;  // canonical field -> every statement
  auto state = [&](const std::string& field, const std::string& where, const json& v) {
    fields[field].push_back({where, v});
  };
  for (const char* top : {"rope_theta", "partial_rotary_factor", "rope_local_base_freq"}) {
    if (std::string(top) == "rope_local_base_freq") {
      if (hp->arch != "gemma3") continue;  // not read: an unknown key elsewhere
      if (j.contains(top)) used->insert(top);
      if (j.contains(top) && !j[top].is_null()) state("rope_local_theta", top, j[top]);
      continue;
    }
    if (j.contains(top)) used->insert(top);
    if (j.contains(top) && !j[top].is_null()) state(top, top, j[top]);
  }
  for (const char* obj : {"rope_parameters", "rope_scaling"}) {
    if (!j.contains(obj)) continue;
    used->insert(obj);
    const json& o = j[obj];
    if (o.is_null()) continue;
    if (!o.is_object()) return Status::Error(Code::BadType, file + ": \"" + std::string(obj) + "\" must be an object or null");
    // Gemma 3 style (transformers 5): one RoPE per layer type. The
    // full_attention one is the model's RoPE; sliding_attention must be an
    // unscaled RoPE whose theta is the local base (rope_local_base_freq).
    std::string per_type;  // the first per-layer-type entry
    for (const auto& [k, v] : o.items())
      if (v.is_object() && per_type.empty()) per_type = k;
    if (!per_type.empty()) {
      if (hp->arch != "gemma3")
        return Status::Error(Code::BadType, file + ": \"" + std::string(obj) + "." + per_type +
                                                "\": per-layer-type RoPE parameters are not supported for " + hp->hf_arch);
      for (const auto& [k, v] : o.items()) {
        const std::string at = std::string(obj) + "." + k;
        if (!v.is_object() || (k != "full_attention" && k != "sliding_attention"))
          return Status::Error(Code::BadType, file + ": \"" + at +
                                                  "\": expected full_attention and sliding_attention objects");
        for (const auto& [kk, vv] : v.items()) {
          const std::string field = kk == "type" ? "rope_type" : kk;
          if (vv.is_null()) continue;
          if (k == "full_attention") {
            state(field, at + "." + kk, vv);
          } else if (field == "rope_theta") {
            state("rope_local_theta", at + "." + kk, vv);
          } else if (!(field == "rope_type" && vv.is_string() && vv.get<std::string>() == "default")) {
            return Status::Error(Code::BadType, file + ": \"" + at + "." + kk + "\" = " + vv.dump() +
                                                    ": the sliding-window layers' RoPE must be the default (unscaled) one");
          }
        }
      }
      continue;
    }
    for (const auto& [k, v] : o.items()) {
      const std::string field = k == "type" ? "rope_type" : k;  // transformers 4.3x spelled it "type"
      if (!v.is_null()) state(field, std::string(obj) + "." + k, v);
    }
  }
  // One value per field, or both values named.
  std::map<std::string, Src> val;
  for (const auto& [field, srcs] : fields) {
    for (size_t i = 1; i < srcs.size(); ++i) {
      const json &a = srcs[0].value, &b = srcs[i].value;
      bool same = a == b;
      if (!same && a.is_number() && b.is_number()) same = a.get<double>() == b.get<double>();
      // "default" and an absent type mean the same thing; so do "su" and "longrope".
      if (!same)
        return Status::Error(Code::BadType, file + ": contradictory RoPE settings: " + srcs[0].where + " = " +
                                                num_str(a) + " but " + srcs[i].where + " = " + num_str(b));
    }
    val[field] = srcs[0];
  }
  auto real = [&](const std::string& field, bool required, float* out, bool positive = true) -> Status {
    auto it = val.find(field);
    if (it == val.end()) {
      if (required)
        return Status::Error(Code::NotFound, file + ": RoPE type \"" + hp->rope_type + "\" needs " + field +
                                                 " (in rope_parameters or rope_scaling)");
      return Status::Ok();
    }
    const json& v = it->second.value;
    if (!v.is_number() || !std::isfinite(v.get<double>()) || (positive && v.get<double>() <= 0))
      return Status::Error(Code::BadType, file + ": \"" + it->second.where + "\" must be a finite number" +
                                              (positive ? " > 0" : "") + ", got " + v.dump());
    *out = static_cast<float>(v.get<double>());
    return Status::Ok();
  };
  F8_TRY(real("rope_theta", false, &hp->rope_theta));
  if (hp->arch == "gemma3") {
    hp->rope_local_theta = 10000.0f;  // Gemma3TextConfig's default local base
    F8_TRY(real("rope_local_theta", false, &hp->rope_local_theta));
    val.erase("rope_local_theta");
  }

  std::string type = "default";
  if (auto it = val.find("rope_type"); it != val.end()) {
    if (!it->second.value.is_string())
      return Status::Error(Code::BadType, file + ": \"" + it->second.where + "\" must be a string, got " +
                                              it->second.value.dump());
    type = it->second.value.get<std::string>();
  }
  const std::string where = val.count("rope_type") ? val["rope_type"].where : "rope type";
  std::set<std::string> allowed{"rope_type", "rope_theta", "partial_rotary_factor"};
  if (type == "default") {
    hp->rope_type = "none";
  } else if (type == "linear") {
    hp->rope_type = "linear";
    allowed.insert("factor");
    F8_TRY(real("factor", true, &hp->rope_factor));
  } else if (type == "llama3") {
    hp->rope_type = "llama3";
    for (const char* k : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      allowed.insert(k);
    F8_TRY(real("factor", true, &hp->rope_factor));
    F8_TRY(real("low_freq_factor", true, &hp->rope_low_freq));
    F8_TRY(real("high_freq_factor", true, &hp->rope_high_freq));
    float orig = 0;
    F8_TRY(real("original_max_position_embeddings", true, &orig));
    const json& ov = val["original_max_position_embeddings"].value;
    if (!ov.is_number_integer() && !(ov.is_number_float() && orig == std::floor(orig)))
      return Status::Error(Code::BadType, file + ": \"" + val["original_max_position_embeddings"].where +
                                              "\" must be an integer, got " + ov.dump());
    hp->rope_orig_ctx = static_cast<uint64_t>(orig);
    if (hp->rope_high_freq <= hp->rope_low_freq)
      return Status::Error(Code::BadType, file + ": RoPE llama3 high_freq_factor (" + std::to_string(hp->rope_high_freq) +
                                              ") must exceed low_freq_factor (" + std::to_string(hp->rope_low_freq) + ")");
  } else if (type == "longrope" || type == "su") {
    return Status::Error(Code::BadType, file + ": \"" + where + "\" = \"" + type +
                                            "\": LongRoPE (Phi-3 128k / Phi-3.5 scaling) is not implemented in f8 "
                                            "(supported RoPE types: default, linear, llama3)");
  } else {
    return Status::Error(Code::BadType, file + ": \"" + where + "\" = \"" + type +
                                            "\" is not supported (supported RoPE types: default, linear, llama3)");
  }
  for (const auto& [field, src] : val)
    if (!allowed.count(field))
      return Status::Error(Code::BadType, file + ": \"" + src.where + "\" is not understood for RoPE type \"" + type +
                                              "\" (f8 reads: " + [&] {
                                                std::string l;
                                                for (const auto& a : allowed) l += (l.empty() ? "" : ", ") + a;
                                                return l;
                                              }() + ")");
  if (auto it = val.find("partial_rotary_factor"); it != val.end()) {
    float prf = 0;
    F8_TRY(real("partial_rotary_factor", false, &prf));
    if (prf != 1.0f)
      return Status::Error(Code::BadType, file + ": \"" + it->second.where + "\" = " + it->second.value.dump() +
                                              ": partial rotary embeddings are not supported (only 1.0)");
  }
  return Status::Ok();
}

// Gemma 2 / Gemma 3: softmax scale, soft-capping, embedding scale, and which
// layers are windowed. Defaults are those of Gemma2Config / Gemma3TextConfig.
Status parse_gemma(const json& j, const std::string& file, const Reader& r, HParams* hp) {
  const bool g2 = hp->arch == "gemma2";
  uint64_t qpas = 256;
  F8_TRY(r.uint("query_pre_attn_scalar", 256, &qpas));
  hp->attn_scale = static_cast<float>(std::pow(static_cast<double>(qpas), -0.5));
  // Soft-capping: a number, or null for none (Gemma 2 defaults 50 / 30, Gemma 3 none).
  auto cap = [&](const char* k, float def, float* out) -> Status {
    if (!j.contains(k)) {
      *out = def;
      return Status::Ok();
    }
    r.has(k);
    if (j[k].is_null()) {
      *out = 0;
      return Status::Ok();
    }
    return r.real(k, def, out);
  };
  F8_TRY(cap("attn_logit_softcapping", g2 ? 50.0f : 0.0f, &hp->attn_softcap));
  F8_TRY(cap("final_logit_softcapping", g2 ? 30.0f : 0.0f, &hp->final_softcap));
  // transformers: embed_tokens(x) * tensor(hidden_size ** 0.5) in the
  // activation dtype; f8's activations are float32.
  hp->embd_scale = static_cast<float>(std::sqrt(static_cast<double>(hp->hidden)));
  bool bidir = false;
  if (r.has("use_bidirectional_attention")) F8_TRY(r.boolean("use_bidirectional_attention", false, &bidir));
  if (bidir)
    return Status::Error(Code::BadType, file + ": use_bidirectional_attention true (an encoder) is not supported");
  // Sliding window (int, or null for none) and the layers that use it.
  // Absent: the config classes' default 4096; null: none.
  F8_TRY(r.uint("sliding_window", j.contains("sliding_window") ? 0 : 4096, &hp->sliding_window, /*allow_zero=*/true));
  std::vector<uint8_t> from_pattern;
  std::string pattern_where;
  for (const char* k : {"sliding_window_pattern", "_sliding_window_pattern"}) {
    if (g2 || !r.has(k)) continue;  // Gemma 2 has no pattern key: unknown there
    uint64_t pat = 0;
    F8_TRY(r.uint(k, 0, &pat));
    std::vector<uint8_t> f;
    for (uint64_t i = 0; i < hp->n_layers; ++i) f.push_back((i + 1) % pat != 0);
    if (!from_pattern.empty() && f != from_pattern)
      return Status::Error(Code::BadType, file + ": contradictory " + pattern_where + " and " + k);
    from_pattern = f;
    pattern_where = k;
  }
  std::vector<uint8_t> types;
  if (r.has("layer_types")) {
    const json& lt = j["layer_types"];
    if (!lt.is_array() || lt.size() != hp->n_layers)
      return Status::Error(Code::BadType, file + ": \"layer_types\" must be a list of " + std::to_string(hp->n_layers) +
                                              " strings, got " + lt.dump().substr(0, 200));
    for (size_t i = 0; i < lt.size(); ++i) {
      const std::string t = lt[i].is_string() ? lt[i].get<std::string>() : lt[i].dump();
      if (t != "full_attention" && t != "sliding_attention")
        return Status::Error(Code::BadType, file + ": layer_types[" + std::to_string(i) + "] = \"" + t +
                                                "\" is not supported (full_attention or sliding_attention)");
      types.push_back(t == "sliding_attention");
    }
    if (!from_pattern.empty() && types != from_pattern)
      return Status::Error(Code::BadType, file + ": contradictory layer_types and " + pattern_where);
  } else if (!from_pattern.empty()) {
    types = from_pattern;
  } else {
    // Gemma 2: every other layer, from the first; Gemma 3: 5 of every 6.
    for (uint64_t i = 0; i < hp->n_layers; ++i) types.push_back(g2 ? (i + 1) % 2 != 0 : (i + 1) % 6 != 0);
  }
  hp->swa_layers = types;
  bool any = false;
  for (uint8_t t : types) any = any || t;
  if (any && hp->sliding_window == 0)
    return Status::Error(Code::BadType, file + ": sliding_attention layers need a \"sliding_window\"");
  if (!any) hp->sliding_window = 0;
  r.has("cache_implementation");  // "hybrid": transformers' cache choice, no effect on the numerics
  return Status::Ok();
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

Status parse_hf_config(const std::string& text, const std::string& file, HParams* out, const HfConfigOptions& opts) {
  json j;
  std::string jerr;
  if (!parse_json_strict(text.data(), text.size(), &j, &jerr)) return Status::Error(Code::BadString, file + ": " + jerr);
  if (!j.is_object()) return Status::Error(Code::BadType, file + ": not a JSON object");
  HParams hp;
  std::set<std::string> used{"architectures", "model_type"};
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
  const bool qwen = hp.arch == "qwen2" || hp.arch == "qwen3";

  Reader r(j, file, &used);
  F8_TRY(r.uint("hidden_size", 0, &hp.hidden));
  F8_TRY(r.uint("num_hidden_layers", 0, &hp.n_layers));
  F8_TRY(r.uint("num_attention_heads", 0, &hp.n_heads));
  F8_TRY(r.uint("num_key_value_heads", hp.n_heads, &hp.n_kv_heads));
  F8_TRY(r.uint("intermediate_size", 0, &hp.ffn));
  F8_TRY(r.uint("vocab_size", 0, &hp.vocab));
  F8_TRY(r.uint("max_position_embeddings", 0, &hp.ctx));
  if (r.has("head_dim")) {
    F8_TRY(r.uint("head_dim", 0, &hp.head_dim));
  } else if (hp.arch == "qwen3") {
    hp.head_dim = 128;  // Qwen3Config's default (not hidden / heads)
  } else if (hp.arch == "gemma2" || hp.arch == "gemma3") {
    hp.head_dim = 256;  // Gemma2Config / Gemma3TextConfig default
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
  // Defaults are those of the transformers config class of the architecture.
  F8_TRY(r.real("rms_norm_eps", hp.arch == "phi3" ? 1e-5f : 1e-6f, &hp.rms_eps));
  // Llama/Mistral/Qwen2 configs default to untied; SmolLM2 says true.
  const bool gemma = hp.arch == "gemma2" || hp.arch == "gemma3";
  hp.gemma = gemma;
  // Gemma configs default to tied embeddings.
  F8_TRY(r.boolean("tie_word_embeddings", gemma, &hp.tied, &hp.tied_given));
  if (hp.arch == "gemma3") hp.rope_theta = 1000000.0f;  // Gemma3TextConfig's global default
  F8_TRY(parse_rope(j, file, &used, &hp));
  // Phi-3: the LongRoPE switch point; no effect without LongRoPE (refused above).
  if (hp.arch == "phi3" && r.has("original_max_position_embeddings")) {
    uint64_t omp = 0;
    F8_TRY(r.uint("original_max_position_embeddings", 0, &omp));
  }

  r.has("hidden_act");
  if (gemma) {
    // Gemma's MLP uses hidden_activation (hidden_act, kept by old configs,
    // is not read by transformers' Gemma 2/3 classes).
    r.has("hidden_activation");
    const std::string ha = j.contains("hidden_activation") && j["hidden_activation"].is_string()
                               ? j["hidden_activation"].get<std::string>()
                               : "gelu_pytorch_tanh";
    if (j.contains("hidden_activation") && !j["hidden_activation"].is_null() && !j["hidden_activation"].is_string())
      return Status::Error(Code::BadType, file + ": \"hidden_activation\" must be a string");
    if (ha != "gelu_pytorch_tanh")
      return Status::Error(Code::BadType, file + ": hidden_activation \"" + ha +
                                              "\" is not supported for " + hp.hf_arch + " (only gelu_pytorch_tanh)");
    F8_TRY(parse_gemma(j, file, r, &hp));
  } else {
    std::string act = j.contains("hidden_act") && j["hidden_act"].is_string() ? j["hidden_act"].get<std::string>() : "silu";
    if (act != "silu")
      return Status::Error(Code::BadType, file + ": hidden_act \"" + act + "\" is not supported (only silu)");
  }
  bool mlp_bias = false, attn_bias = false;
  F8_TRY(r.boolean("mlp_bias", false, &mlp_bias));
  if (mlp_bias) return Status::Error(Code::BadType, file + ": mlp_bias true is not supported");
  if (hp.arch == "qwen2") {
    hp.qkv_bias = true;
  } else {
    F8_TRY(r.boolean("attention_bias", false, &attn_bias));
    // Llama's / Qwen3's attention_bias also puts a bias on o_proj, which the runtime has no slot for.
    if (attn_bias) return Status::Error(Code::BadType, file + ": attention_bias true is not supported for " + hp.hf_arch);
  }
  hp.qk_norm = hp.arch == "qwen3" || hp.arch == "gemma3";
  hp.fused_qkv = hp.arch == "phi3";

  // Sliding windows. Mistral and Phi-3: "sliding_window" (int or null) on
  // every layer. Qwen2/Qwen3: only when use_sliding_window, and then on the
  // layers layer_types marks "sliding_attention", or (no layer_types) on
  // layers >= max_window_layers (default 28), as Qwen2Config derives them.
  bool qwen_windows = false;
  if (hp.arch == "mistral" || hp.arch == "phi3") {
    F8_TRY(r.uint("sliding_window", 0, &hp.sliding_window, /*allow_zero=*/true));
    if (hp.sliding_window >= hp.ctx) hp.sliding_window = 0;  // never narrower than the context: no window
  }
  if (qwen) {
    bool sw = false;
    F8_TRY(r.boolean("use_sliding_window", false, &sw));
    uint64_t win = 0, mwl = 28;
    if (sw) {
      F8_TRY(r.uint("sliding_window", 0, &win, /*allow_zero=*/true));
    } else {
      r.has("sliding_window");  // only meaningful with use_sliding_window
    }
    if (r.has("max_window_layers")) F8_TRY(r.uint("max_window_layers", 28, &mwl, /*allow_zero=*/true));
    if (sw && win > 0) {
      std::vector<uint8_t> types(hp.n_layers, 0);
      if (r.has("layer_types")) {
        const json& lt = j["layer_types"];
        if (!lt.is_array() || lt.size() != hp.n_layers)
          return Status::Error(Code::BadType, file + ": \"layer_types\" must be a list of " +
                                                  std::to_string(hp.n_layers) + " strings, got " + lt.dump().substr(0, 200));
        for (size_t i = 0; i < lt.size(); ++i) {
          const std::string t = lt[i].is_string() ? lt[i].get<std::string>() : lt[i].dump();
          if (t != "full_attention" && t != "sliding_attention")
            return Status::Error(Code::BadType, file + ": layer_types[" + std::to_string(i) + "] = \"" + t +
                                                    "\" is not supported (full_attention or sliding_attention)");
          types[i] = t == "sliding_attention";
        }
      } else {
        for (uint64_t i = 0; i < hp.n_layers; ++i) types[i] = i >= mwl;
      }
      bool any = false;
      for (uint8_t t : types) any = any || t;
      if (any && win < hp.ctx) {
        hp.sliding_window = win;
        hp.swa_layers = types;
      }
      qwen_windows = true;  // layer_types handled here
    }
  }
  if (!gemma && !qwen_windows && r.has("layer_types")) {
    const json& lt = j["layer_types"];
    if (!lt.is_array() || lt.size() != hp.n_layers)
      return Status::Error(Code::BadType, file + ": \"layer_types\" must be a list of " + std::to_string(hp.n_layers) +
                                              " strings, got " + lt.dump().substr(0, 200));
    for (size_t i = 0; i < lt.size(); ++i) {
      const std::string t = lt[i].is_string() ? lt[i].get<std::string>() : lt[i].dump();
      if (t == "full_attention") continue;
      if (t == "sliding_attention" && hp.sliding_window > 0) continue;  // every layer windowed (Mistral-style)
      return Status::Error(Code::BadType, file + ": layer_types[" + std::to_string(i) + "] = \"" + t +
                                              "\" is not supported (f8 runs full_attention layers, or "
                                              "sliding_attention on every layer with sliding_window set)");
    }
  }

  // Stored dtype of the checkpoint: "torch_dtype" (transformers 4) or "dtype" (5).
  for (const char* k : {"dtype", "torch_dtype"}) {
    if (!r.has(k)) continue;
    if (!j[k].is_string())
      return Status::Error(Code::BadType, file + ": \"" + std::string(k) + "\" must be a string, got " + j[k].dump());
    const std::string d = j[k].get<std::string>();
    if (!hp.dtype.empty() && hp.dtype != d)
      return Status::Error(Code::BadType, file + ": contradictory dtypes: dtype = \"" + hp.dtype +
                                              "\" but torch_dtype = \"" + d + "\"");
    hp.dtype = d;
  }
  // config.json's own stop ids (used when there is no generation_config.json).
  if (r.has("eos_token_id")) {
    const json& e = j["eos_token_id"];
    auto add = [&](const json& x) -> Status {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX)
        return Status::Error(Code::BadType, file + ": \"eos_token_id\" must be a token id or a list of them, got " + e.dump());
      hp.eos_ids.push_back(x.get<int64_t>());
      return Status::Ok();
    };
    if (e.is_array()) {
      for (const json& x : e) F8_TRY(add(x));
    } else {
      F8_TRY(add(e));
    }
  }
  if (r.has("is_encoder_decoder") && !(j["is_encoder_decoder"].is_boolean() && !j["is_encoder_decoder"].get<bool>()))
    return Status::Error(Code::BadType, file + ": is_encoder_decoder must be false for " + hp.hf_arch);
  if (j.contains("quantization_config")) {
    used.insert("quantization_config");
    F8_TRY(parse_quant_config(j["quantization_config"], file, &hp.quant));
  }

  // Every other key: known to have no effect, declared harmless by the
  // user, or an error naming it.
  std::vector<std::string> unknown;
  for (const auto& [k, v] : j.items()) {
    if (used.count(k)) continue;
    if (ignorable_keys().count(k) ||
        std::find(opts.ignore_keys.begin(), opts.ignore_keys.end(), k) != opts.ignore_keys.end()) {
      hp.ignored_keys.push_back(k);
      continue;
    }
    unknown.push_back(k);
  }
  if (!unknown.empty()) {
    std::string l;
    for (const auto& k : unknown) l += (l.empty() ? "\"" : ", \"") + k + "\"";
    return Status::Error(Code::BadType, file + ": " + hp.hf_arch + " config key" + (unknown.size() > 1 ? "s " : " ") + l +
                                            (unknown.size() > 1 ? " are" : " is") +
                                            " not understood by f8 and may change the computation (if you know " +
                                            (unknown.size() > 1 ? "they do" : "it does") +
                                            " not, pass --ignore-config-key " + unknown[0] + ")");
  }
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
