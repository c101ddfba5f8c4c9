// config_deepseek.cpp — config.json schema of DeepseekV3ForCausalLM
// (DeepSeek-V3, DeepSeek-R1, DeepSeek-V3.1), with transformers 5.25's
// DeepseekV3Config defaults, read as DeepseekV3Attention / DeepseekV3MoE /
// DeepseekV3TopkRouter compute:
//   attention: multi-head latent attention (MLA). q = q_b(rms(q_a(x))) when
//     q_lora_rank (default 1536) is a number, q_proj(x) when it is null;
//     kv_a_proj_with_mqa(x) = [c_kv (kv_lora_rank, 512), k_pe (qk_rope_head_dim,
//     64)], c_kv through kv_a_layernorm, kv_b_proj(c_kv) = per head
//     [k_nope (qk_nope_head_dim, 128), v (v_head_dim, 128)]; RoPE on the last
//     qk_rope_head_dim dims of q and on k_pe (interleaved pairs when
//     rope_interleave, default true: the converter permutes those rows,
//     docs/convert.md); softmax scale (nope + rope)^-0.5, times
//     yarn_get_mscale(factor, mscale_all_dim)^2 with a YaRN mscale_all_dim
//     (transformers' yarn_apply_mscale). transformers' __post_init__
//     recomputes head_dim (= qk_rope_head_dim) and qk_head_dim (= nope + rope):
//     stored values are not read.
//   MoE: layers >= first_k_dense_replace (default 3); n_routed_experts (256)
//     moe_intermediate_size (2048) wide, num_experts_per_tok (8) per token,
//     n_shared_experts (1) x moe_intermediate_size shared expert; the router
//     always runs "noaux_tc" (sigmoid, e_score_correction_bias for the
//     choice, n_group (8) groups scored by their two best, topk_group (4)
//     kept, norm_topk_prob (true), routed_scaling_factor (2.5)) whatever
//     topk_method / scoring_func say (DeepseekV3TopkRouter reads neither).
//   num_nextn_predict_layers (1; transformers' num_mtp_layers): the
//     multi-token-prediction layers stored after the num_hidden_layers
//     decoder layers; f8 skips them (a note says so).
#include <cmath>

#include "convert/config_schemas.h"

