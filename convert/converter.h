// converter.h — the `f8 convert` driver: a Hugging Face model directory in,
// one .f8 file out.
//
//   config.json -> hparams (hf_config) -> name map + shape checks (arch_*)
//   -> tensors streamed one at a time in file order: quantized (quantize),
//      imported as-is (fp8_import) or kept as BF16/F32
//   -> tokenizer + chat template metadata (tokenizer_import)
//   -> ggf8::Writer (atomic: nothing at the output path unless it all worked)
//
// Default policy: every linear-layer weight (attention q/k/v/o, MLP
// gate/up/down) becomes E4M3 with one scale per output channel; embeddings,
// lm_head stay BF16; norms and biases F32.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "convert/k_mean.h"
#include "convert/quantize.h"
#include "ggf8/ggf8.h"

namespace f8conv {

struct ConvertOptions {
  std::string model_dir;
  std::string output;
  WeightFormat weights = WeightFormat::E4M3;
  ScaleMode scale = ScaleMode::Channel;
  uint32_t block = 128;          // block scale size (rows = cols)
  std::string quantize_regex;    // replaces the default set (matched against canonical and HF names)
  std::string keep_regex;        // removed from the set
  // config.json keys declared harmless (accepted unread; see hf_config.h).
  std::vector<std::string> ignore_config_keys;
  bool overwrite = false;
  bool allow_nonfinite = false;
  bool checksums = true;
  unsigned threads = 0;          // 0 = all cores
  // Calibration / --auto-format (convert/calibrate.h) fill these; empty by default.
  // Per-tensor format for tensors of the quantized set (canonical name).
  struct TensorChoice {
    WeightFormat weights = WeightFormat::E4M3;
    ScaleMode scale = ScaleMode::Channel;
    uint32_t block = 128;
  };
  std::map<std::string, TensorChoice> tensor_choice;
  // F32 [1] tensors written after the weights (input_scale, kv_scale); they
  // replace a checkpoint's tensors of the same name.
  std::map<std::string, float> extra_scalars;
  std::vector<ggf8::KV> extra_metadata;  // written after quant.* (e.g. quant.calib.*)
  // Called after a tensor of the quantized set was quantized to FP8 by nearest
  // rounding: may replace its codes in *codes (same scales, same size) and
  // qr->stats — calibrate.cpp's error-compensating rounding (gptq.h). An
  // error aborts the conversion. Empty: nearest rounding.
  std::function<ggf8::Status(const std::string& name, const SrcMatrix& src, std::vector<uint8_t>* codes,
                             QuantResult* qr)>
      requantize;
  // Last step: the runtime loads the written file and measures K centering's
  // means on its calibration text (quant.kv.k_mean, k_mean.h), so that no
  // process measures them at start-up. false: skip it.
  bool store_k_mean = true;
  std::string converter_version = "f8";  // general.converter
  // Called after each tensor: bytes of source consumed so far, total, name.
  std::function<void(uint64_t done, uint64_t total, const std::string& tensor)> progress;
  // Called once per note about the input as soon as it is known (config.json
  // keys not read, values transformers ignores, parts not converted).
  std::function<void(const std::string& note)> note;
};

struct TensorReport {
  std::string name;        // canonical
  std::string dtype;       // stored dtype ("e4m3", ...)
  std::string scale;       // "tensor" | "channel" | "block" | "none"
  QuantStats stats;
};

struct ConvertReport {
  std::vector<TensorReport> quantized;  // tensors quantized here (with stats)
  uint64_t n_tensors = 0;               // tensors written (scales included)
  uint64_t n_imported_fp8 = 0;          // FP8 tensors carried over unchanged
  uint64_t n_imported_mxfp4 = 0;        // gpt-oss MXFP4 expert stacks imported exactly (E4M3 + 1x32 block scales)
  uint64_t source_bytes = 0;            // tensor bytes read from safetensors
  uint64_t output_bytes = 0;            // size of the .f8 file
  double seconds = 0;                   // wall time of the whole conversion
  KMeanResult k_mean;                   // the last step (ConvertOptions::store_k_mean)
  std::vector<std::string> warnings;
  std::vector<std::string> notes;       // the notes given to ConvertOptions::note
};

// Converts; on any failure nothing is left at opts.output (and an existing
// file there is untouched). Never throws.
ggf8::Status convert_checkpoint(const ConvertOptions& opts, ConvertReport* report);

}  // namespace f8conv
