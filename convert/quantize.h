// quantize.h — FP8 (E4M3/E5M2) and BF16 weight quantization with tensor,
// channel or block scales (../shared/design/FP8.md "Scales"), and the error
// statistics recorded for every quantized tensor.
//
// A scale is a dequantization multiplier: x ~= decode(q) * s, with
// s = amax / fp8_max over the scale's group (tensor, output row, or
// block_rows x block_cols block), q = satfinite(rne(fl(x / s))) with the
// float32 quotient correctly rounded (IEEE division, not x * (1/s)): the same
// bytes as PyTorch's (w / s).to(torch.float8_e4m3fn). An all-zero group gets
// s = 1; s is never below FLT_MIN.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convert/safetensors.h"
#include "convert/thread_pool.h"
#include "ggf8/ggf8.h"

namespace f8conv {

enum class WeightFormat { E4M3, E5M2, BF16 };
enum class ScaleMode { Tensor, Channel, Block };
const char* weight_format_name(WeightFormat f);  // "e4m3" | "e5m2" | "bf16"
const char* scale_mode_name(ScaleMode m);        // "tensor" | "channel" | "block"

// A source matrix [rows, cols] in a floating dtype (F32, F16 or BF16),
// row-major as safetensors stores it. 1-D tensors are rows = 1.
struct SrcMatrix {
  StDType dtype = StDType::F32;
  const uint8_t* data = nullptr;
  uint64_t rows = 0, cols = 0;
};

// Error statistics over the finite source values of one tensor.
struct QuantStats {
  uint64_t count = 0;       // finite elements
  uint64_t nonfinite = 0;   // NaN/Inf source elements (excluded from the rest)
  uint64_t saturated = 0;   // |x / s| beyond the format's rounding range (clipped)
  uint64_t flushed = 0;     // x != 0 but decode(q) * s == 0
  double signal = 0;        // sum x^2
  double noise = 0;         // sum (x - decode(q) * s)^2
  float max_abs_err = 0;    // max |x - decode(q) * s|
  void merge(const QuantStats& o);
  double sqnr_db() const;        // 10 log10(signal / noise); +inf if noise == 0
  double saturated_pct() const;  // 100 * saturated / count
  double flushed_pct() const;
};

// What quantize_matrix produces: the bytes to store (rows*cols codes, or
// BF16), the scale tensor and its directory description.
struct QuantResult {
  ggf8::DType dtype = ggf8::DType::E4M3;
  ggf8::ScaleKind kind = ggf8::ScaleKind::None;
  uint32_t block_rows = 0, block_cols = 0;
  std::vector<uint64_t> scale_dims;  // [1], [rows], or [ceil(rows/br), ceil(cols/bc)]
  std::vector<float> scales;
  QuantStats stats;
};

// Quantizes `src` into `out_bytes` (resized to rows*cols*elem size). Fails
// (Code::BadType naming `name`) on non-finite source values unless
// allow_nonfinite, in which case they are excluded from the scale (NaN stays
// NaN, +-Inf saturates) and counted in stats.nonfinite.
ggf8::Status quantize_matrix(const std::string& name, const SrcMatrix& src, WeightFormat fmt,
                             ScaleMode mode, uint32_t block, bool allow_nonfinite, ThreadPool& pool,
                             std::vector<uint8_t>* out_bytes, QuantResult* out);

// Converts a tensor that is not quantized to F32 or BF16 (RNE) into
// `out_bytes`, checking for non-finite values. A BF16 -> BF16 or F32 -> F32
// conversion is a checked copy.
ggf8::Status convert_plain(const std::string& name, const SrcMatrix& src, ggf8::DType to,
                           bool allow_nonfinite, ThreadPool& pool, std::vector<uint8_t>* out_bytes);

// Counts NaN/Inf values of an F32/F16/BF16 array (in parallel).
uint64_t count_nonfinite_float(StDType dtype, const uint8_t* data, uint64_t n, ThreadPool& pool);

// Counts non-finite values of a raw FP8 tensor (E4M3: NaN codes; E5M2: inf
// and NaN codes) — for imported checkpoints.
uint64_t count_nonfinite_fp8(const uint8_t* data, uint64_t n, bool e5m2);

// Widens n source elements to F32 (exact for F16/BF16). Exposed for tests.
void widen_to_f32(StDType dtype, const uint8_t* src, float* dst, uint64_t n);

}  // namespace f8conv
