// arch_llama.cpp — the Llama family name map: LlamaForCausalLM (Llama 2,
// Llama 3.x, TinyLlama, SmolLM2), MistralForCausalLM and Qwen2ForCausalLM all
// use the same HF module names; Qwen2 adds q/k/v biases (SeedOssForCausalLM:
// q/k/v and o_proj biases as its config switches them); Qwen3 adds per-head
// q/k norms (self_attn.{q,k}_norm.weight [head_dim] -> blk.N.attn_{q,k}_norm.weight).
// Phi3ForCausalLM: self_attn.qkv_proj.weight [q_dim + 2 kv_dim, hidden] (rows
// q, then k, then v) and mlp.gate_up_proj.weight [2 ffn, hidden] (gate rows,
// then up: Phi3MLP's chunk(2)) are split into attn_{q,k,v} / ffn_{gate,up}.
// Gemma2ForCausalLM / Gemma3ForCausalLM: post_attention_layernorm ->
// blk.N.post_attention_norm, pre_feedforward_layernorm -> blk.N.ffn_norm,
// post_feedforward_layernorm -> blk.N.post_ffw_norm (Gemma 3 also q/k norms);
// the converter stores every Gemma norm weight as 1 + w.
//
//   model.embed_tokens.weight                      -> token_embd.weight
//   model.norm.weight                              -> output_norm.weight
//   lm_head.weight                                 -> output.weight
//   model.layers.N.input_layernorm.weight          -> blk.N.attn_norm.weight
//   model.layers.N.post_attention_layernorm.weight -> blk.N.ffn_norm.weight
//   model.layers.N.self_attn.{q,k,v}_proj.{weight,bias} -> blk.N.attn_{q,k,v}.{weight,bias}
//   model.layers.N.self_attn.o_proj.weight         -> blk.N.attn_output.weight
//   model.layers.N.mlp.{gate,up,down}_proj.weight  -> blk.N.ffn_{gate,up,down}.weight
// FP8 checkpoints add, per projection P: P.weight_scale | P.weight_scale_inv,
// P.input_scale; per layer: self_attn.k_scale, self_attn.v_scale.
// Q and K rows stay in HF's order (rotate_half RoPE layout); the runtime
// applies RoPE that way.
#include <cstring>

#include "convert/arch.h"

