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
  HfQuantConfig quant;
  std::string dtype;         // "dtype" (transformers 5) or "torch_dtype" (4); "" if absent
  std::vector<int64_t> eos_ids;  // config.json eos_token_id (int or list); generation_config wins
  std::vector<std::string> ignored_keys;  // keys read as "no effect on the computation" (see docs/convert.md)
};

struct HfConfigOptions {
  // Top-level keys the user declared harmless (f8 convert --ignore-config-key):
  // accepted without being read. Any other key f8 does not know fails.
  std::vector<std::string> ignore_keys;
};

// The architectures the converter and runtime support, as HF spells them.
const std::vector<std::string>& supported_architectures();

// Parses and validates `path` (config.json). Errors name the file and field;
// an unsupported architecture lists the supported ones.
//
// Every top-level key is either read (and its value understood or refused
// with a message naming it), known not to change the computation (training,
// generation, bookkeeping keys: the table in docs/convert.md), or an error
// naming the key. Both transformers 4 (`rope_theta`, `rope_scaling`,
// `torch_dtype`) and 5 (`rope_parameters`, `dtype`) spellings are read; a
// value given twice in contradicting forms is refused with both values.
ggf8::Status load_hf_config(const std::string& path, HParams* out, const HfConfigOptions& opts = {});
// Same, from text (tests).
ggf8::Status parse_hf_config(const std::string& text, const std::string& display_name, HParams* out,
                             const HfConfigOptions& opts = {});

// general.architecture, general.source.architecture and the llm.* keys.
std::vector<ggf8::KV> hparams_metadata(const HParams& hp);

}  // namespace f8conv
