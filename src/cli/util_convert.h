// util_convert.h — `f8 convert`'s options, shared by `f8 convert` and
// `f8 pull` (which converts what it downloads with the same options): the
// flags and their checks, the progress bar and the error summary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "args.h"
#include "convert/calibrate.h"
#include "convert/converter.h"

namespace f8cli {

struct ConvertFlags {
  std::string weights = "e4m3", scale = "channel", quantize, keep;
  std::vector<std::string> ignore_keys;  // --ignore-config-key, repeatable, each a comma list
  int64_t threads = 0, block = 128, top = 10;
  bool force = false, allow_nonfinite = false, no_checksums = false, quiet = false, no_k_mean = false;
  std::string calib_text;
  int64_t calib_tokens = 2048, heldout = 128;
  double auto_bits = 0, calib_pct = 100.0;
  std::string rounding = "gptq";
};

// Registers every `f8 convert` option except DIR and -o. `force_help`
// replaces the help of --force (its meaning differs for `f8 pull`).
void add_convert_flags(ArgParser& p, ConvertFlags* f, const char* force_help = nullptr);

// Checks the values and fills *o (model_dir and output are the caller's)
// and, with --calibrate, *co (*calibrate = true). Prints the usage error
// ("f8: error: <prog>: ...") and returns 2 on a bad value; 0 otherwise.
int convert_options_from(const ConvertFlags& f, const ArgParser& p, const std::string& prog,
                         f8conv::ConvertOptions* o, f8conv::CalibOptions* co, bool* calibrate);

// Converts o.model_dir -> o.output with the progress bar (on a terminal) and
// the summary (unless --quiet). Returns 0, or 1 after printing the error.
int run_conversion(f8conv::ConvertOptions& o, const f8conv::CalibOptions* co, const ConvertFlags& f);

// The options that change the converted file, as a file-name tag: "" for the
// defaults, else e.g. "e5m2", "tensor", "block64", "calib", joined by '-',
// plus "x<8 hex>" (a hash) when --quantize/--keep/--calibrate and its
// parameters are given, so different options never share a file.
std::string convert_options_tag(const ConvertFlags& f, const ArgParser& p);

}  // namespace f8cli
