// auto_format.h — `f8 convert --auto-format BITS`: per linear tensor, a
// choice among E4M3 per-channel, E4M3 128x128 blocks, E5M2 per-channel and
// BF16 that keeps the mean bits per weight of the linear tensors at or under
// BITS with the least measured damage.
//
// Damage of (tensor, format) is its sensitivity: the mean KL(base || model)
// over held-out calibration tokens when only that tensor is stored in that
// format (BF16 = the base: 0). The choice is greedy by damage saved per bit:
// every tensor starts at its cheapest format; the move (tensor, cheaper ->
// dearer format) with the largest (KL saved) / (bits added) that still fits
// the budget is taken until none fits. Sensitivities are treated as additive.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convert/quantize.h"
#include "ggf8/ggf8.h"

namespace f8conv {

struct FormatOption {
  const char* name;  // "e4m3/channel", "e4m3/block", "e5m2/channel", "bf16"
  WeightFormat weights;
  ScaleMode scale;
  uint32_t block;
};
// The candidates, in this order (BF16 last).
const std::vector<FormatOption>& auto_format_options();

// Bits per weight of a [rows, cols] matrix stored in option o (codes + F32 scales).
double option_bits(const FormatOption& o, uint64_t rows, uint64_t cols);

struct TensorSensitivity {
  std::string name;
  uint64_t rows = 0, cols = 0;
  std::vector<double> kl;  // per option (auto_format_options() order); bf16 = 0
};

struct FormatChoice {
  std::vector<int> option;  // per tensor: index into auto_format_options()
  double mean_bits = 0;     // parameter-weighted, linear tensors only
  double min_bits = 0;      // the cheapest possible mean (every tensor at its cheapest format)
  double kl_sum = 0;        // sum of the chosen options' KL (the additive estimate)
};

// The greedy choice. InvalidArgument when budget_bits is below min_bits.
ggf8::Status choose_formats(const std::vector<TensorSensitivity>& t, double budget_bits, FormatChoice* out);

}  // namespace f8conv
