// gptq.h — error-compensating rounding of FP8 weights (`f8 convert
// --calibrate`, `--rounding gptq`, the default there).
//
// A linear layer y = W x with inputs x from the calibration run has output
// error sum_t ||(W - Q) x_t||^2 = sum_r d_r^T H d_r, with H = sum_t x_t x_t^T
// [cols, cols] and d_r = w_r - q_r the error of output row r. Nearest
// rounding minimizes each |d_rj| on its own; this chooses the codes so that
// d_r^T H d_r is small instead.
//
// With (H + lambda I) = L L^T (Cholesky, L lower) and R = L^T,
// d^T H d ~= ||R d||^2 = sum_j (L_jj d_j + sum_{k>j} L_kj d_k)^2. Deciding
// the columns from the last to the first, column j's target is the value
// that zeroes its term given the errors already made to its right:
//     t_j = w_j + sum_{k>j} (L_kj / L_jj) d_k,   q_j = FP8(t_j / s) * s
// (a nearest-plane search on the lattice of the FP8 grid). Every row is
// independent; the scales s (per channel, per block or per tensor) are the
// ones nearest rounding chose and are not changed, so every reader of the
// format reads the result unchanged. Columns are taken in blocks of 128: the
// d_k of a finished block reach the columns left of it in one rank-128
// update (cheap, cache-friendly) instead of one pass per column.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convert/quantize.h"
#include "convert/thread_pool.h"
#include "ggf8/ggf8.h"

namespace f8conv {

// What the rounding needs from one linear input's H.
struct RoundingFactor {
  int64_t n = 0;          // columns (the input width)
  // Decision order: position k holds input column perm[k]; the rounding
  // decides k = n-1 first. Empty = the identity.
  std::vector<int32_t> perm;
  std::vector<float> p;   // [n, n] row-major, lower, in perm order: p[k*n + j] = L_kj / L_jj for j < k
  double damp = 0;        // lambda added to the diagonal
  double damp_frac = 0;   // lambda / mean(diag H)
  int retries = 0;        // times the damping was raised (x10) before the Cholesky worked
};

// Factors H [n, n] (symmetric, row-major; float) with lambda = damp_frac *
// mean(diag H), raising lambda x10 (up to 5 times) when a pivot is not
// positive. Errors (InvalidArgument, one line naming `what`): non-finite
// entries, a zero or negative diagonal mean, a factorization that never works.
// Never produces NaN.
// act_order: decide the inputs of largest power (diag H) first, so their
// errors are the ones the most remaining columns can compensate.
ggf8::Status rounding_factor(const std::string& what, const float* H, int64_t n, double damp_frac,
                             ThreadPool& pool, RoundingFactor* out, bool act_order = false);

// Re-rounds the FP8 codes of src [rows, cols] (qr: what quantize_matrix
// returned for it: dtype E4M3/E5M2, the scales, block shape) with the factor
// of its input; f.n must equal cols. codes: rows*cols bytes, replaced. The
// error statistics in qr->stats are recomputed (the weight-space noise grows;
// the output error on the calibration inputs shrinks). Fails without touching
// anything for BF16 results, mismatched shapes or non-finite source values.
ggf8::Status round_compensated(const std::string& name, const SrcMatrix& src, const RoundingFactor& f,
                               ThreadPool& pool, std::vector<uint8_t>* codes, QuantResult* qr);

// sum_r (w_r - q_r)^T H (w_r - q_r) / sum_r w_r^T H w_r: the relative output
// error of dequantized weights q [rows, cols] on inputs with second moment H.
// For tests and diagnostics (double, O(rows * cols^2)).
double output_error(const float* w, const float* q, int64_t rows, int64_t cols, const float* H);

}  // namespace f8conv
