// hf_config.h — config.json (Hugging Face) -> validated hyperparameters and
// the llm.* / general.* metadata keys of ggf8/keys.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ggf8/ggf8.h"

namespace f8conv {

// Source-checkpoint FP8 quantization, from config.json "quantization_config".
struct HfQuantConfig {
  std::string method;        // "" (none) | "compressed-tensors" | "fp8" (block / AutoFP8)
  uint32_t block_rows = 0;   // weight_block_size[0] for block FP8 (0 = not block)
  uint32_t block_cols = 0;
};

struct HParams {
  std::string hf_arch;       // "LlamaForCausalLM", ...
  std::string arch;          // "llama" | "mistral" | "qwen2" | "qwen3" | "phi3" | "gemma2" | "gemma3" (general.architecture)
  std::string model_type;    // config "model_type" if present
  uint64_t hidden = 0;       // hidden_size
  uint64_t n_layers = 0;     // num_hidden_layers
  uint64_t n_heads = 0;      // num_attention_heads
  uint64_t n_kv_heads = 0;   // num_key_value_heads (default n_heads)
  uint64_t head_dim = 0;     // head_dim (default hidden / n_heads)
  uint64_t ffn = 0;          // intermediate_size
  uint64_t vocab = 0;        // vocab_size
  uint64_t ctx = 0;          // max_position_embeddings
  float rms_eps = 1e-6f;     // rms_norm_eps
  float rope_theta = 10000;  // rope_theta
  bool tied = false;         // tie_word_embeddings
  bool tied_given = false;   // whether config.json said so explicitly
  bool qkv_bias = false;     // Qwen2 always; Llama "attention_bias"
  bool qk_norm = false;      // Qwen3: per-head RMSNorm of q and k before RoPE
  bool fused_qkv = false;    // Phi-3: qkv_proj and gate_up_proj in the checkpoint (split by the converter)
  uint64_t sliding_window = 0;  // 0 = none
  // Gemma 2 / Gemma 3 (see docs/convert.md):
  bool gemma = false;           // Gemma RMSNorm (1 + w: the converter stores 1 + w), post norms, GeGLU
  std::vector<uint8_t> swa_layers;  // per layer 1 = sliding_attention (empty: every layer when sliding_window)
  float attn_scale = 0;         // query_pre_attn_scalar^-0.5 (0 = head_dim^-0.5)
  float attn_softcap = 0;       // attn_logit_softcapping (0 = none)
  float final_softcap = 0;      // final_logit_softcapping (0 = none)
  float embd_scale = 1;         // sqrt(hidden_size), float32
  float rope_local_theta = 0;   // Gemma 3 rope_local_base_freq (0 = none)
  std::string rope_type = "none";  // "none" | "linear" | "llama3"
  float rope_factor = 1.f;
  float rope_low_freq = 0.f, rope_high_freq = 0.f;  // llama3
  uint64_t rope_orig_ctx = 0;                       // llama3
  // Mixture of experts (n_experts > 0; Mixtral, Qwen2-MoE, Qwen3-MoE):
  uint64_t n_experts = 0;        // num_local_experts / num_experts
  uint64_t n_experts_used = 0;   // num_experts_per_tok
  uint64_t moe_ffn = 0;          // each expert's intermediate size
  uint64_t shexp_ffn = 0;        // shared expert's (Qwen2-MoE), 0 = none
  std::string gating;            // "softmax_topk" | "topk_softmax"
  bool norm_topk = false;        // softmax_topk weights renormalized (Mixtral always)
  bool shexp_gate = false;       // shared expert output x sigmoid(shared_expert_gate . x)
  std::vector<uint8_t> moe_layers;  // per layer 1 = MoE FFN (empty: every layer)
  std::string expert_names;      // checkpoint naming: "mixtral" (block_sparse_moe.experts.E.w1/w3/w2)
                                 // | "qwen" (mlp.experts.E.{gate,up,down}_proj, mlp.gate)
  bool layer_moe(uint64_t l) const { return n_experts > 0 && (moe_layers.empty() || moe_layers[l]); }
  HfQuantConfig quant;
  std::string dtype;         // "dtype" (transformers 5) or "torch_dtype" (4); "" if absent
  std::vector<int64_t> eos_ids;  // config.json eos_token_id (int or list); generation_config wins
  // Gemma3ForConditionalGeneration: the text model's tensors are under
  // language_model (the vision tower's are skipped).
  bool multimodal_wrapper = false;
  // Keys no schema read and that are not known bookkeeping: accepted as not
  // changing the computation, listed on stderr and stored in the file
  // (general.source.config_unread). Nested keys as "text_config.<key>".
  std::vector<std::string> unread_keys;
  // Keys the user told the reader to skip (--ignore-config-key).
  std::vector<std::string> ignored_keys;
  // One line each for the user: values transformers does not read, parts
  // not converted (printed once by the converter).
  std::vector<std::string> notes;
};

struct HfConfigOptions {
  // Keys the user told the reader to treat as absent (f8 convert
  // --ignore-config-key; "text_config.<key>" for a nested one): a way out of
  // a refused value or a contradiction, at the user's word.
  std::vector<std::string> ignore_keys;
};

// The architectures the converter and runtime support, as HF spells them.
const std::vector<std::string>& supported_architectures();

// Parses and validates `path` (config.json). Errors name the file and field;
// an unsupported architecture lists the supported ones.
//
// The architecture's schema (config_schemas.h) reads the keys its
// computation depends on, with transformers' defaults, and refuses only
// values f8 knows change the result and does not implement. Every other key
// is accepted: known bookkeeping silently, the rest listed in unread_keys.
// Both transformers 4 (`rope_theta`, `rope_scaling`, `torch_dtype`) and 5
// (`rope_parameters`, `dtype`) spellings are read; a value stated twice is
// refused only where transformers 4 and 5 would use different values (the
// message says which each uses), else the one transformers uses is taken
// and the other noted.
ggf8::Status load_hf_config(const std::string& path, HParams* out, const HfConfigOptions& opts = {});
// Same, from text (tests).
ggf8::Status parse_hf_config(const std::string& text, const std::string& display_name, HParams* out,
                             const HfConfigOptions& opts = {});

// What the user is told about a config once it is read: its notes, then one
// line listing the unread keys and one the skipped ones.
std::vector<std::string> config_notes(const HParams& hp, const std::string& file);

// general.architecture, general.source.architecture and the llm.* keys.
std::vector<ggf8::KV> hparams_metadata(const HParams& hp);

}  // namespace f8conv
