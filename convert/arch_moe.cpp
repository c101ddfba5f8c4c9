// arch_moe.cpp — the mixture-of-experts tensor names of one layer:
//
//   Qwen2-MoE / Qwen3-MoE (expert_names "qwen")
//     mlp.gate.weight                          -> blk.N.ffn_gate_inp.weight     [E, hidden] (router, kept BF16/F32)
//     mlp.experts.E.gate_proj.weight           -> blk.N.ffn_gate_exps.weight    [E, F, hidden] (expert E's matrix)
//     mlp.experts.E.up_proj.weight             -> blk.N.ffn_up_exps.weight      [E, F, hidden]
//     mlp.experts.E.down_proj.weight           -> blk.N.ffn_down_exps.weight    [E, hidden, F]
//     mlp.shared_expert.{gate,up,down}_proj.weight -> blk.N.ffn_{gate,up,down}_shexp.weight (Qwen2-MoE)
//     mlp.shared_expert_gate.weight            -> blk.N.ffn_gate_inp_shexp.weight [1, hidden]
//   Mixtral (expert_names "mixtral")
//     block_sparse_moe.gate.weight             -> blk.N.ffn_gate_inp.weight
//     block_sparse_moe.experts.E.w1 / w3 / w2  -> ffn_gate_exps / ffn_up_exps / ffn_down_exps
// FP8 checkpoints add per expert matrix .weight_scale / .weight_scale_inv /
// .input_scale; each becomes that expert's plane of the stack's scales.
// Dense layers of a MoE model (mlp_only_layers) use the plain mlp.* names.
#include <cstring>

#include "convert/arch.h"

namespace f8conv {

namespace {

bool eat(std::string_view& s, std::string_view p) {
  if (s.substr(0, p.size()) != p) return false;
  s.remove_prefix(p.size());
  return true;
}

bool parse_index(std::string_view& s, uint64_t bound, int* out) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 10) v = v * 10 + uint64_t(s[i++] - '0');
  if (i == 0 || (i > 1 && s[0] == '0') || v >= bound) return false;
  s.remove_prefix(i);
  *out = int(v);
  return true;
}

// The weight itself or one of its FP8 companions.
bool leaf(const std::string& w, std::string_view rest, int layer, int expert, MappedName* out) {
  const std::string base = w.substr(0, w.size() - 7);  // without ".weight"
  if (rest == "weight") *out = {w, Role::Linear, "", layer, expert};
  else if (rest == "weight_scale") *out = {w + ".scale", Role::WeightScale, w, layer, expert};
  else if (rest == "weight_scale_inv") *out = {w + ".scale", Role::WeightScaleInv, w, layer, expert};
  else if (rest == "input_scale") *out = {base + ".input_scale", Role::InputScale, w, layer, expert};
  else return false;
  return true;
}

}  // namespace

bool map_moe_name(const HParams& hp, std::string_view s, int layer, MappedName* out) {
  if (!hp.layer_moe(uint64_t(layer))) return false;
  const std::string blk = "blk." + std::to_string(layer) + ".";
  const bool mixtral = hp.expert_names == "mixtral";
  std::string_view r = s;
  if (!eat(r, mixtral ? "block_sparse_moe." : "mlp.")) return false;
  if (eat(r, "gate.")) return leaf(blk + "ffn_gate_inp.weight", r, layer, -1, out);
  if (!mixtral && eat(r, "shared_expert_gate.")) return hp.shexp_ffn && leaf(blk + "ffn_gate_inp_shexp.weight", r, layer, -1, out);
  if (!mixtral && eat(r, "shared_expert.")) {
    if (!hp.shexp_ffn) return false;
    for (const char* p : {"gate", "up", "down"}) {
      std::string_view t = r;
      if (eat(t, std::string(p) + "_proj.")) return leaf(blk + "ffn_" + p + "_shexp.weight", t, layer, -1, out);
    }
    return false;
  }
  int e = -1;
  if (!eat(r, "experts.") || !parse_index(r, hp.n_experts, &e) || !eat(r, ".")) return false;
  static const char* kQwen[3][2] = {{"gate_proj.", "gate"}, {"up_proj.", "up"}, {"down_proj.", "down"}};
  static const char* kMixtral[3][2] = {{"w1.", "gate"}, {"w3.", "up"}, {"w2.", "down"}};
  for (const auto& p : mixtral ? kMixtral : kQwen) {
    std::string_view t = r;
    if (eat(t, p[0])) return leaf(blk + "ffn_" + p[1] + "_exps.weight", t, layer, e, out);
  }
  return false;
}

void moe_required_tensors(const HParams& hp, uint64_t l, std::vector<std::string>* out) {
  const std::string b = "blk." + std::to_string(l) + ".";
  out->push_back(b + "ffn_gate_inp.weight");
  for (const char* p : {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"}) out->push_back(b + p + ".weight");
  if (hp.shexp_ffn) {
    for (const char* p : {"ffn_gate_shexp", "ffn_up_shexp", "ffn_down_shexp"}) out->push_back(b + p + ".weight");
    if (hp.shexp_gate) out->push_back(b + "ffn_gate_inp_shexp.weight");
  }
}

std::vector<uint64_t> moe_expected_shape(const HParams& hp, const std::string& rest) {
  const uint64_t H = hp.hidden, E = hp.n_experts, F = hp.moe_ffn, S = hp.shexp_ffn;
  if (rest == "ffn_gate_inp.weight") return {E, H};
  if (rest == "ffn_gate_exps.weight" || rest == "ffn_up_exps.weight") return {E, F, H};
  if (rest == "ffn_down_exps.weight") return {E, H, F};
  if (rest == "ffn_gate_shexp.weight" || rest == "ffn_up_shexp.weight") return {S, H};
  if (rest == "ffn_down_shexp.weight") return {H, S};
  if (rest == "ffn_gate_inp_shexp.weight") return {1, H};
  return {};
}

bool is_expert_stack(const std::string& n) {
  for (const char* suf : {".ffn_gate_exps.weight", ".ffn_up_exps.weight", ".ffn_down_exps.weight"}) {
    const size_t k = std::strlen(suf);
    if (n.size() > k && n.compare(n.size() - k, k, suf) == 0) return true;
  }
  return false;
}

}  // namespace f8conv
