// gptq.cpp — see gptq.h. Two numeric pieces: a blocked Cholesky in double
// (rounding_factor) and the per-row nearest-plane rounding in float
// (round_compensated). Both spend their time in f8model::madd_rows
// (model/act_stats.h), the multiply-add kernel the calibration pass's second
// moment uses too.
#include "convert/gptq.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "ggf8/fp8.h"
#include "model/act_stats.h"

namespace f8conv {

using ggf8::Code;
using ggf8::Status;

namespace {

// In-place lower Cholesky of A [n, n] row-major (only j <= i read and
// written). Blocked right-looking: factor a 64-column panel, then subtract
// its outer product from the trailing lower triangle (the bulk of the work,
// spread over the pool in groups of 4 rows). False on a pivot that is not
// positive and finite.
bool cholesky_lower(std::vector<double>& A, int64_t n, ThreadPool& pool) {
  constexpr int64_t nb = 64;
  double* a = A.data();
  std::vector<double> pt;  // panel transposed: pt[p * n + j] = L[j][k0 + p]
  std::vector<double> scratch;
  for (int64_t k0 = 0; k0 < n; k0 += nb) {
    const int64_t k1 = std::min(n, k0 + nb), w = k1 - k0;
    // 1. The diagonal block, column by column (left-looking inside the block).
    for (int64_t k = k0; k < k1; ++k) {
      double d = a[k * n + k];
      for (int64_t p = k0; p < k; ++p) d -= a[k * n + p] * a[k * n + p];
      if (!(d > 0) || !std::isfinite(d)) return false;
      const double lk = std::sqrt(d);
      a[k * n + k] = lk;
      for (int64_t i = k + 1; i < k1; ++i) {
        double s = a[i * n + k];
        for (int64_t p = k0; p < k; ++p) s -= a[i * n + p] * a[k * n + p];
        a[i * n + k] = s / lk;
      }
    }
    if (k1 == n) break;
    // 2. The panel rows below it: L[i][k0:k1] by forward substitution.
    const size_t n_rows = size_t(n - k1);
    pool.run((n_rows + 63) / 64, [&](size_t t) {
      const int64_t i0 = k1 + int64_t(t) * 64, i1 = std::min(n, i0 + 64);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t k = k0; k < k1; ++k) {
          double s = a[i * n + k];
          for (int64_t p = k0; p < k; ++p) s -= a[i * n + p] * a[k * n + p];
          a[i * n + k] = s / a[k * n + k];
        }
    });
    // 3. Trailing update A[i][j] -= sum_p L[i][p] L[j][p], k1 <= j <= i.
    pt.assign(size_t(w) * size_t(n), 0.0);
    for (int64_t j = k1; j < n; ++j)
      for (int64_t p = 0; p < w; ++p) pt[size_t(p * n + j)] = a[j * n + k0 + p];
    const size_t groups = (n_rows + 3) / 4;
    pool.run(groups, [&](size_t g) {
      const int64_t i = k1 + int64_t(g) * 4;
      const int m = int(std::min<int64_t>(4, n - i));
      // Columns k1 .. i+m-1 (a few upper entries of rows i..i+2: never read).
      f8model::madd_rows(m, k1, std::min(n, i + 4), w, a + i * n + k0, n, 1, pt.data(), n, a + i * n, n, -1.0);
    });
  }
  return true;
}

float decode_scaled(ggf8::DType dt, uint8_t q, float s) {
  return (dt == ggf8::DType::E4M3 ? ggf8::e4m3_to_f32(q) : ggf8::e5m2_to_f32(q)) * s;
}
uint8_t encode_div(ggf8::DType dt, float x, float s) {
  return dt == ggf8::DType::E4M3 ? ggf8::e4m3_from_f32_div(x, s, true) : ggf8::e5m2_from_f32_div(x, s, true);
}

}  // namespace

