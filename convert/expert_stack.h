// expert_stack.h — MoE expert weights: one source matrix per expert
// ([rows, cols] each, possibly in different shards) become one stacked GGF8
// tensor [experts, rows, cols] with per-expert scales (SPEC.md §Scales,
// "Stacked matrices"). Each expert is quantized, imported or converted
// exactly as a lone matrix would be; the stack is their concatenation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convert/fp8_import.h"
#include "convert/quantize.h"

namespace f8conv {

struct ExpertSource {
  const StTensor* tensor = nullptr;  // this expert's [rows, cols] matrix
  std::string file;                  // its shard (for messages)
  const StTensor* scale = nullptr;   // FP8 checkpoints: its weight_scale(_inv)
  std::string scale_file;
};

// FP8 experts imported byte for byte. Per-expert tensor scales (one number
// per expert matrix) become per-row scales of the stack (the same value on
// every row: exact); channel and block scales stack as they are. All
// experts must share dtype and scale kind.
ggf8::Status stack_import(const std::string& name, const std::vector<ExpertSource>& src, bool scale_inv,
                          const HfQuantConfig& qc, std::vector<uint8_t>* bytes, ggf8::DType* dtype,
                          ImportedScale* scale);

// Float experts quantized one by one (quantize_matrix), codes and scales
// concatenated; stats merged over the stack. A Tensor scale mode gives each
// expert its own scale, stored as per-row scales (see stack_import).
ggf8::Status stack_quantize(const std::string& name, const std::vector<ExpertSource>& src, WeightFormat fmt,
                            ScaleMode mode, uint32_t block, bool allow_nonfinite, ThreadPool& pool,
                            std::vector<uint8_t>* bytes, QuantResult* out);

// Float experts kept (BF16), concatenated.
ggf8::Status stack_plain(const std::string& name, const std::vector<ExpertSource>& src, bool allow_nonfinite,
                         ThreadPool& pool, std::vector<uint8_t>* bytes);

}  // namespace f8conv
