// util_quant.h — reading the calibration / --auto-format metadata
// (quant.calib.*, quant.auto.*; docs/convert.md) for `f8 inspect` and
// `f8 quant-report`.
#pragma once

#include <string>
#include <vector>

#include "ggf8/ggf8.h"

namespace f8cli {

struct AutoChoiceRow {
  std::string tensor, format;
  double kl = 0;                                    // of the chosen format
  double kl_e4m3_channel = 0, kl_e4m3_block = 0, kl_e5m2 = 0;
};

// Rows in file order; empty when the file has no quant.auto.* keys.
std::vector<AutoChoiceRow> auto_choices(const ggf8::File& f, double* budget_bits, double* mean_bits);

// `f8 inspect`: the choice summary and the tensors not left at the cheapest
// E4M3 format, most sensitive first (all of them with `all`).
void print_auto_choices(const ggf8::File& f, bool all);

}  // namespace f8cli
