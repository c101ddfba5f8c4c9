// util_convert.cpp — see util_convert.h.
#include "util_convert.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "f8.h"

namespace f8cli {

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
  const double tensor_s = r.seconds - r.k_mean.seconds;
  const double mbps = tensor_s > 0 ? double(r.source_bytes) / 1e6 / tensor_s : 0;
  std::fprintf(stderr, "wrote %s: %llu tensors, %s from %s of safetensors in %.2f s (%.0f MB/s)\n", o.output.c_str(),
               static_cast<unsigned long long>(r.n_tensors), mb(r.output_bytes).c_str(), mb(r.source_bytes).c_str(),
               r.seconds, mbps);
  if (r.k_mean.stored)
    std::fprintf(stderr, "K means for the fp8/int8 KV cache measured on %llu tokens in %.2f s and stored\n",
                 static_cast<unsigned long long>(r.k_mean.tokens), r.k_mean.seconds);
}

// FNV-1a 64: a stable short hash for the options tag (not security).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}
}  // namespace

void add_convert_flags(ArgParser& p, ConvertFlags* f, const char* force_help) {
  p.option("--weights", &f->weights, "e4m3|e5m2|bf16", "format of the quantized weights");
  p.option("--scale", &f->scale, "tensor|channel|block", "scale granularity (block = 128x128)");
  p.option("--block", &f->block, "N", "block size for --scale block");
  p.option("--quantize", &f->quantize, "REGEX",
           "quantize exactly the tensors matching REGEX (canonical or HF name) instead of the linear layers");
  p.option("--keep", &f->keep, "REGEX", "do not quantize tensors matching REGEX");
  p.option("--ignore-config-key", &f->ignore_keys, "K1,K2",
           "treat these config.json keys as absent (repeatable; \"text_config.K\" for a nested one): a way past a "
           "value f8 refuses or a contradiction, at your word. Keys f8 does not read are accepted anyway and listed");
  p.flag("--force", &f->force, force_help ? force_help : "overwrite OUT if it exists");
  p.flag("--allow-nonfinite", &f->allow_nonfinite, "convert NaN/Inf weights instead of failing");
  p.option("-t,--threads", &f->threads, "N", "threads (0 = all cores)");
  p.flag("--no-checksums", &f->no_checksums, "do not store per-tensor checksums");
  p.flag("--no-k-mean", &f->no_k_mean,
         "do not measure K's mean for the fp8/int8 KV cache at the end (a forward pass over 128 tokens; "
         "without it every run measures it at start-up)");
  p.option("--top", &f->top, "N", "worst tensors listed in the summary");
  p.flag("-q,--quiet", &f->quiet, "no progress bar and no summary");
  p.option("--calibrate", &f->calib_text, "TEXT",
           "run the BF16 model on TEXT first: static activation and KV scales in the file (docs/convert.md)");
  p.option("--calib-tokens", &f->calib_tokens, "N", "calibration tokens");
  p.option("--calib-percentile", &f->calib_pct, "P",
           "input scales from this percentile of |x| (100 = absmax)");
  p.option("--auto-format", &f->auto_bits, "BITS",
           "per-tensor E4M3 channel/block, E5M2 or BF16 by measured sensitivity, mean <= BITS (8..16)");
  p.option("--heldout-tokens", &f->heldout, "N", "--auto-format: held-out tokens for the sensitivity");
  p.option("--rounding", &f->rounding, "gptq|nearest",
           "--calibrate: FP8 codes for least output error on the calibration inputs (gptq, default) or "
           "nearest rounding of each weight");
}

