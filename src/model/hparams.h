// hparams.h — model hyperparameters read from a .f8 file's llm.* metadata
// (ggf8/keys.h) and validated for the Llama family (llama, mistral, qwen2,
// qwen3, phi3) and Gemma 2 / Gemma 3.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ggf8/ggf8.h"
#include "model/status.h"

namespace f8model {

enum class Arch { Llama, Mistral, Qwen2, Qwen3, Phi3, Gemma2, Gemma3, Mixtral, Qwen2Moe, Qwen3Moe };
enum class RopeType { None, Linear, Llama3 };

const char* arch_name(Arch a);

struct HParams {
  Arch arch = Arch::Llama;
  std::string arch_str;          // general.architecture as written
  uint32_t n_vocab = 0;          // logits width (llm.vocab_size)
  uint32_t n_embd = 0;           // hidden size
  uint32_t n_layer = 0;
  uint32_t n_ff = 0;             // SwiGLU intermediate size
  uint32_t n_head = 0;           // query heads
  uint32_t n_head_kv = 0;        // key/value heads (GQA: n_head % n_head_kv == 0)
  uint32_t head_dim = 0;         // dims per head (even, for RoPE)
  uint32_t n_ctx_train = 0;      // max_position_embeddings
  float rms_eps = 1e-5f;
  bool qkv_bias = false;         // Qwen2: q/k/v projections have a bias
  bool qk_norm = false;          // Qwen3: RMSNorm over each head of q and k (before RoPE)
  bool tied_embeddings = false;  // output projection = token_embd
  uint32_t sliding_window = 0;   // 0 = none (full causal attention)
  std::vector<uint8_t> swa_layers;  // [n_layer] 1 = sliding-window layer; empty = every layer (when sliding_window > 0)
  float attn_scale = 0.0f;       // softmax scale; 0 = 1/sqrt(head_dim)
  float attn_softcap = 0.0f;     // Gemma 2 attention logit soft-capping (0 = none)
  float final_softcap = 0.0f;    // Gemma 2 final logit soft-capping (0 = none)
  float embd_scale = 1.0f;       // embeddings x this (Gemma: sqrt(hidden))
  bool gelu = false;             // GeGLU (gelu_tanh(gate) * up) instead of SwiGLU
  bool post_norms = false;       // Gemma: post_attention_norm and post_ffw_norm
  float rope_base_local = 0.0f;  // Gemma 3: RoPE base of the sliding layers (unscaled); 0 = as global
  float rope_base = 10000.0f;
  RopeType rope_type = RopeType::None;
  float rope_factor = 1.0f;
  float rope_low_freq = 1.0f;    // llama3
  float rope_high_freq = 4.0f;   // llama3
  uint32_t rope_orig_ctx = 8192; // llama3
  // Mixture of experts (n_expert > 0; llm.expert_* keys): MoE layers route
  // each token to n_expert_used of n_expert expert FFNs n_ff_exp wide, plus
  // a shared expert n_ff_shexp wide (0 = none), sigmoid-gated when shexp_gate.
  uint32_t n_expert = 0, n_expert_used = 0, n_ff_exp = 0, n_ff_shexp = 0;
  bool expert_topk_softmax = false;  // gating: top-k then softmax (gpt-oss); else softmax then top-k
  bool expert_norm_topk = false;     // softmax-then-top-k weights renormalized
  bool shexp_gate = false;
  std::vector<uint8_t> moe_layers;   // [n_layer] 1 = MoE FFN; empty = every layer (when n_expert > 0)

  bool layer_windowed(uint32_t l) const {
    return sliding_window > 0 && (swa_layers.empty() || (l < swa_layers.size() && swa_layers[l]));
  }
  bool layer_moe(uint32_t l) const {
    return n_expert > 0 && (moe_layers.empty() || (l < moe_layers.size() && moe_layers[l]));
  }
  bool any_dense_ffn() const {
    for (uint32_t l = 0; l < n_layer; ++l)
      if (!layer_moe(l)) return true;
    return false;
  }
  uint32_t q_dim() const { return n_head * head_dim; }
  uint32_t kv_dim() const { return n_head_kv * head_dim; }
};

// Reads and validates every value; errors name the key and what was expected.
// Missing optional keys get the architecture's defaults (documented inline).
Status load_hparams(const ggf8::File& f, HParams* out);

}  // namespace f8model
