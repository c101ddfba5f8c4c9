// cmd_convert.cpp — `f8 convert DIR -o OUT.f8`: Hugging Face directory ->
// .f8 (the work is in convert/converter.h). Progress bar on a TTY, a summary
// of the quantization error (worst tensors first) on stderr unless -q.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "args.h"
#include "command.h"
#include "convert/calibrate.h"
#include "convert/converter.h"
#include "f8.h"

namespace {

using f8conv::ConvertOptions;
using f8conv::ConvertReport;

std::string mb(uint64_t b) {
  char s[32];
  std::snprintf(s, sizeof s, "%.1f MB", double(b) / 1e6);
  return s;
}

void print_summary(const ConvertReport& r, const ConvertOptions& o, size_t top) {
  if (!r.quantized.empty()) {
    std::vector<const f8conv::TensorReport*> v;
    for (const auto& t : r.quantized) v.push_back(&t);
    std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->stats.sqnr_db() < b->stats.sqnr_db(); });
    std::vector<double> sq;
    for (auto* t : v) sq.push_back(t->stats.sqnr_db());
    std::fprintf(stderr, "quantized %zu tensors to %s, %s scales; SQNR dB min %.2f median %.2f max %.2f\n", v.size(),
                 v[0]->dtype.c_str(), v[0]->scale.c_str(), sq.front(), sq[sq.size() / 2], sq.back());
    std::fprintf(stderr, "  %-28s %9s %12s %8s %8s\n", "worst tensors", "SQNR dB", "max |err|", "sat %", "flush %");
    for (size_t i = 0; i < std::min(top, v.size()); ++i)
      std::fprintf(stderr, "  %-28s %9.2f %12.4g %8.4f %8.4f\n", v[i]->name.c_str(), v[i]->stats.sqnr_db(),
                   double(v[i]->stats.max_abs_err), v[i]->stats.saturated_pct(), v[i]->stats.flushed_pct());
  }
  if (r.n_imported_fp8) std::fprintf(stderr, "imported %llu FP8 tensors unchanged (bytes and scales)\n",
                                     static_cast<unsigned long long>(r.n_imported_fp8));
  if (r.n_imported_mxfp4)
    std::fprintf(stderr, "imported %llu MXFP4 expert stacks exactly (E4M3 codes, block scales 1x32)\n",
                 static_cast<unsigned long long>(r.n_imported_mxfp4));
  const double mbps = r.seconds > 0 ? double(r.source_bytes) / 1e6 / r.seconds : 0;
  std::fprintf(stderr, "wrote %s: %llu tensors, %s from %s of safetensors in %.2f s (%.0f MB/s)\n", o.output.c_str(),
               static_cast<unsigned long long>(r.n_tensors), mb(r.output_bytes).c_str(), mb(r.source_bytes).c_str(),
               r.seconds, mbps);
}

