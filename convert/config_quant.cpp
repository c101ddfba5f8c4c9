// config_quant.cpp — config.json "quantization_config": which stored form the
// checkpoint's weights have. f8 imports FP8 checkpoints (compressed-tensors,
// block FP8 "fp8") byte for byte; any other method stores weights f8 cannot
// read, so it is refused by name.
#include "convert/config_read.h"

namespace f8conv::cfg {

Status read_quant(Reader& r, HfQuantConfig* qc) {
  if (!r.has("quantization_config")) return Status::Ok();
  const json& q = r.at("quantization_config");
  if (!q.is_object()) return r.fail(Code::BadType, "quantization_config", "must be an object");
  std::string m = q.contains("quant_method") && q["quant_method"].is_string() ? q["quant_method"].get<std::string>() : "";
  if (m != "compressed-tensors" && m != "fp8")
    return Status::Error(Code::BadType, r.file() + ": quantization_config.quant_method \"" + m +
                                            "\" is not supported (supported: compressed-tensors FP8, fp8)");
  qc->method = m;
  // Block size: fp8 (DeepSeek style) says weight_block_size; compressed-tensors
  // block strategy says config_groups.*.weights.block_structure.
  const json* bs = nullptr;
  if (q.contains("weight_block_size") && q["weight_block_size"].is_array()) bs = &q["weight_block_size"];
  if (!bs && q.contains("config_groups") && q["config_groups"].is_object())
    for (const auto& g : q["config_groups"])
      if (g.is_object() && g.contains("weights") && g["weights"].is_object() &&
          g["weights"].contains("block_structure") && g["weights"]["block_structure"].is_array())
        bs = &g["weights"]["block_structure"];
  if (bs) {
    if (bs->size() != 2 || !(*bs)[0].is_number_unsigned() || !(*bs)[1].is_number_unsigned() ||
        (*bs)[0].get<uint64_t>() == 0 || (*bs)[1].get<uint64_t>() == 0 || (*bs)[0].get<uint64_t>() > 65536 ||
        (*bs)[1].get<uint64_t>() > 65536)
      return Status::Error(Code::BadShape, r.file() + ": quantization_config block size must be [rows, cols] in 1..65536, got " +
                                               bs->dump());
    qc->block_rows = static_cast<uint32_t>((*bs)[0].get<uint64_t>());
    qc->block_cols = static_cast<uint32_t>((*bs)[1].get<uint64_t>());
  }
  return Status::Ok();
}

}  // namespace f8conv::cfg
