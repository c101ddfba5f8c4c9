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
#include <functional>
#include <vector>

namespace f8model {

// The linear inputs of one layer; q/k/v share one input, gate/up another.
enum ActSite : int { kSiteAttnIn = 0, kSiteAttnOut = 1, kSiteFfnIn = 2, kSiteFfnDown = 3, kSiteCount = 4 };
const char* act_site_name(int site);  // "attn_in" | "attn_out" | "ffn_in" | "ffn_down"

// C[r*ldc + j] += sign * sum_{k<kk} A[r*a_rs + k*a_ks] * B[k*ldb + j] for rows
// r < m (m <= 4) and j in [j0, j1): the multiply-add kernel of the second
// moment below and of error-compensating rounding (convert/gptq.cpp). Sums
// over k in registers, 4 rows x 16 (float) or 8 (double) columns at a time;
// AVX2+FMA when the CPU has it.
void madd_rows(int m, int64_t j0, int64_t j1, int64_t kk, const float* A, int64_t a_rs, int64_t a_ks,
               const float* B, int64_t ldb, float* C, int64_t ldc, float sign);
void madd_rows(int m, int64_t j0, int64_t j1, int64_t kk, const double* A, int64_t a_rs, int64_t a_ks,
               const double* B, int64_t ldb, double* C, int64_t ldc, double sign);

// Runs fn(i) for i in [0, n), possibly on several threads (empty: serially).
using ParallelFor = std::function<void(size_t n, const std::function<void(size_t)>& fn)>;

// The second moment of one linear input: sum over tokens of x x^T, [dim, dim]
// row-major float (error-compensating rounding needs it: the layer's output
// error on these inputs is tr(D H D^T) for a weight error D). Only the upper
// triangle (j >= i) is kept up to date; symmetric() mirrors it.
struct SecondMoment {
  int64_t dim = 0;
  uint64_t tokens = 0;
  std::vector<float> xtx;
  const ParallelFor* par = nullptr;  // ActStats::parallel
  // x: [n_tok, dim] row-major.
  void add(const float* x, int64_t n_tok);
  void symmetric();  // copies the upper triangle into the lower
};

struct AbsHist {
  static constexpr int kPerOctave = 8;
  static constexpr int kMinExp = -24, kMaxExp = 24;
  static constexpr int kBins = (kMaxExp - kMinExp) * kPerOctave + 2;  // + zero/underflow bin, + overflow bin
  float amax = 0;
  uint64_t count = 0;
  uint64_t nonfinite = 0;
  std::array<uint64_t, kBins> bins{};
  // Set by ActStats::enable_moments: add() also feeds x (read as
  // [n / dim, dim]) into it. Not owned.
  SecondMoment* moment = nullptr;

  void add(const float* x, int64_t n);
  // Smallest bin upper edge with at least p (0..1) of the values at or below it (<= amax).
  float percentile(double p) const;
};

struct ActStats {
  int32_t n_layer = 0, n_kv_heads = 0, head_dim = 0;
  std::vector<std::array<AbsHist, kSiteCount>> site;  // [n_layer][site]
  std::vector<float> k_amax, v_amax;                  // [n_layer * n_kv_heads], post-RoPE K, V
  uint64_t tokens = 0;                                // tokens seen
  // [n_layer][site] when enable_moments was called (site[l][s].moment points
  // here: an ActStats is not copied once enabled).
  std::vector<std::array<SecondMoment, kSiteCount>> moment;
  ParallelFor parallel;

  void reset(int32_t layers, int32_t kv_heads, int32_t hd);
  // Also accumulate each site's x x^T; dim[s] = the width of site s's input.
  // Memory: 4 * sum(dim^2) bytes per layer.
  void enable_moments(const std::array<int64_t, kSiteCount>& dim);
  // Per-head amax of x [n, n_kv_heads * head_dim] into amax[layer * n_kv_heads + h].
  void add_kv(std::vector<float>* amax, int32_t layer, const float* x, int64_t n);
};

}  // namespace f8model