int cmd_convert(int argc, char** argv) {
  using namespace f8cli;
  std::string dir, out, weights = "e4m3", scale = "channel", quantize, keep;
  std::vector<std::string> ignore_keys;
  int64_t threads = 0, block = 128, top = 10;
  bool force = false, allow_nonfinite = false, no_checksums = false, quiet = false;
  ArgParser p("f8 convert", "DIR -o OUT.f8 [options]",
              "Convert a Hugging Face model directory (config.json, *.safetensors, tokenizer files)\n"
              "to one .f8 file. Linear-layer weights become FP8; embeddings, lm_head stay BF16,\n"
              "norms and biases F32. Already-FP8 checkpoints (compressed-tensors, AutoFP8, block\n"
              "FP8) are imported unchanged.");
  p.positional("DIR", &dir, "the model directory");
  p.option("-o,--output", &out, "FILE", "output .f8 file", /*required=*/true);
  p.option("--weights", &weights, "e4m3|e5m2|bf16", "format of the quantized weights");
  p.option("--scale", &scale, "tensor|channel|block", "scale granularity (block = 128x128)");
  p.option("--block", &block, "N", "block size for --scale block");
  p.option("--quantize", &quantize, "REGEX",
           "quantize exactly the tensors matching REGEX (canonical or HF name) instead of the linear layers");
  p.option("--keep", &keep, "REGEX", "do not quantize tensors matching REGEX");
  p.option("--ignore-config-key", &ignore_keys, "K1,K2",
           "treat these config.json keys as absent (repeatable; \"text_config.K\" for a nested one): a way past a "
           "value f8 refuses or a contradiction, at your word. Keys f8 does not read are accepted anyway and listed");
  p.flag("--force", &force, "overwrite OUT if it exists");
  p.flag("--allow-nonfinite", &allow_nonfinite, "convert NaN/Inf weights instead of failing");
  p.option("-t,--threads", &threads, "N", "threads (0 = all cores)");
  p.flag("--no-checksums", &no_checksums, "do not store per-tensor checksums");
  p.option("--top", &top, "N", "worst tensors listed in the summary");
  p.flag("-q,--quiet", &quiet, "no progress bar and no summary");
  std::string calib_text;
  int64_t calib_tokens = 2048, heldout = 128;
  double auto_bits = 0, calib_pct = 100.0;
  p.option("--calibrate", &calib_text, "TEXT",
           "run the BF16 model on TEXT first: static activation and KV scales in the file (docs/convert.md)");
  p.option("--calib-tokens", &calib_tokens, "N", "calibration tokens (default 2048)");
  p.option("--calib-percentile", &calib_pct, "P", "input scales from this percentile of |x| (default 100 = absmax)");
  p.option("--auto-format", &auto_bits, "BITS",
           "per-tensor E4M3 channel/block, E5M2 or BF16 by measured sensitivity, mean <= BITS (8..16)");
  p.option("--heldout-tokens", &heldout, "N", "--auto-format: held-out tokens for the sensitivity (default 128)");
  std::string rounding = "gptq";
  p.option("--rounding", &rounding, "gptq|nearest",
           "--calibrate: FP8 codes for least output error on the calibration inputs (gptq, default) or "
           "nearest rounding of each weight");
  p.epilog("example:\n  f8 convert ~/.cache/f8/smollm2-135m-instruct -o smollm2.f8");
  int rc = 0;
  if (!p.parse(argc, argv, &rc)) return rc;

  ConvertOptions o;
  o.model_dir = dir;
  o.output = out;
  if (weights == "e4m3") o.weights = f8conv::WeightFormat::E4M3;
  else if (weights == "e5m2") o.weights = f8conv::WeightFormat::E5M2;
  else if (weights == "bf16") o.weights = f8conv::WeightFormat::BF16;
  else return fail(2, "f8 convert: --weights must be e4m3, e5m2 or bf16, got '" + weights + "'");
  if (scale == "tensor") o.scale = f8conv::ScaleMode::Tensor;
  else if (scale == "channel") o.scale = f8conv::ScaleMode::Channel;
  else if (scale == "block") o.scale = f8conv::ScaleMode::Block;
  else return fail(2, "f8 convert: --scale must be tensor, channel or block, got '" + scale + "'");
  if (block < 1 || block > 65536) return fail(2, "f8 convert: --block must be in 1..65536");
  if (threads < 0 || threads > 1024) return fail(2, "f8 convert: --threads must be in 0..1024");
  o.block = static_cast<uint32_t>(block);
  o.quantize_regex = quantize;
  o.keep_regex = keep;
  for (const std::string& list : ignore_keys)  // repeated flags and comma lists alike
    for (size_t a = 0; a <= list.size();) {
      size_t b = list.find(',', a);
      if (b == std::string::npos) b = list.size();
      if (b > a) o.ignore_config_keys.push_back(list.substr(a, b - a));
      a = b + 1;
    }
  o.overwrite = force;
  o.allow_nonfinite = allow_nonfinite;
  o.checksums = !no_checksums;
  o.threads = static_cast<unsigned>(threads);
  o.converter_version = std::string("f8 ") + f8_version();

  const bool bar = !quiet && isatty(STDERR_FILENO);
  auto last = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  if (bar) {
    o.progress = [&](uint64_t done, uint64_t total, const std::string& name) {
      auto now = std::chrono::steady_clock::now();
      if (done < total && now - last < std::chrono::milliseconds(100)) return;
      last = now;
      const int width = 30;
      const double f = total ? double(done) / double(total) : 1.0;
      const int fill = static_cast<int>(f * width);
      std::fprintf(stderr, "\r[%s%s] %3d%% %-32.32s", std::string(fill, '=').c_str(),
                   std::string(width - fill, ' ').c_str(), static_cast<int>(f * 100), name.c_str());
      std::fflush(stderr);
    };
  }
  if (!quiet)
    o.note = [&](const std::string& n) {
      if (bar) std::fprintf(stderr, "\r%80s\r", "");
      std::fprintf(stderr, "f8 convert: note: %s\n", n.c_str());
    };
  ConvertReport rep;
  ggf8::Status s;
  if (p.given("--auto-format") && calib_text.empty())
    return fail(2, "f8 convert: --auto-format needs --calibrate TEXT (the sensitivity is measured on it)");
  if (p.given("--auto-format") && !(auto_bits >= 8.0 && auto_bits <= 16.0))
    return fail(2, "f8 convert: --auto-format " + std::to_string(auto_bits) +
                       ": expected a budget between 8 and 16 bits per weight (e.g. 8.5)");
  if (rounding != "gptq" && rounding != "nearest")
    return fail(2, "f8 convert: --rounding must be gptq or nearest, got '" + rounding + "'");
  if (p.given("--rounding") && rounding == "gptq" && calib_text.empty())
    return fail(2, "f8 convert: --rounding gptq needs --calibrate TEXT (it minimizes the error on those inputs)");
  if (!calib_text.empty()) {
    f8conv::CalibOptions co;
    co.compensate = rounding == "gptq";
    co.text_path = calib_text;
    co.calib_tokens = calib_tokens;
    co.auto_bits = auto_bits;
    co.heldout_tokens = heldout;
    co.act_percentile = calib_pct;
    if (!quiet) co.log = [](const std::string& m) { std::fprintf(stderr, "%s\n", m.c_str()); };
    s = f8conv::convert_calibrated(o, co, &rep, nullptr);
  } else {
    s = f8conv::convert_checkpoint(o, &rep);
  }
  if (bar) std::fprintf(stderr, "\r%80s\r", "");
  if (!quiet)
    for (const auto& w : rep.warnings) std::fprintf(stderr, "f8 convert: warning: %s\n", w.c_str());
  if (!s.ok()) return fail(1, s.message);
  if (!quiet) print_summary(rep, o, static_cast<size_t>(std::max<int64_t>(0, top)));
  return 0;
}

}  // namespace

F8_COMMAND("convert", "Hugging Face directory -> .f8 (FP8 weights, tokenizer, template)", cmd_convert);
