// auto_format.cpp — format candidates, bit accounting and the greedy choice
// (auto_format.h). The sensitivity measurement itself runs the model and
// lives in calibrate.cpp.
#include "convert/auto_format.h"

#include <cmath>
#include <cstdio>

namespace f8conv {

const std::vector<FormatOption>& auto_format_options() {
  static const std::vector<FormatOption> opts = {
      {"e4m3/channel", WeightFormat::E4M3, ScaleMode::Channel, 128},
      {"e4m3/block", WeightFormat::E4M3, ScaleMode::Block, 128},
      {"e5m2/channel", WeightFormat::E5M2, ScaleMode::Channel, 128},
      {"bf16", WeightFormat::BF16, ScaleMode::Channel, 128},
  };
  return opts;
}

double option_bits(const FormatOption& o, uint64_t rows, uint64_t cols) {
  const double n = double(rows) * double(cols);
  if (n <= 0) return 0;
  if (o.weights == WeightFormat::BF16) return 16.0;
  double scales = 1;
  if (o.scale == ScaleMode::Channel) scales = double(rows);
  if (o.scale == ScaleMode::Block)
    scales = double((rows + o.block - 1) / o.block) * double((cols + o.block - 1) / o.block);
  return 8.0 + 32.0 * scales / n;
}

ggf8::Status choose_formats(const std::vector<TensorSensitivity>& t, double budget_bits, FormatChoice* out) {
  const auto& opts = auto_format_options();
  const size_t n_opt = opts.size();
  FormatChoice c;
  c.option.assign(t.size(), 0);
  double params = 0, bits = 0;  // bits = sum(bits per weight * params)
  std::vector<std::vector<double>> b(t.size(), std::vector<double>(n_opt));
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i].kl.size() != n_opt)
      return ggf8::Status::Error(ggf8::Code::InvalidArgument, t[i].name + ": expected one KL per format option");
    const double p = double(t[i].rows) * double(t[i].cols);
    int best = 0;
    for (size_t j = 0; j < n_opt; ++j) {
      b[i][j] = option_bits(opts[j], t[i].rows, t[i].cols) * p;
      if (b[i][j] < b[i][size_t(best)] ||
          (b[i][j] == b[i][size_t(best)] && t[i].kl[j] < t[i].kl[size_t(best)]))
        best = int(j);
    }
    c.option[i] = best;
    params += p;
    bits += b[i][size_t(best)];
  }
  if (params <= 0) {
    *out = c;
    return ggf8::Status::Ok();
  }
  c.min_bits = bits / params;
  if (budget_bits + 1e-9 < c.min_bits) {
    char msg[200];
    std::snprintf(msg, sizeof msg,
                  "--auto-format %.3g: below the smallest possible mean of %.4f bits per weight "
                  "(every tensor in its cheapest FP8 format)",
                  budget_bits, c.min_bits);
    return ggf8::Status::Error(ggf8::Code::InvalidArgument, msg);
  }
  const double budget = budget_bits * params;
  for (;;) {
    double best_ratio = 0;
    size_t bi = 0, bj = 0;
    bool found = false;
    for (size_t i = 0; i < t.size(); ++i) {
      const size_t cur = size_t(c.option[i]);
      for (size_t j = 0; j < n_opt; ++j) {
        const double db = b[i][j] - b[i][cur], dk = t[i].kl[cur] - t[i].kl[j];
        if (dk <= 0) continue;                        // no damage saved
        if (bits + db > budget + 1e-9 * params) continue;  // does not fit
        const double ratio = db <= 0 ? INFINITY : dk / db;
        if (!found || ratio > best_ratio) {
          found = true;
          best_ratio = ratio;
          bi = i;
          bj = j;
        }
      }
    }
    if (!found) break;
    bits += b[bi][bj] - b[bi][size_t(c.option[bi])];
    c.option[bi] = int(bj);
  }
  c.mean_bits = bits / params;
  for (size_t i = 0; i < t.size(); ++i) c.kl_sum += t[i].kl[size_t(c.option[i])];
  *out = c;
  return ggf8::Status::Ok();
}

}  // namespace f8conv
