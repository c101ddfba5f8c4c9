// arch_deepseek.cpp — DeepseekV3ForCausalLM's tensor names (DeepSeek-V3 / R1
// as published; transformers' DeepseekV3 module names):
//
//   model.layers.N.self_attn.q_a_proj.weight            -> blk.N.attn_q_a.weight      [q_lora, hidden]
//   model.layers.N.self_attn.q_a_layernorm.weight       -> blk.N.attn_q_a_norm.weight [q_lora]
//   model.layers.N.self_attn.q_b_proj.weight            -> blk.N.attn_q_b.weight      [H*(nope+rope), q_lora]
//   model.layers.N.self_attn.q_proj.weight (no q_lora)  -> blk.N.attn_q.weight        [H*(nope+rope), hidden]
//   model.layers.N.self_attn.kv_a_proj_with_mqa.weight  -> blk.N.attn_kv_a_mqa.weight [kv_lora+rope, hidden]
//   model.layers.N.self_attn.kv_a_layernorm.weight      -> blk.N.attn_kv_a_norm.weight [kv_lora]
//   model.layers.N.self_attn.kv_b_proj.weight           -> blk.N.attn_kv_b.weight     [H*(nope+v), kv_lora]
//   model.layers.N.self_attn.o_proj.weight              -> blk.N.attn_output.weight   [hidden, H*v]
//   model.layers.N.mlp.gate.weight                      -> blk.N.ffn_gate_inp.weight  [E, hidden] (kept BF16/F32)
//   model.layers.N.mlp.gate.e_score_correction_bias     -> blk.N.ffn_gate_inp.score_bias [E] (F32)
//   model.layers.N.mlp.experts.E.{gate,up,down}_proj    -> blk.N.ffn_{gate,up,down}_exps (stacks)
//   model.layers.N.mlp.shared_experts.{gate,up,down}_proj -> blk.N.ffn_{gate,up,down}_shexp
//   model.layers.N.mlp.{gate,up,down}_proj (N < first_k_dense_replace) -> blk.N.ffn_{gate,up,down}
// plus the Llama names of the norms, embeddings and lm_head; block-FP8
// checkpoints add .weight_scale_inv to every projection (experts included).
// model.layers.{L .. L + num_nextn_predict_layers - 1}.* (the
// multi-token-prediction layers) are skipped by map_hf_name.
//
// RoPE rows (rope_interleave): DeepSeek rotates interleaved pairs (x0, x1),
// (x2, x3), ... of each head's last qk_rope dims of q and of k_pe;
// transformers' apply_rotary_pos_emb_interleave returns them as
// [rotated evens, rotated odds]. mla_rope_rows gives the row order that puts
// a checkpoint's rows in that order (evens, then odds), so f8's rotate_half
// RoPE on the permuted rows yields exactly transformers' output.
#include <cstring>

#include "convert/arch.h"

