// calibrate_steps.h — the steps of convert_calibrated (calibrate.h), one
// function each, in the order the driver runs them. Internal to convert/.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "convert/calibrate.h"
#include "convert/gptq.h"
#include "convert/thread_pool.h"
#include "ggf8/ggf8.h"
#include "model/act_stats.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace f8conv {

inline constexpr float kE4M3Max = 448.0f;
inline constexpr int64_t kMinCalibTokens = 64;
inline constexpr int64_t kMinHeldout = 32;

double calib_now_s();
ggf8::Status from_model(const f8model::Status& s, const std::string& what);

// Step 1's result: the temporary all-BF16 .f8 (removed when this goes),
// mapped, loaded into the CPU runtime, with its tokenizer. Members go in
// reverse order: the model before the mapping before the file's removal.
struct CalibModel {
  struct TempFile {
    std::string path;
    ~TempFile();
  } tmp;
  std::unique_ptr<ggf8::File> file;
  std::unique_ptr<f8tok::Tokenizer> tok;
  std::unique_ptr<f8model::Model> model;
};
// 1. Converts o's checkpoint to `<output>.calib-bf16.tmp` (BF16, no checksums,
//    no K mean) and loads it. Refuses FP8 checkpoints and MLA models.
ggf8::Status load_bf16_model(const ConvertOptions& o, CalibModel* cm);

// The calibration text as ids, and how many of them the statistics use
// (*n_cal: the rest is --auto-format's held-out part). Fills S's counts.
ggf8::Status split_text(const CalibOptions& c, const f8tok::Tokenizer& tok, const std::string& text,
                        std::vector<int32_t>* ids, int64_t* n_cal, CalibSummary* S);

// 2. Runs ids[0, n_cal) in chunks (BOS first where the model has one, F32
//    KV cache) with the statistics hook on; with compensation also the
//    inputs' second moments (spread over `pool`).
ggf8::Status collect_stats(f8model::Model& model, const std::vector<int32_t>& ids, int64_t n_cal, int32_t bos,
                           const CalibOptions& c, ThreadPool& pool, f8model::ActStats* as);

// 3. Error-compensating rounding: one factor per (layer, site), each second
//    moment freed once factored. A failed factor leaves that site's weights
//    at nearest rounding, with a warning naming them.
struct Compensation {
  std::vector<std::array<std::unique_ptr<RoundingFactor>, f8model::kSiteCount>> factors;
  std::vector<std::string> warnings;
  // The factor for a linear weight by canonical name (nullptr: nearest).
  const RoundingFactor* factor_for(const std::string& name) const;
};
void factor_inputs(f8model::ActStats& as, uint32_t n_layer, const CalibOptions& c, ThreadPool& pool,
                   Compensation* comp, CalibSummary* S);
// ConvertOptions::requantize over comp's factors (warnings added to comp).
using RequantizeFn = std::function<ggf8::Status(const std::string&, const SrcMatrix&, std::vector<uint8_t>*,
                                                QuantResult*)>;
RequantizeFn make_requantize(Compensation& comp, ThreadPool& pool);

// The static scales and quant.calib.* metadata into the final options:
// `<W>.input_scale` per linear input, `blk.N.attn_{k,v}.kv_scale` per layer.
void static_scales(const f8model::ActStats& as, const f8model::HParams& hp, const CalibOptions& c,
                   ConvertOptions* fin, CalibSummary* S);

// 4. --auto-format: each linear tensor's KL on the held-out ids [n_cal, ...)
//    for every candidate format, the choice within c.auto_bits, and
//    quant.auto.* metadata and per-tensor formats into *fin.
ggf8::Status choose_auto_formats(CalibModel& cm, const std::vector<int32_t>& ids, int64_t n_cal, int32_t bos,
                                 const CalibOptions& c, ThreadPool& pool, const RequantizeFn& requantize,
                                 ConvertOptions* fin, CalibSummary* S);

}  // namespace f8conv
