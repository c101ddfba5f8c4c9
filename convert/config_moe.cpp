// config_moe.cpp — config.json schemas of the mixture-of-experts families:
// MixtralForCausalLM, Qwen2MoeForCausalLM, Qwen3MoeForCausalLM. Their
// attention is Mistral's / Qwen2's / Qwen3's; each MoE layer routes a token
// to num_experts_per_tok of the experts (softmax over all experts, top-k,
// renormalized when norm_topk_prob; Mixtral always renormalizes), Qwen2-MoE
// adds a shared expert scaled by sigmoid(shared_expert_gate . x).
// Defaults: transformers 5.25's MixtralConfig / Qwen2MoeConfig / Qwen3MoeConfig.
#include "convert/config_schemas.h"

namespace f8conv::cfg {

namespace {

// num_local_experts (Mixtral, transformers 5's name) or num_experts (Qwen,
// transformers 4's): one value, under either name.
Status read_expert_count(Reader& r, uint64_t def, HParams* hp) {
  uint64_t a = 0, b = 0;
  const bool ha = r.has("num_local_experts"), hb = r.has("num_experts");
  F8_CFG_TRY(r.uint("num_local_experts", def, &a));
  F8_CFG_TRY(r.uint("num_experts", def, &b));
  if (ha && hb && a != b)
    return r.fail(Code::BadType, "num_experts",
                  "= " + std::to_string(b) + " but num_local_experts = " + std::to_string(a) +
                      " (transformers maps one onto the other; which count is meant is ambiguous)");
  hp->n_experts = ha ? a : b;
  return Status::Ok();
}

Status read_topk(Reader& r, uint64_t def, HParams* hp) {
  F8_CFG_TRY(r.uint("num_experts_per_tok", def, &hp->n_experts_used));
  if (hp->n_experts_used > hp->n_experts)
    return r.fail(Code::BadShape, "num_experts_per_tok",
                  "= " + std::to_string(hp->n_experts_used) + " exceeds the " + std::to_string(hp->n_experts) + " experts");
  if (hp->n_experts_used > 32)
    return r.refuse("num_experts_per_tok", "f8 routes a token to at most 32 experts");
  return Status::Ok();
}

// Qwen MoE layers: (l + 1) % decoder_sparse_step == 0 and l not in mlp_only_layers.
Status read_qwen_moe_layers(Reader& r, HParams* hp) {
  uint64_t step = 1;
  F8_CFG_TRY(r.uint("decoder_sparse_step", 1, &step));
  std::vector<uint64_t> dense;
  F8_CFG_TRY(r.layer_list("mlp_only_layers", hp->n_layers, &dense));
  std::vector<uint8_t> m(hp->n_layers, 0);
  bool all = true;
  for (uint64_t l = 0; l < hp->n_layers; ++l) {
    m[l] = (l + 1) % step == 0;
    for (uint64_t d : dense)
      if (d == l) m[l] = 0;
    all = all && m[l];
  }
  if (!all) hp->moe_layers = m;
  return Status::Ok();
}

}  // namespace

Status schema_mixtral(Reader& r, HParams* hp, Notes* notes) {
  F8_CFG_TRY(read_core(r, {32000, 4096, 14336, 32, 32, 8, 0, 131072, 1e-5f, false}, hp));
  F8_CFG_TRY(read_rope(r, 1000000.0f, hp, notes));
  F8_CFG_TRY(read_silu(r));
  const bool present = r.obj().contains("sliding_window");
  F8_CFG_TRY(r.uint("sliding_window", present ? 0 : 0, &hp->sliding_window, /*allow_zero=*/true));
  if (hp->sliding_window >= hp->ctx) hp->sliding_window = 0;
  F8_CFG_TRY(read_expert_count(r, 8, hp));
  F8_CFG_TRY(read_topk(r, 2, hp));
  hp->moe_ffn = hp->ffn;  // Mixtral's experts are intermediate_size wide
  hp->gating = "softmax_topk";
  hp->norm_topk = true;   // MixtralSparseMoeBlock always renormalizes the top-k
  hp->expert_names = "mixtral";
  return Status::Ok();
}

Status schema_qwen2_moe(Reader& r, HParams* hp, Notes* notes) {
  F8_CFG_TRY(read_core(r, {151936, 2048, 5632, 24, 16, 0, 0, 32768, 1e-6f, false}, hp));
  F8_CFG_TRY(read_rope(r, 10000.0f, hp, notes));
  F8_CFG_TRY(read_silu(r));
  F8_CFG_TRY(r.boolean("qkv_bias", true, &hp->qkv_bias));  // Qwen2MoeConfig: q/k/v biases unless false
  F8_CFG_TRY(read_qwen_windows(r, true, hp));
  F8_CFG_TRY(read_expert_count(r, 60, hp));
  F8_CFG_TRY(read_topk(r, 4, hp));
  F8_CFG_TRY(r.uint("moe_intermediate_size", 1408, &hp->moe_ffn));
  F8_CFG_TRY(r.uint("shared_expert_intermediate_size", 5632, &hp->shexp_ffn));
  F8_CFG_TRY(r.boolean("norm_topk_prob", false, &hp->norm_topk));
  F8_CFG_TRY(read_qwen_moe_layers(r, hp));
  hp->shexp_gate = true;
  hp->gating = "softmax_topk";
  hp->expert_names = "qwen";
  return Status::Ok();
}

Status schema_qwen3_moe(Reader& r, HParams* hp, Notes* notes) {
  F8_CFG_TRY(read_core(r, {151936, 2048, 6144, 24, 32, 4, 0, 32768, 1e-6f, false}, hp));
  F8_CFG_TRY(read_rope(r, 10000.0f, hp, notes));
  F8_CFG_TRY(read_silu(r));
  bool b = false;
  F8_CFG_TRY(r.boolean("attention_bias", false, &b));
  if (b) return r.refuse("attention_bias", "biases on q/k/v/o_proj are not implemented for this architecture in f8");
  hp->qk_norm = true;
  F8_CFG_TRY(read_qwen_windows(r, false, hp));  // every layer when use_sliding_window (no max_window_layers)
  F8_CFG_TRY(read_expert_count(r, 128, hp));
  F8_CFG_TRY(read_topk(r, 8, hp));
  F8_CFG_TRY(r.uint("moe_intermediate_size", 768, &hp->moe_ffn));
  F8_CFG_TRY(r.boolean("norm_topk_prob", false, &hp->norm_topk));
  F8_CFG_TRY(read_qwen_moe_layers(r, hp));
  hp->gating = "softmax_topk";
  hp->expert_names = "qwen";
  return Status::Ok();
}

}  // namespace f8conv::cfg
