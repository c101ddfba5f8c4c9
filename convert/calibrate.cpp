// calibrate.cpp — the calibration driver (calibrate.h): the option checks,
// then the steps of calibrate_steps.h in order: a temporary BF16 conversion,
// the CPU runtime over the calibration text with the statistics hook on,
// error-compensating rounding's factors, the static scales, optional
// per-tensor sensitivity for --auto-format, then the real conversion with
// static scales, formats and metadata.
#include "convert/calibrate.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "convert/calibrate_steps.h"
#include "tokenizer/utf8.h"

namespace f8conv {

using ggf8::Code;
using ggf8::Status;

namespace {

Status read_text(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Error(Code::NotFound, "--calibrate " + path + ": cannot read the file");
  std::stringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  if (out->find_first_not_of(" \t\r\n") == std::string::npos)
    return Status::Error(Code::InvalidArgument, "--calibrate " + path + ": the text is empty");
  if (!f8tok::utf8::valid(*out)) {
    size_t i = 0;
    while (i < out->size()) {
      const int n = f8tok::utf8::sequence_length(reinterpret_cast<const unsigned char*>(out->data() + i),
                                                 out->size() - i);
      if (n <= 0) break;
      i += size_t(n);
    }
    return Status::Error(Code::InvalidArgument, "--calibrate " + path + ": not UTF-8 text (invalid byte at offset " +
                                                    std::to_string(i) + "; convert it with iconv first)");
  }
  return Status::Ok();
}

}  // namespace

Status convert_calibrated(const ConvertOptions& o, const CalibOptions& c, ConvertReport* rep, CalibSummary* sum) {
  CalibSummary local;
  CalibSummary& S = sum ? *sum : local;
  S = CalibSummary{};
  if (c.auto_bits != 0 && !(c.auto_bits >= 8.0 && c.auto_bits <= 16.0))
    return Status::Error(Code::InvalidArgument, "--auto-format " + std::to_string(c.auto_bits) +
                                                    ": expected a budget in bits per weight between 8 and 16 (e.g. 8.5)");
  if (c.calib_tokens < kMinCalibTokens || c.calib_tokens > (1 << 24))
    return Status::Error(Code::InvalidArgument, "--calib-tokens " + std::to_string(c.calib_tokens) + ": expected " +
                                                    std::to_string(kMinCalibTokens) + "..16777216");
  if (c.chunk < 16) return Status::Error(Code::InvalidArgument, "calibration chunk must be >= 16 tokens");
  if (!(c.act_percentile > 50.0 && c.act_percentile <= 100.0))
    return Status::Error(Code::InvalidArgument, "--calib-percentile: expected a value in (50, 100]");
  std::string text;
  if (Status st = read_text(c.text_path, &text); !st.ok()) return st;
  struct stat stt;
  if (!o.overwrite && ::stat(o.output.c_str(), &stt) == 0)
    return Status::Error(Code::Exists, o.output + ": already exists (pass --force to overwrite)");

  const double t0 = calib_now_s();
  CalibModel cm;
  if (Status st = load_bf16_model(o, &cm); !st.ok()) return st;
  std::vector<int32_t> ids;
  int64_t n_cal = 0;
  if (Status st = split_text(c, *cm.tok, text, &ids, &n_cal, &S); !st.ok()) return st;
  const int32_t bos = cm.tok->bos_id();
  ThreadPool pool(o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency()));
  f8model::ActStats as;
  if (Status st = collect_stats(*cm.model, ids, n_cal, bos, c, pool, &as); !st.ok()) return st;
  S.calib_seconds = calib_now_s() - t0;

  Compensation comp;
  RequantizeFn requantize;
  if (c.compensate) {
    factor_inputs(as, cm.model->hparams().n_layer, c, pool, &comp, &S);
    requantize = make_requantize(comp, pool);
  }
  ConvertOptions fin = o;
  static_scales(as, cm.model->hparams(), c, &fin, &S);
  if (c.log) {
    char b[200];
    const int32_t per = bos >= 0 ? c.chunk - 1 : c.chunk;
    std::snprintf(b, sizeof b, "calibration: %llu tokens (%lld chunks) in %.1f s; largest linear input |x| %.4g",
                  (unsigned long long)as.tokens, (long long)((n_cal + per - 1) / per), S.calib_seconds,
                  double(S.act_amax_max));
    c.log(b);
    if (c.compensate) {
      std::snprintf(b, sizeof b, "error-compensating rounding: %u x %d input factors in %.1f s (%d fell back to nearest)",
                    cm.model->hparams().n_layer, f8model::kSiteCount, S.factor_seconds, S.factor_fallbacks);
      c.log(b);
    }
  }
  if (c.auto_bits > 0)
    if (Status st = choose_auto_formats(cm, ids, n_cal, bos, c, pool, requantize, &fin, &S); !st.ok()) return st;
  // The BF16 model and its mapping go before the real conversion (the
  // temporary file itself when cm does, on every path out).
  cm.model.reset();
  cm.tok.reset();
  cm.file.reset();

  fin.requantize = requantize;
  Status st = convert_checkpoint(fin, rep);
  if (st.ok() && rep) rep->warnings.insert(rep->warnings.end(), comp.warnings.begin(), comp.warnings.end());
  return st;
}

}  // namespace f8conv