Status rounding_factor(const std::string& what, const float* H, int64_t n, double damp_frac, ThreadPool& pool,
                       RoundingFactor* out, bool act_order) {
  if (n <= 0 || !H) return Status::Error(Code::InvalidArgument, what + ": empty second moment");
  if (!(damp_frac > 0) || !std::isfinite(damp_frac))
    return Status::Error(Code::InvalidArgument, what + ": the damping must be positive");
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j)
      if (!std::isfinite(H[i * n + j]))
        return Status::Error(Code::InvalidArgument, what + ": non-finite entries in the inputs' second moment");
    mean_diag += double(H[i * n + i]);
  }
  mean_diag /= double(n);
  if (!(mean_diag > 0))
    return Status::Error(Code::InvalidArgument, what + ": the calibration inputs have no power (all zero?)");
  // Position k <- column perm[k]; decided last-first, so ascending power
  // puts the strongest inputs first.
  std::vector<int32_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[size_t(i)] = int32_t(i);
  if (act_order)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int32_t a, int32_t b) { return H[int64_t(a) * n + a] < H[int64_t(b) * n + b]; });
  std::vector<double> A(size_t(n) * size_t(n));
  double frac = damp_frac;
  for (int attempt = 0; attempt <= 5; ++attempt, frac *= 10) {
    const double lambda = frac * mean_diag;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j <= i; ++j) A[size_t(i * n + j)] = double(H[int64_t(perm[size_t(i)]) * n + perm[size_t(j)]]);
      // A dead input (zero column) gets only lambda: its weights then round
      // to nearest and feed nothing to the others.
      A[size_t(i * n + i)] += lambda;
    }
    if (!cholesky_lower(A, n, pool)) continue;
    RoundingFactor f;
    f.n = n;
    f.damp = lambda;
    f.damp_frac = frac;
    f.retries = attempt;
    if (act_order) f.perm = perm;
    f.p.assign(size_t(n) * size_t(n), 0.0f);
    bool finite = true;
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < k; ++j) {
        const double v = A[size_t(k * n + j)] / A[size_t(j * n + j)];
        finite = finite && std::isfinite(v);
        f.p[size_t(k * n + j)] = float(v);
      }
    if (!finite) continue;
    *out = std::move(f);
    return Status::Ok();
  }
  char b[160];
  std::snprintf(b, sizeof b, ": the Cholesky factorization failed up to damping %.3g x the mean diagonal", frac / 10);
  return Status::Error(Code::InvalidArgument, what + b);
}

