// arch_gpt_oss.cpp — the GptOssForCausalLM tensor names of one layer that
// the Llama map (arch_llama.cpp) does not know; everything else (embeddings,
// norms, q/k/v/o weights, q/k/v biases, lm_head) is named as in Llama:
//
//   self_attn.sinks                 -> blk.N.attn_sinks.weight   [heads] (kept F32)
//   self_attn.o_proj.bias           -> blk.N.attn_output.bias    [hidden]
//   mlp.router.weight               -> blk.N.ffn_gate_inp.weight [experts, hidden] (kept BF16/F32)
//   mlp.router.bias                 -> blk.N.ffn_gate_inp.bias   [experts]
//   mlp.experts.{gate_up_proj,down_proj}{_blocks,_scales,,_bias}
//                                   -> fused sources (Role::OssExperts) that
//      convert/gpt_oss_experts.h turns into blk.N.ffn_{gate,up,down}_exps.{weight,bias}.
#include "convert/arch.h"
#include "convert/gpt_oss_experts.h"

namespace f8conv {

bool map_gpt_oss_name(const HParams& hp, std::string_view s, int layer, MappedName* out) {
  const std::string blk = "blk." + std::to_string(layer) + ".";
  if (s == "self_attn.sinks") {
    if (!hp.attn_sinks) return false;
    *out = {blk + "attn_sinks.weight", Role::Bias, "", layer};
    return true;
  }
  if (s == "self_attn.o_proj.bias") {
    if (!hp.attn_out_bias) return false;
    *out = {blk + "attn_output.bias", Role::Bias, "", layer};
    return true;
  }
  if (s == "mlp.router.weight") {
    *out = {blk + "ffn_gate_inp.weight", Role::Linear, "", layer};
    return true;
  }
  if (s == "mlp.router.bias") {
    *out = {blk + "ffn_gate_inp.bias", Role::Bias, "", layer};
    return true;
  }
  constexpr std::string_view kExperts = "mlp.experts.";
  if (s.substr(0, kExperts.size()) == kExperts) {
    const std::string field(s.substr(kExperts.size()));
    if (!is_oss_expert_field(field)) return false;
    *out = {blk + "oss." + field, Role::OssExperts, field, layer};
    return true;
  }
  return false;
}

}  // namespace f8conv
