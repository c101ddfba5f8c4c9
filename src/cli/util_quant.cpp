// util_quant.cpp — see util_quant.h.
#include "util_quant.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace f8cli {

std::vector<AutoChoiceRow> auto_choices(const ggf8::File& f, double* budget_bits, double* mean_bits) {
  std::vector<AutoChoiceRow> rows;
  const ggf8::Value* names = f.find("quant.auto.tensor");
  const ggf8::Value* fmts = f.find("quant.auto.format");
  if (!names || !names->strings() || !fmts || !fmts->strings()) return rows;
  auto column = [&](const char* key) {
    std::vector<float> v;
    if (const ggf8::Value* x = f.find(key)) x->to_f32_vector(&v);
    return v;
  };
  const auto kl = column("quant.auto.kl"), kc = column("quant.auto.kl.e4m3_channel"),
             kb = column("quant.auto.kl.e4m3_block"), k5 = column("quant.auto.kl.e5m2_channel");
  const auto& ns = *names->strings();
  const auto& fs = *fmts->strings();
  for (size_t i = 0; i < ns.size() && i < fs.size(); ++i) {
    AutoChoiceRow r;
    r.tensor = ns[i];
    r.format = fs[i];
    if (i < kl.size()) r.kl = kl[i];
    if (i < kc.size()) r.kl_e4m3_channel = kc[i];
    if (i < kb.size()) r.kl_e4m3_block = kb[i];
    if (i < k5.size()) r.kl_e5m2 = k5[i];
    rows.push_back(r);
  }
  double b = 0, m = 0;
  f.get_f64("quant.auto.budget_bits", &b);
  f.get_f64("quant.auto.mean_bits", &m);
  if (budget_bits) *budget_bits = b;
  if (mean_bits) *mean_bits = m;
  return rows;
}

void print_auto_choices(const ggf8::File& f, bool all) {
  double budget = 0, mean = 0;
  auto rows = auto_choices(f, &budget, &mean);
  if (rows.empty()) return;
  std::map<std::string, size_t> count;
  double kl_sum = 0, kl_all8 = 0;
  for (const auto& r : rows) {
    ++count[r.format];
    kl_sum += r.kl;
    kl_all8 += r.kl_e4m3_channel;
  }
  std::printf("\nformat choice (--auto-format %.3g bits; mean %.3f bits per weight over %zu tensors):\n  ", budget, mean,
              rows.size());
  bool first = true;
  for (const auto& [fm, n] : count) {
    std::printf("%s%s %zu", first ? "" : ", ", fm.c_str(), n);
    first = false;
  }
  std::printf("\n  measured KL, summed over tensors: chosen %.5f, all e4m3/channel %.5f\n", kl_sum, kl_all8);
  std::vector<const AutoChoiceRow*> v;
  for (const auto& r : rows)
    if (all || r.format != "e4m3/channel") v.push_back(&r);
  std::stable_sort(v.begin(), v.end(),
                   [](auto* a, auto* b) { return a->kl_e4m3_channel > b->kl_e4m3_channel; });
  const size_t show = all ? v.size() : std::min<size_t>(v.size(), 12);
  if (show == 0) return;
  size_t nw = 6;
  for (size_t i = 0; i < show; ++i) nw = std::max(nw, v[i]->tensor.size());
  std::printf("  %-*s  %-12s  %10s  %10s  %10s  %10s\n", int(nw), "tensor", "format", "KL chosen", "KL e4m3/ch",
              "KL e4m3/bl", "KL e5m2");
  for (size_t i = 0; i < show; ++i)
    std::printf("  %-*s  %-12s  %10.3g  %10.3g  %10.3g  %10.3g\n", int(nw), v[i]->tensor.c_str(),
                v[i]->format.c_str(), v[i]->kl, v[i]->kl_e4m3_channel, v[i]->kl_e4m3_block, v[i]->kl_e5m2);
  if (show < v.size())
    std::printf("  (%zu more not at e4m3/channel; --tensors for every tensor)\n", v.size() - show);
}

}  // namespace f8cli
