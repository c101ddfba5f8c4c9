// weights.h — the model's tensors bound to the mapped .f8 file (zero copy:
// every Weight::data points into the mapping) and validated against HParams.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "ggf8/ggf8.h"
#include "model/hparams.h"
#include "model/status.h"

namespace f8model {

using f8backend::Bias;
using f8backend::Weight;

struct LayerWeights {
  Weight attn_norm;                 // [1, n_embd]
  Weight wq, wk, wv;                // [q_dim, n_embd], [kv_dim, n_embd] x2
  Bias bq, bk, bv;                  // [q_dim], [kv_dim] x2 (qkv_bias only)
  Weight q_norm, k_norm;            // [1, head_dim] (qk_norm only: Qwen3)
  Weight wo;                        // [n_embd, q_dim]
  Weight post_attn_norm;            // [1, n_embd] (post_norms only: Gemma)
  Weight ffn_norm;                  // [1, n_embd]
  Weight post_ffw_norm;             // [1, n_embd] (post_norms only: Gemma)
  Weight gate, up;                  // [n_ff, n_embd]        (dense FFN layers)
  Weight down;                      // [n_embd, n_ff]
  // MoE layers (hp.layer_moe(l)):
  Weight router;                    // [n_expert, n_embd] ffn_gate_inp (kept BF16/F32 by the converter)
  f8backend::MoeExperts experts;    // stacks: gate/up [E][n_ff_exp, n_embd], down [E][n_embd, n_ff_exp]
  Weight sh_gate, sh_up, sh_down;   // shared expert [n_ff_shexp, n_embd] x2, [n_embd, n_ff_shexp]
  Weight sh_gate_inp;               // [1, n_embd] (shexp_gate)
  float k_scale = 0, v_scale = 0;   // blk.N.attn_{k,v}.kv_scale; 0 = absent
};

struct ModelWeights {
  Weight token_embd;                // [n_vocab, n_embd]
  Weight output_norm;               // [1, n_embd]
  Weight output;                    // [n_vocab, n_embd]; = token_embd when tied
  std::vector<LayerWeights> layers;
  uint64_t bytes = 0;               // bytes of weights (incl. scales) read per token: the routed experts
                                    // count n_expert_used / n_expert of their stacks (the active weights)
  std::string weight_type;          // dtype of the big matrices ("e4m3", "bf16", mixed: "mixed")
  bool has_kv_scales = false;       // every layer has both kv scales
};

// Binds and validates every tensor of the architecture: presence, dtype,
// shape, scales. The error names the tensor and what was expected; up to 8
// problems are listed. Weights are host views into `f` (caller uploads them).
Status bind_weights(const ggf8::File& f, const HParams& hp, ModelWeights* out);

}  // namespace f8model