namespace f8conv::cfg {

namespace {

// q_lora_rank: absent = the class default 1536; null = none (q_proj).
Status read_q_lora(Reader& r, uint64_t* out) {
  if (r.obj().contains("q_lora_rank") && r.obj()["q_lora_rank"].is_null()) {
    r.touch("q_lora_rank");
    *out = 0;
    return Status::Ok();
  }
  return r.uint("q_lora_rank", 1536, out);
}

// n_routed_experts, or num_local_experts (transformers' alias of it).
Status read_routed_experts(Reader& r, HParams* hp) {
  uint64_t a = 0, b = 0;
  const bool ha = r.has("n_routed_experts"), hb = r.has("num_local_experts");
  F8_CFG_TRY(r.uint("n_routed_experts", 256, &a));
  F8_CFG_TRY(r.uint("num_local_experts", 256, &b));
  if (ha && hb && a != b)
    return r.fail(Code::BadType, "num_local_experts",
                  "= " + std::to_string(b) + " but n_routed_experts = " + std::to_string(a) +
                      " (transformers maps one onto the other; which count is meant is ambiguous)");
  hp->n_experts = (ha || !hb) ? a : b;
  return Status::Ok();
}

// A key transformers recomputes from others: noted when the file's value differs.
void note_recomputed(Reader& r, const std::string& key, uint64_t value, const std::string& rule, Notes* notes) {
  r.touch(key);
  const json& j = r.obj();
  if (!j.contains(key) || j[key].is_null()) return;
  if (!j[key].is_number_unsigned() || j[key].get<uint64_t>() != value)
    notes->push_back(r.name(key) + " = " + j[key].dump() + " is not read: transformers recomputes it as " + rule +
                     " = " + std::to_string(value));
}

}  // namespace

Status schema_deepseek_v3(Reader& r, HParams* hp, Notes* notes) {
  // head_dim here is only a placeholder for read_core: DeepseekV3Config
  // overwrites it (qk_rope_head_dim); the attention's dims are read below.
  F8_CFG_TRY(read_core(r, {129280, 7168, 18432, 61, 128, 0, 64, 4096, 1e-6f, false}, hp));
  F8_CFG_TRY(read_silu(r));
  hp->mla = true;
  F8_CFG_TRY(read_q_lora(r, &hp->q_lora));
  F8_CFG_TRY(r.uint("kv_lora_rank", 512, &hp->kv_lora));
  F8_CFG_TRY(r.uint("qk_nope_head_dim", 128, &hp->qk_nope));
  F8_CFG_TRY(r.uint("qk_rope_head_dim", 64, &hp->qk_rope));
  F8_CFG_TRY(r.uint("v_head_dim", 128, &hp->v_head));
  if (hp->qk_rope % 2)
    return r.fail(Code::BadShape, "qk_rope_head_dim", "= " + std::to_string(hp->qk_rope) + " must be even for RoPE");
  note_recomputed(r, "head_dim", hp->qk_rope, "qk_rope_head_dim", notes);
  note_recomputed(r, "qk_head_dim", hp->qk_nope + hp->qk_rope, "qk_nope_head_dim + qk_rope_head_dim", notes);
  hp->head_dim = hp->qk_nope + hp->qk_rope;  // the q/k head dim (f8's llm.attention.head_dim)
  if (hp->n_kv_heads != hp->n_heads)
    return r.refuse("num_key_value_heads", "multi-head latent attention expands one key and value per query head "
                                           "(transformers' eager attention fails for any other count); expected " +
                                               std::to_string(hp->n_heads));
  bool bias = false;
  F8_CFG_TRY(r.boolean("attention_bias", false, &bias));
  if (bias) return r.refuse("attention_bias", "biases on q_a/kv_a/o_proj are not implemented for DeepSeek-V3 in f8");
  // rope_interleave: true by default; null is falsy in transformers' `if`.
  if (r.obj().contains("rope_interleave") && r.obj()["rope_interleave"].is_null()) {
    r.touch("rope_interleave");
    hp->rope_interleave = false;
  } else {
    F8_CFG_TRY(r.boolean("rope_interleave", true, &hp->rope_interleave));
  }
  F8_CFG_TRY(read_rope(r, 10000.0f, hp, notes));
  // transformers: scaling = qk_head_dim ** -0.5, then yarn_apply_mscale
  // (Python doubles; the attention multiplies float32 scores by it).
  double scale = 1.0 / std::sqrt(double(hp->head_dim));
  if (hp->rope_type == "yarn" && hp->rope_mscale_all_dim != 0) {
    const double f = hp->rope_factor;
    const double m = f <= 1 ? 1.0 : 0.1 * double(hp->rope_mscale_all_dim) * std::log(f) + 1.0;
    scale = scale * m * m;
  }
  hp->attn_scale = float(scale);

  // Mixture of experts.
  F8_CFG_TRY(read_routed_experts(r, hp));
  F8_CFG_TRY(read_topk(r, 8, hp));
  F8_CFG_TRY(r.uint("moe_intermediate_size", 2048, &hp->moe_ffn));
  uint64_t n_shared = 1, first_dense = 3;
  F8_CFG_TRY(r.uint("n_shared_experts", 1, &n_shared));
  hp->shexp_ffn = hp->moe_ffn * n_shared;
  F8_CFG_TRY(r.uint("first_k_dense_replace", 3, &first_dense, /*allow_zero=*/true));
  std::vector<uint8_t> m(hp->n_layers, 0);
  bool all = true;
  for (uint64_t l = 0; l < hp->n_layers; ++l) {
    m[l] = l >= first_dense;
    all = all && m[l];
  }
  if (!all) hp->moe_layers = m;
  F8_CFG_TRY(r.uint("n_group", 8, &hp->n_group));
  F8_CFG_TRY(r.uint("topk_group", 4, &hp->topk_group));
  F8_CFG_TRY(r.boolean("norm_topk_prob", true, &hp->norm_topk));
  F8_CFG_TRY(r.real("routed_scaling_factor", 2.5f, &hp->routed_scale));
  if (hp->n_experts % hp->n_group)
    return r.fail(Code::BadShape, "n_group", "= " + std::to_string(hp->n_group) + " does not divide the " +
                                                 std::to_string(hp->n_experts) + " routed experts into equal groups");
  const uint64_t G = hp->n_experts / hp->n_group;
  if (hp->n_group > 1 && G < 2)
    return r.fail(Code::BadShape, "n_group", "= " + std::to_string(hp->n_group) +
                                                 " leaves one expert per group (transformers scores a group by "
                                                 "its two best experts)");
  if (hp->topk_group > hp->n_group)
    return r.fail(Code::BadShape, "topk_group", "= " + std::to_string(hp->topk_group) + " exceeds n_group = " +
                                                    std::to_string(hp->n_group));
  if (hp->n_experts_used > hp->topk_group * G)
    return r.fail(Code::BadShape, "num_experts_per_tok",
                  "= " + std::to_string(hp->n_experts_used) + " exceeds the " + std::to_string(hp->topk_group * G) +
                      " experts of the topk_group kept groups");
  for (const auto& [key, want] : {std::pair<std::string, std::string>{"topk_method", "noaux_tc"},
                                  std::pair<std::string, std::string>{"scoring_func", "sigmoid"}}) {
    std::string v;
    F8_CFG_TRY(r.str(key, want, &v));
    if (v != want)
      notes->push_back(r.name(key) + " = \"" + v + "\" is not read: transformers' DeepseekV3TopkRouter always "
                                                 "runs sigmoid scores with noaux_tc group-limited top-k (f8 too)");
  }
  hp->gating = "sigmoid_group_topk";
  hp->expert_names = "deepseek";

  // Multi-token prediction layers: stored after the decoder layers.
  uint64_t a = 0, b = 0;
  const bool ha = r.has("num_nextn_predict_layers"), hb = r.has("num_mtp_layers");
  F8_CFG_TRY(r.uint("num_nextn_predict_layers", 1, &a, /*allow_zero=*/true));
  F8_CFG_TRY(r.uint("num_mtp_layers", 1, &b, /*allow_zero=*/true));
  if (ha && hb && a != b)
    return r.fail(Code::BadType, "num_mtp_layers", "= " + std::to_string(b) + " but num_nextn_predict_layers = " +
                                                       std::to_string(a) + " (transformers maps one onto the other)");
  hp->mtp_layers = (ha || !hb) ? a : b;
  if (hp->mtp_layers) {
    const std::string first = std::to_string(hp->n_layers), last = std::to_string(hp->n_layers + hp->mtp_layers - 1);
    notes->push_back(r.name(ha ? "num_nextn_predict_layers" : "num_mtp_layers") + " = " +
                     std::to_string(hp->mtp_layers) + ": the multi-token-prediction layer" +
                     (hp->mtp_layers > 1 ? "s (model.layers." + first + ".." + last + ".*) are" :
                                           " (model.layers." + first + ".*) is") +
                     " not converted (f8 runs the " + first + " decoder layers; no speculative decoding)");
  }
  return Status::Ok();
}

}  // namespace f8conv::cfg