Status round_compensated(const std::string& name, const SrcMatrix& src, const RoundingFactor& f, ThreadPool& pool,
                         std::vector<uint8_t>* codes, QuantResult* qr) {
  const int64_t rows = int64_t(src.rows), cols = int64_t(src.cols);
  const ggf8::DType dt = qr->dtype;
  if (dt != ggf8::DType::E4M3 && dt != ggf8::DType::E5M2)
    return Status::Error(Code::InvalidArgument, name + ": error-compensating rounding needs an FP8 result");
  if (f.n != cols || int64_t(f.p.size()) != cols * cols || (!f.perm.empty() && int64_t(f.perm.size()) != cols))
    return Status::Error(Code::InvalidArgument, name + ": input width " + std::to_string(cols) +
                                                    " does not match the calibration input (" + std::to_string(f.n) + ")");
  if (codes->size() != size_t(rows) * size_t(cols))
    return Status::Error(Code::InvalidArgument, name + ": code buffer size mismatch");
  if (qr->stats.nonfinite > 0)
    return Status::Error(Code::InvalidArgument, name + ": has NaN/Inf weights");
  // Scale of element (r, j).
  const ggf8::ScaleKind kind = qr->kind;
  const int64_t br = qr->block_rows, bc = qr->block_cols;
  const int64_t n_cb = kind == ggf8::ScaleKind::Block && qr->scale_dims.size() == 2 ? int64_t(qr->scale_dims[1]) : 1;
  if (kind == ggf8::ScaleKind::Block && (br <= 0 || bc <= 0 ||
                                         int64_t(qr->scales.size()) < ((rows + br - 1) / br) * n_cb))
    return Status::Error(Code::InvalidArgument, name + ": inconsistent block scales");
  if (kind == ggf8::ScaleKind::Channel && int64_t(qr->scales.size()) != rows)
    return Status::Error(Code::InvalidArgument, name + ": inconsistent channel scales");
  if (qr->scales.empty()) return Status::Error(Code::InvalidArgument, name + ": no scales");
  auto scale_at = [&](int64_t r, int64_t j) -> float {
    if (kind == ggf8::ScaleKind::Channel) return qr->scales[size_t(r)];
    if (kind == ggf8::ScaleKind::Block) return qr->scales[size_t((r / br) * n_cb + j / bc)];
    return qr->scales[0];
  };
  auto col_of = [&](int64_t k) -> int64_t { return f.perm.empty() ? k : int64_t(f.perm[size_t(k)]); };
  const size_t esz = src.dtype == StDType::F32 ? 4 : 2;
  constexpr int64_t kBlock = 128;
  const float* P = f.p.data();
  uint8_t* out = codes->data();

  const size_t groups = size_t((rows + 3) / 4);
  std::vector<QuantStats> part(groups);
  pool.run(groups, [&](size_t g) {
    const int64_t r0 = int64_t(g) * 4, nr = std::min<int64_t>(4, rows - r0);
    // w: the source rows; t: the targets (w plus the compensation so far);
    // d: the errors w - decode(q) * s. [4, cols] each; missing rows stay 0.
    std::vector<float> w(size_t(4 * cols), 0.0f), t(size_t(4 * cols), 0.0f), d(size_t(4 * cols), 0.0f);
    // Positions (decision order), not input columns: col(k) is the column.
    for (int64_t r = 0; r < nr; ++r)
      widen_to_f32(src.dtype, src.data + size_t(r0 + r) * size_t(cols) * esz, w.data() + r * cols, uint64_t(cols));
    if (!f.perm.empty()) {
      std::vector<float> tmp(static_cast<size_t>(cols));
      for (int64_t r = 0; r < nr; ++r) {
        float* row = w.data() + r * cols;
        for (int64_t k = 0; k < cols; ++k) tmp[size_t(k)] = row[f.perm[size_t(k)]];
        std::copy(tmp.begin(), tmp.end(), row);
      }
    }
    t = w;
    float* tr[4] = {t.data(), t.data() + cols, t.data() + 2 * cols, t.data() + 3 * cols};
    for (int64_t b1 = cols; b1 > 0;) {
      const int64_t b0 = std::max<int64_t>(0, b1 - kBlock);
      for (int64_t k = b1 - 1; k >= b0; --k) {
        const float* pk = P + k * cols;
        for (int64_t r = 0; r < nr; ++r) {
          const int64_t col = col_of(k);
          const float s = scale_at(r0 + r, col);
          const uint8_t q = encode_div(dt, t[size_t(r * cols + k)], s);
          out[size_t((r0 + r) * cols + col)] = q;
          const float e = w[size_t(r * cols + k)] - decode_scaled(dt, q, s);
          d[size_t(r * cols + k)] = e;
          // Inside the block, at once: columns b0..k-1 of this row.
          float* tt = tr[r];
          for (int64_t j = b0; j < k; ++j) tt[j] += e * pk[j];
        }
      }
      // Left of the block: t[:, 0:b0] += d[:, b0:b1] * P[b0:b1, 0:b0].
      if (b0 > 0)
        f8model::madd_rows(int(nr), 0, b0, b1 - b0, d.data() + b0, cols, 1, P + b0 * cols, cols, t.data(), cols, 1.0f);
      b1 = b0;
    }
    // Statistics against the source, as quantize_matrix counts them.
    QuantStats& st = part[g];
    const float sat = dt == ggf8::DType::E4M3 ? 464.0f : std::nextafter(61440.0f, 0.0f);
    for (int64_t r = 0; r < nr; ++r)
      for (int64_t k = 0; k < cols; ++k) {
        const int64_t j = col_of(k);
        const float x = w[size_t(r * cols + k)], s = scale_at(r0 + r, j);
        const float dq = decode_scaled(dt, out[size_t((r0 + r) * cols + j)], s);
        const float e = x - dq;
        st.count++;
        st.signal += double(x) * x;
        st.noise += double(e) * e;
        st.max_abs_err = std::max(st.max_abs_err, std::fabs(e));
        st.saturated += std::fabs(x) > sat * s;
        st.flushed += x != 0 && dq == 0;
      }
  });
  QuantStats total;
  for (const QuantStats& p : part) total.merge(p);
  qr->stats = total;
  return Status::Ok();
}

double output_error(const float* w, const float* q, int64_t rows, int64_t cols, const float* H) {
  double num = 0, den = 0;
  std::vector<double> e(static_cast<size_t>(cols)), x(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols; ++j) {
      x[size_t(j)] = w[r * cols + j];
      e[size_t(j)] = double(w[r * cols + j]) - double(q[r * cols + j]);
    }
    for (int64_t i = 0; i < cols; ++i) {
      double he = 0, hx = 0;
      for (int64_t j = 0; j < cols; ++j) {
        he += double(H[i * cols + j]) * e[size_t(j)];
        hx += double(H[i * cols + j]) * x[size_t(j)];
      }
      num += e[size_t(i)] * he;
      den += x[size_t(i)] * hx;
    }
  }
  return den > 0 ? num / den : 0;
}

}  // namespace f8conv
