// calibrate.h — `f8 convert --calibrate TEXT [--calib-tokens N] [--auto-format BITS]`.
//
//   1. the checkpoint is converted to a temporary all-BF16 .f8 next to the
//      output (removed afterwards);
//   2. the CPU runtime runs it over the first N tokens of TEXT (chunks of
//      `chunk` tokens, BOS first, F32 KV cache), recording every linear
//      layer's input |x| (absmax and a histogram: percentiles) and the
//      post-RoPE K / V absmax per layer and KV head (model/act_stats.h);
//   3. with --auto-format, each linear tensor's sensitivity is measured on the
//      held-out tokens that follow (auto_format.h) and a format chosen;
//   4. with error-compensating rounding (the default; --rounding nearest turns
//      it off) the pass also sums x x^T per distinct linear input and each
//      FP8 weight's codes are chosen for least output error on those inputs
//      (gptq.h), the scales unchanged — in the sensitivity candidates too;
//   5. the real conversion runs with the static scales
//      (`<W>.input_scale` = act_amax / 448, `blk.N.attn_{k,v}.kv_scale` =
//      amax * kv_headroom / 448), the per-tensor formats and quant.calib.* /
//      quant.auto.* metadata.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "convert/auto_format.h"
#include "convert/converter.h"

namespace f8conv {

struct CalibOptions {
  std::string text_path;
  int64_t calib_tokens = 2048;    // tokens for the statistics (fewer if the text is shorter)
  int32_t chunk = 512;            // tokens per forward (BOS included)
  double auto_bits = 0;           // --auto-format budget; 0 = off
  int64_t heldout_tokens = 128;   // sensitivity tokens (after the calibration tokens)
  double act_percentile = 100.0;  // input_scale from this percentile of |x| (100 = absmax)
  float kv_headroom = 2.0f;       // kv_scale = amax * headroom / 448
  bool compensate = true;         // error-compensating rounding (gptq.h); false = nearest
  double damp_frac = 0.01;        // its damping: lambda = damp_frac * mean(diag H)
  bool act_order = true;          // strongest inputs decided first (gptq.h)
  std::function<void(const std::string&)> log;  // progress lines (may be empty)
};

struct CalibSummary {
  uint64_t text_tokens = 0, calib_tokens = 0, heldout_tokens = 0;
  double calib_seconds = 0, sensitivity_seconds = 0;
  float act_amax_max = 0;                  // largest linear-input |x| seen
  double factor_seconds = 0;               // Cholesky factors of the inputs' second moments
  int factor_fallbacks = 0;                // inputs whose factor failed (their weights: nearest)
  std::vector<float> k_scale, v_scale;     // per layer, as stored
  // --auto-format
  std::vector<TensorSensitivity> sensitivity;
  FormatChoice choice;
};

// Runs steps 1-4. Errors (one line): unreadable / empty / non-UTF-8 / too
// short text, a budget outside [8, 16], a checkpoint that is already FP8.
ggf8::Status convert_calibrated(const ConvertOptions& o, const CalibOptions& c, ConvertReport* rep,
                                CalibSummary* sum);

}  // namespace f8conv
