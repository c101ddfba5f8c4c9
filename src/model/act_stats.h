// act_stats.h — activation statistics recorded during a calibration run
// (Context::record_act_stats): for every layer, the inputs of its four
// linear-layer groups and the post-RoPE K / V per KV head.
//
// Each input site keeps its absolute maximum and a histogram of |x| on a
// log2 grid (8 bins per octave, 2^-24 .. 2^24), from which percentiles are
// read (upper bin edge: never below the true percentile, at most 9% above).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace f8model {

// The linear inputs of one layer; q/k/v share one input, gate/up another.
enum ActSite : int { kSiteAttnIn = 0, kSiteAttnOut = 1, kSiteFfnIn = 2, kSiteFfnDown = 3, kSiteCount = 4 };
const char* act_site_name(int site);  // "attn_in" | "attn_out" | "ffn_in" | "ffn_down"

struct AbsHist {
  static constexpr int kPerOctave = 8;
  static constexpr int kMinExp = -24, kMaxExp = 24;
  static constexpr int kBins = (kMaxExp - kMinExp) * kPerOctave + 2;  // + zero/underflow bin, + overflow bin
  float amax = 0;
  uint64_t count = 0;
  uint64_t nonfinite = 0;
  std::array<uint64_t, kBins> bins{};

  void add(const float* x, int64_t n);
  // Smallest bin upper edge with at least p (0..1) of the values at or below it (<= amax).
  float percentile(double p) const;
};

struct ActStats {
  int32_t n_layer = 0, n_kv_heads = 0, head_dim = 0;
  std::vector<std::array<AbsHist, kSiteCount>> site;  // [n_layer][site]
  std::vector<float> k_amax, v_amax;                  // [n_layer * n_kv_heads], post-RoPE K, V
  uint64_t tokens = 0;                                // tokens seen

  void reset(int32_t layers, int32_t kv_heads, int32_t hd);
  // Per-head amax of x [n, n_kv_heads * head_dim] into amax[layer * n_kv_heads + h].
  void add_kv(std::vector<float>* amax, int32_t layer, const float* x, int64_t n);
};

}  // namespace f8model
