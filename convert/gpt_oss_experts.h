// gpt_oss_experts.h — gpt-oss's fused expert tensors -> f8's stacked expert
// tensors (ggf8/SPEC.md "Mixture of experts").
//
// A gpt-oss MoE layer stores all its experts in a few 3-D/4-D tensors
// (model.layers.N.mlp.experts.*), in one of two layouts:
//   MXFP4 (as published, quantization_config.quant_method "mxfp4"):
//     gate_up_proj_blocks [E, 2F, H/32, 16] U8, gate_up_proj_scales [E, 2F, H/32] U8,
//     down_proj_blocks    [E, H, F/32, 16] U8,  down_proj_scales    [E, H, F/32] U8
//     ([out, in] rows; convert/mxfp4.h has the encoding);
//   dense (a dequantized BF16 copy, as transformers holds the parameters and
//   save_pretrained writes them): gate_up_proj [E, H, 2F], down_proj [E, F, H]
//     ([in, out]: x @ W, transposed relative to every other f8 weight);
// plus gate_up_proj_bias [E, 2F] and down_proj_bias [E, H] in both.
// gate_up's 2F outputs INTERLEAVE gate and up: output 2f is gate f, 2f + 1 is
// up f (GptOssExperts._apply_gate: gate_up[..., ::2], gate_up[..., 1::2]).
//
// They become blk.N.ffn_{gate,up}_exps.weight [E, F, H], ffn_down_exps.weight
// [E, H, F] (MXFP4: E4M3 codes + block scales 1 x 32, exact; dense: quantized
// or kept per expert like any expert stack) and ffn_{gate,up}_exps.bias
// [E, F], ffn_down_exps.bias [E, H] (F32).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "convert/fp8_import.h"
#include "convert/hf_config.h"
#include "convert/quantize.h"
#include "convert/safetensors.h"

namespace f8conv {

enum class OssKind { Mxfp4, Dense, Bias };
enum class OssPart { All, Even, Odd };  // gate_up rows/columns: even = gate, odd = up

// One f8 tensor made from a fused source.
struct OssDerived {
  std::string canonical;                     // blk.N.ffn_gate_exps.weight, ...
  OssKind kind = OssKind::Bias;
  OssPart part = OssPart::All;
  const Checkpoint::Entry* src = nullptr;     // blocks / dense tensor / bias
  const Checkpoint::Entry* scales = nullptr;  // Mxfp4: the E8M0 scales
  std::vector<uint64_t> shape;                // the f8 tensor's shape
};

// The fused sources of one layer, by field name after "mlp.experts."
// ("gate_up_proj_blocks", "down_proj", "gate_up_proj_bias", ...).
using OssLayerSources = std::map<std::string, const Checkpoint::Entry*>;

// Whether `field` is one of the fused expert tensors above.
bool is_oss_expert_field(const std::string& field);

// Checks one layer's sources (each projection in exactly one layout, shapes
// and dtypes as config.json implies) and lists the tensors they become.
// Errors name the file, the tensor and what was expected.
ggf8::Status oss_plan_layer(const HParams& hp, int layer, const OssLayerSources& in, std::vector<OssDerived>* out);

// Mxfp4: the stack's E4M3 codes [E, rows, cols] and block scales
// [E, rows, cols / 32] (block 1 x 32). Fails naming the tensor and the block
// on an E8M0 NaN scale (255).
ggf8::Status oss_import_mxfp4(const OssDerived& d, ThreadPool& pool, std::vector<uint8_t>* codes,
                              ImportedScale* scale);

// Dense: each expert's [rows, cols] matrix transposed out of the [E, in, out]
// source (and de-interleaved for gate/up) into F32, then quantized
// (quantize_matrix; a tensor scale becomes per-row, as for other stacks) or,
// with fmt BF16, kept. Stats merged over the stack.
ggf8::Status oss_dense_stack(const OssDerived& d, WeightFormat fmt, ScaleMode mode, uint32_t block,
                             bool allow_nonfinite, ThreadPool& pool, std::vector<uint8_t>* bytes, QuantResult* out);

// Bias: [E, rows] F32 (de-interleaved for gate/up).
ggf8::Status oss_bias(const OssDerived& d, bool allow_nonfinite, std::vector<uint8_t>* bytes);

}  // namespace f8conv
