// k_center.h — the pre-RoPE K means of K centering (docs/runtime.md "K
// centering"): measured once per model on the built-in calibration text, or
// read from the file, where `f8 convert` stores them (quant.kv.k_mean) so
// that no process pays the measuring forward pass at start-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ggf8/ggf8.h"
#include "model/hparams.h"
#include "model/status.h"

namespace f8tok {
class Tokenizer;
}

namespace f8model {

class Model;

// Varied prose, dialogue, code and numbers, so K/V see typical ranges: the
// text both the K means and the per-layer FP8 KV scales are measured on.
extern const char* const kCalibrationText;

// Tokens of kCalibrationText the K means are measured on: the measuring
// forward pass is the start-up cost when the file has no stored means.
inline constexpr size_t kCenterCalibrationTokens = 128;

// kCalibrationText's ids (ids outside the vocabulary dropped); with no
// usable tokenizer, a deterministic spread of 256 ids (worse than text, but
// every layer sees varied inputs).
std::vector<int32_t> calibration_tokens(const f8tok::Tokenizer* tok, uint32_t n_vocab);

// Whether the runtime centers K for this model at all (not for a latent
// (MLA) cache, not with soft-capped attention: the shift would have to pass
// through tanh).
bool k_center_applies(const HParams& hp);

// calibrate_k_center (cpu backend, F32 KV cache) on the first
// kCenterCalibrationTokens of calibration_tokens: what every process measured
// before the means were stored. *tokens (optional): how many were run.
Status measure_k_center(Model& model, const f8tok::Tokenizer* tok, int32_t n_threads, std::vector<float>* mean,
                        uint64_t* tokens = nullptr);

// quant.kv.k_mean of `file` when present (*found): n_layer x n_head_kv x
// head_dim finite F32 values, or an error naming the key and what it holds.
Status read_k_center(const ggf8::File& file, const HParams& hp, std::vector<float>* mean, bool* found);

}  // namespace f8model
