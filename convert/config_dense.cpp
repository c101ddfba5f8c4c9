// config_dense.cpp — config.json schemas of the dense Llama-family
// architectures: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM,
// Qwen3ForCausalLM, Phi3ForCausalLM, SeedOssForCausalLM.
//
// Each schema reads the keys its transformers config class and modeling code
// use (defaults: transformers 5.25's config classes), and refuses only the
// values f8 knows change the computation and does not implement. Keys it
// does not read are accepted by hf_config.cpp and listed.
#include "convert/config_schemas.h"

namespace f8conv::cfg {

namespace {

// Qwen3's attention_bias: biases on q/k/v/o_proj under its per-head q/k
// norms, a combination no golden checks (no published Qwen3 sets it).
Status refuse_qwen3_attention_bias(Reader& r) {
  bool b = false;
  F8_CFG_TRY(r.boolean("attention_bias", false, &b));
  if (b) return r.refuse("attention_bias", "biases on q/k/v/o_proj are not implemented for this architecture in f8");
  return Status::Ok();
}

// A window applied to every layer (Mistral, Phi-3); null or >= the context: none.
Status read_window_all_layers(Reader& r, uint64_t def, HParams* hp) {
  const bool present = r.obj().contains("sliding_window");
  F8_CFG_TRY(r.uint("sliding_window", present ? 0 : def, &hp->sliding_window, /*allow_zero=*/true));
  if (hp->sliding_window >= hp->ctx) hp->sliding_window = 0;  // never narrower than the context: no window
  return Status::Ok();
}

}  // namespace

// Qwen2 / Qwen3 (and their MoE variants): windows only with
// use_sliding_window, then on the layers layer_types marks
// "sliding_attention", or (no layer_types) on layers >= max_window_layers,
// as Qwen2Config derives them.
Status read_qwen_windows(Reader& r, bool has_max_window_layers, HParams* hp) {
  bool sw = false;
  F8_CFG_TRY(r.boolean("use_sliding_window", false, &sw));
  uint64_t win = 0, mwl = 28;
  r.touch("sliding_window");
  if (has_max_window_layers) F8_CFG_TRY(r.uint("max_window_layers", 28, &mwl, /*allow_zero=*/true));
  if (!sw) {
    r.touch("layer_types");  // without use_sliding_window transformers windows no layer
    return Status::Ok();
  }
  F8_CFG_TRY(r.uint("sliding_window", 0, &win, /*allow_zero=*/true));
  std::vector<uint8_t> types(hp->n_layers, 0);
  bool given = false;
  F8_CFG_TRY(r.layer_types(hp->n_layers, {"full_attention", "sliding_attention"}, &types, &given));
  if (!given)
    for (uint64_t i = 0; i < hp->n_layers; ++i) types[i] = has_max_window_layers ? i >= mwl : 1;
  bool any = false;
  for (uint8_t t : types) any = any || t;
  if (any && win > 0 && win < hp->ctx) {
    hp->sliding_window = win;
    hp->swa_layers = types;
  }
  return Status::Ok();
}

Status schema_llama(Reader& r, HParams* hp, Notes* notes) {
  F8_CFG_TRY(read_core(r, {32000, 4096, 11008, 32, 32, 0, 0, 2048, 1e-6f, false}, hp));
  F8_CFG_TRY(read_rope(r, 10000.0f, hp, notes));
  F8_CFG_TRY(read_silu(r));
  // LlamaAttention: attention_bias puts a bias on q/k/v and o_proj (the
  // block Seed-OSS's golden checks with both biases on).
  bool bias = false;
  F8_CFG_TRY(r.boolean("attention_bias", false, &bias));
  hp->qkv_bias = hp->attn_out_bias = bias;
  bool mlp_bias = false;
  F8_CFG_TRY(r.boolean("mlp_bias", false, &mlp_bias));
  if (mlp_bias) return r.refuse("mlp_bias", "biases on the MLP projections are not implemented in f8");
  return Status::Ok();
}

Status schema_mistral(Reader& r, HParams* hp, Notes* notes) {
  F8_CFG_TRY(read_core(r, {32000, 4096, 14336, 32, 32, 8, 0, 131072, 1e-6f, false}, hp));
  F8_CFG_TRY(read_rope(r, 10000.0f, hp, notes));
  F8_CFG_TRY(read_silu(r));
  return read_window_all_layers(r, 4096, hp);  // MistralConfig's default window
}

Status schema_qwen2(Reader& r, HParams* hp, Notes* notes) {
  F8_CFG_TRY(read_core(r, {151936, 4096, 22016, 32, 32, 0, 0, 32768, 1e-6f, false}, hp));
  F8_CFG_TRY(read_rope(r, 10000.0f, hp, notes));
  F8_CFG_TRY(read_silu(r));
  hp->qkv_bias = true;  // Qwen2Attention always has q/k/v biases (no key says so)
  return read_qwen_windows(r, true, hp);
}

Status schema_qwen3(Reader& r, HParams* hp, Notes* notes) {
  F8_CFG_TRY(read_core(r, {151936, 4096, 22016, 32, 32, 0, 128, 32768, 1e-6f, false}, hp));
  F8_CFG_TRY(read_rope(r, 10000.0f, hp, notes));
  F8_CFG_TRY(read_silu(r));
  F8_CFG_TRY(refuse_qwen3_attention_bias(r));
  hp->qk_norm = true;
  return read_qwen_windows(r, true, hp);
}

// ByteDance Seed-OSS: a Llama block whose q/k/v and o_proj biases are each
// switched by the config (SeedOssConfig: attention_bias true,
// attention_out_bias false, mlp_bias false); the runtime runs it as "llama"
// with the qkv/output bias flags.
Status schema_seed_oss(Reader& r, HParams* hp, Notes* notes) {
  F8_CFG_TRY(read_core(r, {155136, 4096, 27648, 64, 80, 8, 128, 524288, 1e-6f, false}, hp));
  F8_CFG_TRY(read_rope(r, 10000.0f, hp, notes));
  F8_CFG_TRY(read_silu(r));
  F8_CFG_TRY(r.boolean("attention_bias", true, &hp->qkv_bias));
  F8_CFG_TRY(r.boolean("attention_out_bias", false, &hp->attn_out_bias));
  bool mlp_bias = false;
  F8_CFG_TRY(r.boolean("mlp_bias", false, &mlp_bias));
  if (mlp_bias) return r.refuse("mlp_bias", "biases on the MLP projections are not implemented in f8");
  return Status::Ok();
}

Status schema_phi3(Reader& r, HParams* hp, Notes* notes) {
  F8_CFG_TRY(read_core(r, {32064, 3072, 8192, 32, 32, 0, 0, 4096, 1e-5f, false}, hp));
  F8_CFG_TRY(read_rope(r, 10000.0f, hp, notes));
  F8_CFG_TRY(read_silu(r));
  // The LongRoPE switch point; no effect without LongRoPE (refused by read_rope).
  // With YaRN, transformers 5 takes it over rope_scaling's own value and 4 does not.
  if (r.has("original_max_position_embeddings")) {
    uint64_t omp = 0;
    F8_CFG_TRY(r.uint("original_max_position_embeddings", 0, &omp));
    if (hp->rope_type == "yarn" && omp != hp->rope_orig_ctx)
      return r.refuse("original_max_position_embeddings",
                      "YaRN's original context is " + std::to_string(hp->rope_orig_ctx) +
                          " in the RoPE parameters; transformers 5 uses this top-level value for Phi-3 and "
                          "transformers 4 the RoPE one (pass --ignore-config-key for the one to drop)");
  }
  hp->fused_qkv = true;
  return read_window_all_layers(r, 0, hp);
}

}  // namespace f8conv::cfg