namespace f8conv {

namespace {

struct Proj {
  const char* hf;      // module path inside a layer
  const char* ours;    // canonical stem inside blk.N.
};
constexpr Proj kProjs[] = {
    {"self_attn.q_proj", "attn_q"},   {"self_attn.k_proj", "attn_k"}, {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"}, {"mlp.gate_proj", "ffn_gate"}, {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
};

bool consume(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

// Parses a decimal layer index with no sign, no leading zeros, bounded.
bool parse_layer(std::string_view& s, uint64_t n_layers, int* out) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    if (v > (1u << 30)) return false;
    ++i;
  }
  if (i == 0 || (i > 1 && s[0] == '0') || v >= n_layers) return false;
  s.remove_prefix(i);
  *out = static_cast<int>(v);
  return true;
}

}  // namespace

bool map_hf_name(const HParams& hp, const std::string& hf_name, MappedName* out) {
  std::string_view s = hf_name;
  MappedName m;
  std::string unwrapped;
  if (hp.multimodal_wrapper) {
    // Gemma3ForConditionalGeneration: the text model as transformers < 4.52
    // saved it ("language_model.model.*", "language_model.lm_head.*") or
    // later ("model.language_model.*"); the vision side is not converted.
    for (std::string_view vision : {"vision_tower.", "multi_modal_projector.", "model.vision_tower.",
                                    "model.multi_modal_projector."})
      if (s.substr(0, vision.size()) == vision) {
        *out = {"vision:" + hf_name, Role::Ignore, "", -1};
        return true;
      }
    if (consume(s, "language_model.")) {
      unwrapped = std::string(s);
    } else if (consume(s, "model.language_model.")) {
      unwrapped = "model." + std::string(s);
    } else if (s != "lm_head.weight") {
      return false;
    }
    if (!unwrapped.empty()) s = unwrapped;
  }
  if (s == "model.embed_tokens.weight") {
    *out = {"token_embd.weight", Role::Embed, "", -1};
    return true;
  }
  if (s == "model.norm.weight") {
    *out = {"output_norm.weight", Role::Norm, "", -1};
    return true;
  }
  if (s == "lm_head.weight") {
    *out = {"output.weight", Role::Output, "", -1};
    return true;
  }
  if (!consume(s, "model.layers.")) return false;
  int layer = -1;
  // DeepSeek-V3: the multi-token-prediction layers follow the decoder layers
  // (model.layers.{n_layers ..}); they are not converted.
  if (!parse_layer(s, hp.n_layers + hp.mtp_layers, &layer) || !consume(s, ".")) return false;
  if (uint64_t(layer) >= hp.n_layers) {
    *out = {"mtp:" + hf_name, Role::Ignore, "", -1};
    return true;
  }
  const std::string blk = "blk." + std::to_string(layer) + ".";
  m.layer = layer;
  if (map_moe_name(hp, s, layer, out)) return true;
  if (hp.mla && s.substr(0, 10) == "self_attn.") return map_mla_name(hp, s, layer, out);
  if (s == "input_layernorm.weight") {
    *out = {blk + "attn_norm.weight", Role::Norm, "", layer};
    return true;
  }
  // Gemma 2/3: input_layernorm, post_attention_layernorm (on the attention
  // output), pre_feedforward_layernorm (the MLP input), post_feedforward_layernorm.
  if (s == "post_attention_layernorm.weight") {
    *out = {blk + (hp.gemma ? "post_attention_norm.weight" : "ffn_norm.weight"), Role::Norm, "", layer};
    return true;
  }
  if (hp.gemma && s == "pre_feedforward_layernorm.weight") {
    *out = {blk + "ffn_norm.weight", Role::Norm, "", layer};
    return true;
  }
  if (hp.gemma && s == "post_feedforward_layernorm.weight") {
    *out = {blk + "post_ffw_norm.weight", Role::Norm, "", layer};
    return true;
  }
  if (hp.qk_norm && (s == "self_attn.q_norm.weight" || s == "self_attn.k_norm.weight")) {
    *out = {blk + (s[10] == 'q' ? "attn_q_norm.weight" : "attn_k_norm.weight"), Role::Norm, "", layer};
    return true;
  }
  if (s == "self_attn.rotary_emb.inv_freq") {
    *out = {blk + "rope_inv_freq", Role::Ignore, "", layer};
    return true;
  }
  if (s == "self_attn.k_scale" || s == "self_attn.v_scale") {
    const char* kv = s == "self_attn.k_scale" ? "attn_k" : "attn_v";
    *out = {blk + kv + ".kv_scale", Role::KvScale, blk + kv + ".weight", layer};
    return true;
  }
  // Phi-3: fused projections, split by rows by the converter (canonical
  // "attn_qkv" / "ffn_gate_up" name the fused source only).
  if (hp.fused_qkv && s == "self_attn.qkv_proj.weight") {
    *out = {blk + "attn_qkv.weight", Role::Linear, "", layer};
    return true;
  }
  if (hp.fused_qkv && s == "mlp.gate_up_proj.weight") {
    *out = {blk + "ffn_gate_up.weight", Role::Linear, "", layer};
    return true;
  }
  for (const auto& p : kProjs) {
    std::string_view rest = s;
    if (!consume(rest, p.hf) || !consume(rest, ".")) continue;
    const std::string stem = blk + p.ours;
    const std::string w = stem + ".weight";
    if (rest == "weight") {
      *out = {w, Role::Linear, "", layer};
      return true;
    }
    if (rest == "bias") {
      // Biases on q/k/v and on o_proj, each only when the config says so
      // (Qwen2: q/k/v; Seed-OSS: attention_bias, attention_out_bias).
      bool qkv = std::strcmp(p.ours, "attn_q") == 0 || std::strcmp(p.ours, "attn_k") == 0 ||
                 std::strcmp(p.ours, "attn_v") == 0;
      bool out_proj = std::strcmp(p.ours, "attn_output") == 0;
      if (!(qkv && hp.qkv_bias) && !(out_proj && hp.attn_out_bias)) return false;
      *out = {stem + ".bias", Role::Bias, "", layer};
      return true;
    }
    if (rest == "weight_scale") {
      *out = {w + ".scale", Role::WeightScale, w, layer};
      return true;
    }
    if (rest == "weight_scale_inv") {
      *out = {w + ".scale", Role::WeightScaleInv, w, layer};
      return true;
    }
    if (rest == "input_scale") {
      *out = {stem + ".input_scale", Role::InputScale, w, layer};
      return true;
    }
    // Some exporters put the KV scales on the projections.
    if ((rest == "k_scale" && std::strcmp(p.ours, "attn_k") == 0) ||
        (rest == "v_scale" && std::strcmp(p.ours, "attn_v") == 0)) {
      *out = {stem + ".kv_scale", Role::KvScale, w, layer};
      return true;
    }
    return false;
  }
  return false;
}

std::vector<std::string> required_tensors(const HParams& hp) {
  std::vector<std::string> r{"token_embd.weight"};
  for (uint64_t l = 0; l < hp.n_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    r.push_back(b + "attn_norm.weight");
    if (hp.mla) {
      mla_required_tensors(hp, l, &r);
    } else {
      for (const char* p : {"attn_q", "attn_k", "attn_v"}) {
        r.push_back(b + p + ".weight");
        if (hp.qkv_bias) r.push_back(b + p + ".bias");
      }
      if (hp.qk_norm) {
        r.push_back(b + "attn_q_norm.weight");
        r.push_back(b + "attn_k_norm.weight");
      }
      r.push_back(b + "attn_output.weight");
    }
    if (hp.attn_out_bias) r.push_back(b + "attn_output.bias");
    if (hp.attn_sinks) r.push_back(b + "attn_sinks.weight");
    r.push_back(b + "ffn_norm.weight");
    if (hp.gemma) {
      r.push_back(b + "post_attention_norm.weight");
      r.push_back(b + "post_ffw_norm.weight");
    }
    if (hp.layer_moe(l))
      moe_required_tensors(hp, l, &r);
    else
      for (const char* p : {"ffn_gate", "ffn_up", "ffn_down"}) r.push_back(b + p + ".weight");
  }
  r.push_back("output_norm.weight");
  if (!hp.tied) r.push_back("output.weight");
  return r;
}

std::vector<uint64_t> expected_shape(const HParams& hp, const std::string& name) {
  const uint64_t q = hp.n_heads * hp.head_dim, kv = hp.n_kv_heads * hp.head_dim;
  if (name == "token_embd.weight" || name == "output.weight") return {hp.vocab, hp.hidden};
  if (name == "output_norm.weight") return {hp.hidden};
  auto ends = [&](const char* suf) {
    size_t n = std::strlen(suf);
    return name.size() > n && name.compare(name.size() - n, n, suf) == 0 && name.rfind("blk.", 0) == 0;
  };
  if (ends(".attn_norm.weight") || ends(".ffn_norm.weight") || ends(".post_attention_norm.weight") ||
      ends(".post_ffw_norm.weight"))
    return {hp.hidden};
  if (ends(".attn_q_norm.weight") || ends(".attn_k_norm.weight")) return {hp.head_dim};
  if (name.rfind("blk.", 0) == 0 && hp.mla) {
    const size_t dot = name.find('.', 4);
    if (dot != std::string::npos) {
      std::vector<uint64_t> m = mla_expected_shape(hp, name.substr(dot + 1));
      if (!m.empty()) return m;
    }
  }
  if (name.rfind("blk.", 0) == 0 && hp.n_experts) {
    const size_t dot = name.find('.', 4);
    if (dot != std::string::npos) {
      std::vector<uint64_t> m = moe_expected_shape(hp, name.substr(dot + 1));
      if (!m.empty()) return m;
    }
  }
  if (ends(".attn_q.weight")) return {q, hp.hidden};
  if (ends(".attn_k.weight") || ends(".attn_v.weight")) return {kv, hp.hidden};
  if (ends(".attn_q.bias")) return {q};
  if (ends(".attn_k.bias") || ends(".attn_v.bias")) return {kv};
  if (ends(".attn_output.weight")) return {hp.hidden, q};
  if (ends(".attn_output.bias")) return {hp.hidden};
  if (ends(".attn_sinks.weight")) return {hp.n_heads};
  if (ends(".ffn_gate.weight") || ends(".ffn_up.weight")) return {hp.ffn, hp.hidden};
  if (ends(".ffn_down.weight")) return {hp.hidden, hp.ffn};
  return {};
}

std::string hf_name_for(const std::string& c) {
  if (c == "token_embd.weight") return "model.embed_tokens.weight";
  if (c == "output_norm.weight") return "model.norm.weight";
  if (c == "output.weight") return "lm_head.weight";
  if (c.rfind("blk.", 0) != 0) return c;
  const size_t dot = c.find('.', 4);
  if (dot == std::string::npos) return c;
  const std::string layer = c.substr(4, dot - 4), rest = c.substr(dot + 1);
  const std::string pre = "model.layers." + layer + ".";
  if (const std::string m = mla_hf_name(rest); !m.empty()) return pre + m;
  if (rest == "attn_norm.weight") return pre + "input_layernorm.weight";
  if (rest == "ffn_norm.weight") return pre + "post_attention_layernorm.weight (Gemma: pre_feedforward_layernorm.weight)";
  if (rest == "post_attention_norm.weight") return pre + "post_attention_layernorm.weight";
  if (rest == "post_ffw_norm.weight") return pre + "post_feedforward_layernorm.weight";
  if (rest == "attn_q_norm.weight") return pre + "self_attn.q_norm.weight";
  if (rest == "attn_k_norm.weight") return pre + "self_attn.k_norm.weight";
  if (rest == "attn_sinks.weight") return pre + "self_attn.sinks";
  if (rest == "ffn_gate_inp.bias") return pre + "mlp.router.bias";
  for (const auto& p : kProjs) {
    const std::string stem = std::string(p.ours) + ".";
    if (rest.rfind(stem, 0) == 0) return pre + p.hf + "." + rest.substr(stem.size());
  }
  return c;
}

bool is_linear_weight(const std::string& n) {
  if (n.rfind("blk.", 0) != 0) return false;
  if (is_mla_linear(n)) return true;
  if (is_expert_stack(n)) return true;  // the router (ffn_gate_inp*) stays BF16/F32: it picks the experts
  for (const char* suf : {".ffn_gate_shexp.weight", ".ffn_up_shexp.weight", ".ffn_down_shexp.weight"}) {
    const size_t k = std::strlen(suf);
    if (n.size() > k && n.compare(n.size() - k, k, suf) == 0) return true;
  }
  for (const auto& p : kProjs) {
    std::string suf = std::string(".") + p.ours + ".weight";
    if (n.size() > suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0) return true;
  }
  return false;
}

}  // namespace f8conv
