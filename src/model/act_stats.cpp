// act_stats.cpp — see act_stats.h.
#include "model/act_stats.h"

#include <algorithm>
#include <cmath>

namespace f8model {

const char* act_site_name(int site) {
  switch (site) {
    case kSiteAttnIn: return "attn_in";
    case kSiteAttnOut: return "attn_out";
    case kSiteFfnIn: return "ffn_in";
    case kSiteFfnDown: return "ffn_down";
  }
  return "?";
}

namespace {
// Bin of a finite |x|: 0 for x < 2^kMinExp, kBins-1 for x >= 2^kMaxExp.
int bin_of(float a) {
  if (!(a >= std::ldexp(1.0f, AbsHist::kMinExp))) return 0;
  if (a >= std::ldexp(1.0f, AbsHist::kMaxExp)) return AbsHist::kBins - 1;
  const double l = (std::log2(double(a)) - AbsHist::kMinExp) * AbsHist::kPerOctave;
  int b = 1 + static_cast<int>(l);
  return std::clamp(b, 1, AbsHist::kBins - 2);
}
// Upper edge of bin b.
float bin_top(int b) {
  if (b == 0) return std::ldexp(1.0f, AbsHist::kMinExp);
  return static_cast<float>(std::exp2(double(AbsHist::kMinExp) + double(b) / AbsHist::kPerOctave));
}
}  // namespace

void AbsHist::add(const float* x, int64_t n) {
  float m = amax;
  for (int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    if (!std::isfinite(a)) {
      ++nonfinite;
      continue;
    }
    m = std::max(m, a);
    ++bins[size_t(bin_of(a))];
    ++count;
  }
  amax = m;
}

float AbsHist::percentile(double p) const {
  if (count == 0) return 0.0f;
  const double want = std::clamp(p, 0.0, 1.0) * double(count);
  uint64_t acc = 0;
  for (int b = 0; b < kBins; ++b) {
    acc += bins[size_t(b)];
    if (double(acc) >= want && acc > 0) return std::min(bin_top(b), amax);
  }
  return amax;
}

void ActStats::reset(int32_t layers, int32_t kv_heads, int32_t hd) {
  n_layer = layers;
  n_kv_heads = kv_heads;
  head_dim = hd;
  site.assign(size_t(layers), {});
  k_amax.assign(size_t(layers) * size_t(kv_heads), 0.0f);
  v_amax.assign(size_t(layers) * size_t(kv_heads), 0.0f);
  tokens = 0;
}

void ActStats::add_kv(std::vector<float>* amax, int32_t layer, const float* x, int64_t n) {
  for (int64_t t = 0; t < n; ++t)
    for (int32_t h = 0; h < n_kv_heads; ++h) {
      const float* v = x + (t * n_kv_heads + h) * head_dim;
      float& m = (*amax)[size_t(layer) * size_t(n_kv_heads) + size_t(h)];
      for (int32_t i = 0; i < head_dim; ++i) {
        const float a = std::fabs(v[i]);
        if (std::isfinite(a)) m = std::max(m, a);
      }
    }
}

}  // namespace f8model
