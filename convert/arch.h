// arch.h — per-architecture tensor name maps: Hugging Face tensor names ->
// the canonical names listed at the bottom of ggf8/keys.h, and the shape each
// canonical tensor must have given config.json.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "convert/hf_config.h"

namespace f8conv {

enum class Role {
  Embed,        // token_embd.weight            [vocab, hidden]
  Output,       // output.weight (lm_head)      [vocab, hidden]
  Norm,         // *_norm.weight                [hidden]
  Linear,       // attention / MLP projections  [out, in]
  Bias,         // attn_{q,k,v}.bias            [out]
  WeightScale,  // FP8 checkpoint: <linear>.weight_scale      (compressed-tensors / AutoFP8)
  WeightScaleInv,  // FP8 checkpoint: <linear>.weight_scale_inv (block FP8, a multiplier)
  InputScale,   // FP8 checkpoint: <linear>.input_scale   -> "<W without .weight>.input_scale"
  KvScale,      // FP8 checkpoint: self_attn.k_scale / v_scale -> blk.N.attn_{k,v}.kv_scale
  Ignore,       // carried by HF but derived (rotary_emb.inv_freq)
};

struct MappedName {
  std::string canonical;  // canonical name of this tensor (for scales: of the scale itself)
  Role role = Role::Ignore;
  std::string weight;     // scales: canonical name of the weight the scale belongs to
  int layer = -1;         // block index for blk.N.* tensors
  int expert = -1;        // MoE: the expert this source tensor is in a stacked canonical tensor
                          // (blk.N.ffn_*_exps [experts, rows, cols]); -1 = not stacked
};

// Maps one HF tensor name; false if the name is not one this architecture
// has (the caller reports it). Layer indices >= n_layers are rejected.
bool map_hf_name(const HParams& hp, const std::string& hf_name, MappedName* out);

// MoE tensors of one layer (arch_moe.cpp): `rest` is the name after
// "model.layers.N."; false if it is not one (map_hf_name goes on).
bool map_moe_name(const HParams& hp, std::string_view rest, int layer, MappedName* out);
// The MoE layer's canonical tensors and their shapes (stacks: [E, rows, cols]).
void moe_required_tensors(const HParams& hp, uint64_t layer, std::vector<std::string>* out);
std::vector<uint64_t> moe_expected_shape(const HParams& hp, const std::string& rest);
// Whether `canonical` is a stacked expert tensor (blk.N.ffn_{gate,up,down}_exps.weight).
bool is_expert_stack(const std::string& canonical);

// The canonical tensors the runtime needs for `hp` (weights, norms, biases;
// output.weight only when the embeddings are not tied), in file order.
std::vector<std::string> required_tensors(const HParams& hp);

// The shape `canonical` must have, [out, in] for matrices; empty if unknown.
std::vector<uint64_t> expected_shape(const HParams& hp, const std::string& canonical);

// The Hugging Face name of a canonical weight/norm/bias (for messages).
std::string hf_name_for(const std::string& canonical);

// Whether `canonical` is a linear-layer weight (quantized by default).
bool is_linear_weight(const std::string& canonical);

}  // namespace f8conv