int convert_options_from(const ConvertFlags& f, const ArgParser& p, const std::string& prog, ConvertOptions* o,
                         f8conv::CalibOptions* co, bool* calibrate) {
  if (f.weights == "e4m3") o->weights = f8conv::WeightFormat::E4M3;
  else if (f.weights == "e5m2") o->weights = f8conv::WeightFormat::E5M2;
  else if (f.weights == "bf16") o->weights = f8conv::WeightFormat::BF16;
  else return fail(2, prog + ": --weights must be e4m3, e5m2 or bf16, got '" + f.weights + "'");
  if (f.scale == "tensor") o->scale = f8conv::ScaleMode::Tensor;
  else if (f.scale == "channel") o->scale = f8conv::ScaleMode::Channel;
  else if (f.scale == "block") o->scale = f8conv::ScaleMode::Block;
  else return fail(2, prog + ": --scale must be tensor, channel or block, got '" + f.scale + "'");
  if (f.block < 1 || f.block > 65536) return fail(2, prog + ": --block must be in 1..65536");
  if (f.threads < 0 || f.threads > 1024) return fail(2, prog + ": --threads must be in 0..1024");
  o->block = static_cast<uint32_t>(f.block);
  o->quantize_regex = f.quantize;
  o->keep_regex = f.keep;
  for (const std::string& list : f.ignore_keys)  // repeated flags and comma lists alike
    for (size_t a = 0; a <= list.size();) {
      size_t b = list.find(',', a);
      if (b == std::string::npos) b = list.size();
      if (b > a) o->ignore_config_keys.push_back(list.substr(a, b - a));
      a = b + 1;
    }
  o->overwrite = f.force;
  o->allow_nonfinite = f.allow_nonfinite;
  o->checksums = !f.no_checksums;
  o->store_k_mean = !f.no_k_mean;
  o->threads = static_cast<unsigned>(f.threads);
  o->converter_version = std::string("f8 ") + f8_version();

  if (p.given("--auto-format") && f.calib_text.empty())
    return fail(2, prog + ": --auto-format needs --calibrate TEXT (the sensitivity is measured on it)");
  if (p.given("--auto-format") && !(f.auto_bits >= 8.0 && f.auto_bits <= 16.0))
    return fail(2, prog + ": --auto-format " + std::to_string(f.auto_bits) +
                       ": expected a budget between 8 and 16 bits per weight (e.g. 8.5)");
  if (f.rounding != "gptq" && f.rounding != "nearest")
    return fail(2, prog + ": --rounding must be gptq or nearest, got '" + f.rounding + "'");
  if (p.given("--rounding") && f.rounding == "gptq" && f.calib_text.empty())
    return fail(2, prog + ": --rounding gptq needs --calibrate TEXT (it minimizes the error on those inputs)");
  *calibrate = !f.calib_text.empty();
  if (*calibrate) {
    co->compensate = f.rounding == "gptq";
    co->text_path = f.calib_text;
    co->calib_tokens = f.calib_tokens;
    co->auto_bits = f.auto_bits;
    co->heldout_tokens = f.heldout;
    co->act_percentile = f.calib_pct;
    if (!f.quiet) co->log = [](const std::string& m) { std::fprintf(stderr, "%s\n", m.c_str()); };
  }
  return 0;
}

int run_conversion(ConvertOptions& o, const f8conv::CalibOptions* co, const ConvertFlags& f) {
  const bool bar = !f.quiet && isatty(STDERR_FILENO);
  auto last = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  if (bar) {
    o.progress = [&](uint64_t done, uint64_t total, const std::string& name) {
      auto now = std::chrono::steady_clock::now();
      if (done < total && now - last < std::chrono::milliseconds(100)) return;
      last = now;
      const int width = 30;
      const double fr = total ? double(done) / double(total) : 1.0;
      const int fill = static_cast<int>(fr * width);
      std::fprintf(stderr, "\r[%s%s] %3d%% %-32.32s", std::string(fill, '=').c_str(),
                   std::string(width - fill, ' ').c_str(), static_cast<int>(fr * 100), name.c_str());
      std::fflush(stderr);
    };
  }
  if (!f.quiet)
    o.note = [&](const std::string& n) {
      if (bar) std::fprintf(stderr, "\r%80s\r", "");
      std::fprintf(stderr, "f8 convert: note: %s\n", n.c_str());
    };
  ConvertReport rep;
  ggf8::Status s = co ? f8conv::convert_calibrated(o, *co, &rep, nullptr) : f8conv::convert_checkpoint(o, &rep);
  if (bar) std::fprintf(stderr, "\r%80s\r", "");
  if (!f.quiet)
    for (const auto& w : rep.warnings) std::fprintf(stderr, "f8 convert: warning: %s\n", w.c_str());
  if (!s.ok()) return fail(1, s.message);
  if (!f.quiet) print_summary(rep, o, static_cast<size_t>(std::max<int64_t>(0, f.top)));
  return 0;
}

std::string convert_options_tag(const ConvertFlags& f, const ArgParser& p) {
  std::vector<std::string> parts;
  if (f.weights != "e4m3") parts.push_back(f.weights);
  if (f.scale != "channel") parts.push_back(f.scale == "block" && f.block != 128 ? "block" + std::to_string(f.block)
                                                                                  : f.scale);
  if (!f.calib_text.empty()) parts.push_back(p.given("--auto-format") ? "auto" : "calib");
  // Free-form options: a hash of their canonical form (the calibration text
  // by content, so the same text under another path names the same file).
  std::ostringstream canon;
  if (!f.quantize.empty()) canon << "quantize=" << f.quantize << '\n';
  if (!f.keep.empty()) canon << "keep=" << f.keep << '\n';
  if (!f.calib_text.empty()) {
    std::ifstream in(f.calib_text, std::ios::binary);
    std::stringstream text;
    if (in) text << in.rdbuf();
    canon << "calib=" << (in ? std::to_string(fnv1a(text.str())) : f.calib_text) << " tokens=" << f.calib_tokens
          << " pct=" << f.calib_pct << " rounding=" << f.rounding;
    if (p.given("--auto-format")) canon << " auto=" << f.auto_bits << " heldout=" << f.heldout;
    canon << '\n';
  }
  if (!canon.str().empty()) {
    char h[16];
    std::snprintf(h, sizeof h, "x%08llx", static_cast<unsigned long long>(fnv1a(canon.str()) & 0xffffffffull));
    parts.push_back(h);
  }
  std::string tag;
  for (const auto& s : parts) tag += (tag.empty() ? "" : "-") + s;
  return tag;
}

}  // namespace f8cli
