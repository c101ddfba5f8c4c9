// fp8_import.h — carrying an already-FP8 checkpoint over unchanged.
//
// compressed-tensors / llm-compressor / AutoFP8 write, per linear layer P:
//   P.weight        F8_E4M3 [out, in]
//   P.weight_scale  F32/BF16, [] or [1] (per tensor) or [out, 1] / [out] (per channel)
//   P.input_scale   [] or [1]: static activation scale
// and per attention layer self_attn.k_scale / v_scale ([] or [1]).
// DeepSeek-style block FP8 writes P.weight_scale_inv [ceil(out/br), ceil(in/bc)]
// with (br, bc) = quantization_config.weight_block_size — despite the name a
// dequantization multiplier, like every scale in GGF8.
// The FP8 bytes are stored as they are; scales are widened to F32 exactly.
#pragma once

#include <string>
#include <vector>

#include "convert/hf_config.h"
#include "convert/safetensors.h"

namespace f8conv {

struct ImportedScale {
  ggf8::ScaleKind kind = ggf8::ScaleKind::None;
  uint32_t block_rows = 0, block_cols = 0;
  std::vector<uint64_t> dims;  // GGF8 shape: [1], [out] or [ceil(out/br), ceil(in/bc)]
  std::vector<float> values;
};

// Reads a floating tensor (F32, F16, BF16, F64) into F32; exact except F64.
ggf8::Status read_as_f32(const StTensor& t, const std::string& file, std::vector<float>* out);

// Works out the scale kind of a weight [out, in] from its scale tensor's
// shape (`inv` = it was weight_scale_inv), validates every value is finite
// and >= 0, and returns it in GGF8 form.
ggf8::Status import_weight_scale(const std::string& weight_name, const std::vector<uint64_t>& weight_dims,
                                 const StTensor& scale, const std::string& file, bool inv,
                                 const HfQuantConfig& qc, ImportedScale* out);

// input_scale / k_scale / v_scale: one finite value > 0 (any shape with one
// element), returned as F32 [1].
ggf8::Status import_scalar_scale(const StTensor& t, const std::string& file, float* out);

}  // namespace f8conv
