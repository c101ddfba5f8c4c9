// config_gpt_oss.cpp — config.json schema of GptOssForCausalLM (gpt-oss-20b,
// gpt-oss-120b), with transformers 5.25's GptOssConfig defaults:
//   attention: q/k/v/o biases (attention_bias, default true), a learned sink
//     logit per head (self_attn.sinks), GQA, head_dim 64; layer_types
//     alternating sliding_attention (sliding_window, default 128) and
//     full_attention (default: layer i slides when i is even);
//   RoPE: YaRN by default (factor 32, beta_fast 32, beta_slow 1, truncate
//     false, original_max_position_embeddings 4096; rope_theta 150000);
//   MoE in every layer: a router with bias, top-k of its logits then softmax
//     over those k (num_experts_per_tok, default 4, of num_local_experts,
//     default 128), experts intermediate_size wide with biases and the
//     clamped SwiGLU (swiglu_alpha 1.702, swiglu_limit 7.0).
// transformers 4.57 hard-coded alpha/limit and attention_bias (= the
// defaults); f8 reads them as transformers 5 does.
#include "convert/config_schemas.h"

namespace f8conv::cfg {

Status schema_gpt_oss(Reader& r, HParams* hp, Notes* notes) {
  F8_CFG_TRY(read_core(r, {201088, 2880, 2880, 36, 64, 8, 64, 131072, 1e-5f, false}, hp));
  static const json kYarn = {{"rope_type", "yarn"}, {"factor", 32.0},  {"beta_fast", 32.0},
                             {"beta_slow", 1.0},    {"truncate", false}, {"original_max_position_embeddings", 4096}};
  F8_CFG_TRY(read_rope(r, 150000.0f, hp, notes, &kYarn));
  // hidden_act: GptOssExperts never reads it (the activation is the clamped
  // SwiGLU below), so no value changes the computation.
  r.touch("hidden_act");
  bool bias = true;
  F8_CFG_TRY(r.boolean("attention_bias", true, &bias));
  hp->qkv_bias = hp->attn_out_bias = bias;
  hp->attn_sinks = true;
  // Windows: layer_types, else GptOssConfig's alternation; a null window or
  // one at least the context wide windows nothing.
  uint64_t win = 128;
  const bool present = r.obj().contains("sliding_window");
  F8_CFG_TRY(r.uint("sliding_window", present ? 0 : 128, &win, /*allow_zero=*/true));
  std::vector<uint8_t> types(hp->n_layers, 0);
  bool given = false;
  F8_CFG_TRY(r.layer_types(hp->n_layers, {"full_attention", "sliding_attention"}, &types, &given));
  if (!given)
    for (uint64_t i = 0; i < hp->n_layers; ++i) types[i] = (i + 1) % 2 != 0;
  bool any = false;
  for (uint8_t t : types) any = any || t;
  if (any && win > 0 && win < hp->ctx) {
    hp->sliding_window = win;
    hp->swa_layers = types;
  }
  F8_CFG_TRY(read_expert_count(r, 128, hp));
  F8_CFG_TRY(read_topk(r, 4, hp));
  hp->moe_ffn = hp->ffn;  // every expert is intermediate_size wide
  hp->gating = "topk_softmax";
  hp->router_bias = true;
  hp->expert_act = "swiglu_oss";
  F8_CFG_TRY(r.real("swiglu_alpha", 1.702f, &hp->swiglu_alpha));
  F8_CFG_TRY(r.real("swiglu_limit", 7.0f, &hp->swiglu_limit));
  hp->expert_names = "gpt_oss";
  return Status::Ok();
}

}  // namespace f8conv::cfg