namespace f8conv {

namespace {

bool eat(std::string_view& s, std::string_view p) {
  if (s.substr(0, p.size()) != p) return false;
  s.remove_prefix(p.size());
  return true;
}

// The weight or an FP8 companion of it.
bool leaf(const std::string& w, std::string_view rest, int layer, MappedName* out) {
  const std::string base = w.substr(0, w.size() - 7);  // without ".weight"
  if (rest == "weight") *out = {w, Role::Linear, "", layer};
  else if (rest == "weight_scale") *out = {w + ".scale", Role::WeightScale, w, layer};
  else if (rest == "weight_scale_inv") *out = {w + ".scale", Role::WeightScaleInv, w, layer};
  else if (rest == "input_scale") *out = {base + ".input_scale", Role::InputScale, w, layer};
  else return false;
  return true;
}

bool ends(const std::string& n, const char* suf) {
  const size_t k = std::strlen(suf);
  return n.size() > k && n.compare(n.size() - k, k, suf) == 0;
}

}  // namespace

bool map_mla_name(const HParams& hp, std::string_view s, int layer, MappedName* out) {
  const std::string blk = "blk." + std::to_string(layer) + ".";
  std::string_view r = s;
  if (!eat(r, "self_attn.")) return false;
  if (r == "rotary_emb.inv_freq") {
    *out = {blk + "rope_inv_freq", Role::Ignore, "", layer};
    return true;
  }
  if (r == "q_a_layernorm.weight" && hp.q_lora) {
    *out = {blk + "attn_q_a_norm.weight", Role::Norm, "", layer};
    return true;
  }
  if (r == "kv_a_layernorm.weight") {
    *out = {blk + "attn_kv_a_norm.weight", Role::Norm, "", layer};
    return true;
  }
  struct P {
    const char* hf;
    const char* ours;
    bool want;
  };
  const P projs[] = {{"q_a_proj.", "attn_q_a", hp.q_lora > 0},
                     {"q_b_proj.", "attn_q_b", hp.q_lora > 0},
                     {"q_proj.", "attn_q", hp.q_lora == 0},
                     {"kv_a_proj_with_mqa.", "attn_kv_a_mqa", true},
                     {"kv_b_proj.", "attn_kv_b", true},
                     {"o_proj.", "attn_output", true}};
  for (const P& p : projs) {
    std::string_view t = r;
    if (p.want && eat(t, p.hf)) return leaf(blk + p.ours + ".weight", t, layer, out);
  }
  return false;  // k_proj, v_proj, KV scales ...: not part of MLA
}

void mla_required_tensors(const HParams& hp, uint64_t l, std::vector<std::string>* out) {
  const std::string b = "blk." + std::to_string(l) + ".";
  if (hp.q_lora) {
    out->push_back(b + "attn_q_a.weight");
    out->push_back(b + "attn_q_a_norm.weight");
    out->push_back(b + "attn_q_b.weight");
  } else {
    out->push_back(b + "attn_q.weight");
  }
  out->push_back(b + "attn_kv_a_mqa.weight");
  out->push_back(b + "attn_kv_a_norm.weight");
  out->push_back(b + "attn_kv_b.weight");
  out->push_back(b + "attn_output.weight");
}

std::vector<uint64_t> mla_expected_shape(const HParams& hp, const std::string& rest) {
  const uint64_t H = hp.n_heads, D = hp.qk_nope + hp.qk_rope;
  if (rest == "attn_q_a.weight") return {hp.q_lora, hp.hidden};
  if (rest == "attn_q_a_norm.weight") return {hp.q_lora};
  if (rest == "attn_q_b.weight") return {H * D, hp.q_lora};
  if (rest == "attn_q.weight") return {H * D, hp.hidden};
  if (rest == "attn_kv_a_mqa.weight") return {hp.kv_lora + hp.qk_rope, hp.hidden};
  if (rest == "attn_kv_a_norm.weight") return {hp.kv_lora};
  if (rest == "attn_kv_b.weight") return {H * (hp.qk_nope + hp.v_head), hp.kv_lora};
  if (rest == "attn_output.weight") return {hp.hidden, H * hp.v_head};
  if (rest == "ffn_gate_inp.score_bias") return {hp.n_experts};
  return {};
}

std::string mla_hf_name(const std::string& rest) {
  static const char* kMap[][2] = {{"attn_q_a.", "self_attn.q_a_proj."},
                                  {"attn_q_a_norm.", "self_attn.q_a_layernorm."},
                                  {"attn_q_b.", "self_attn.q_b_proj."},
                                  {"attn_q.", "self_attn.q_proj."},
                                  {"attn_kv_a_mqa.", "self_attn.kv_a_proj_with_mqa."},
                                  {"attn_kv_a_norm.", "self_attn.kv_a_layernorm."},
                                  {"attn_kv_b.", "self_attn.kv_b_proj."},
                                  {"ffn_gate_inp.score_bias", "mlp.gate.e_score_correction_bias"}};
  for (const auto& m : kMap)
    if (rest.rfind(m[0], 0) == 0) return m[1] + rest.substr(std::strlen(m[0]));
  return "";
}

bool is_mla_linear(const std::string& n) {
  return n.rfind("blk.", 0) == 0 && (ends(n, ".attn_q_a.weight") || ends(n, ".attn_q_b.weight") ||
                                      ends(n, ".attn_kv_a_mqa.weight") || ends(n, ".attn_kv_b.weight"));
}

std::vector<uint64_t> mla_rope_rows(const HParams& hp, const std::string& canonical) {
  std::vector<uint64_t> order;
  if (!hp.mla || !hp.rope_interleave || canonical.rfind("blk.", 0) != 0) return order;
  const uint64_t P = hp.qk_rope;
  auto deinterleave = [&](uint64_t first) {  // rows [first, first + P): evens, then odds
    for (uint64_t i = 0; i < P / 2; ++i) {
      order[first + i] = first + 2 * i;
      order[first + P / 2 + i] = first + 2 * i + 1;
    }
  };
  if (ends(canonical, ".attn_q_b.weight") || ends(canonical, ".attn_q.weight")) {
    const uint64_t D = hp.qk_nope + P;
    order.resize(hp.n_heads * D);
    for (uint64_t i = 0; i < order.size(); ++i) order[i] = i;
    for (uint64_t h = 0; h < hp.n_heads; ++h) deinterleave(h * D + hp.qk_nope);
  } else if (ends(canonical, ".attn_kv_a_mqa.weight")) {
    order.resize(hp.kv_lora + P);
    for (uint64_t i = 0; i < order.size(); ++i) order[i] = i;
    deinterleave(hp.kv_lora);
  }
  return order;
}

}  // namespace f8conv
