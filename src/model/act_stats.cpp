// act_stats.cpp — see act_stats.h.
#include "model/act_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

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
  if (moment && moment->dim > 0 && n % moment->dim == 0) moment->add(x, n / moment->dim);
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

namespace {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define F8_MOMENT_X86 1
#define F8_MOMENT_AVX2 __attribute__((target("avx2,fma")))
#else
#define F8_MOMENT_X86 0
#endif

template <typename T>
static inline __attribute__((always_inline)) void madd_body(int m, int64_t j0, int64_t j1, int64_t kk, const T* A,
                                                            int64_t a_rs, int64_t a_ks, const T* B, int64_t ldb,
                                                            T* C, int64_t ldc, T sign) {
  typedef T vec __attribute__((vector_size(32)));
  constexpr int64_t L = 32 / sizeof(T);
  const vec zero = {};
  // Rows past m read row 0 and are not written back.
  const T* a0 = A;
  const T* a1 = A + (m > 1 ? a_rs : 0);
  const T* a2 = A + (m > 2 ? 2 * a_rs : 0);
  const T* a3 = A + (m > 3 ? 3 * a_rs : 0);
  int64_t j = j0;
  for (; j + 2 * L <= j1; j += 2 * L) {
    vec c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero, c30 = zero, c31 = zero;
    const T* bp = B + j;
    for (int64_t k = 0; k < kk; ++k, bp += ldb) {
      vec v0, v1;
      std::memcpy(&v0, bp, 32);
      std::memcpy(&v1, bp + L, 32);
      const int64_t o = k * a_ks;
      const vec s0 = zero + a0[o], s1 = zero + a1[o], s2 = zero + a2[o], s3 = zero + a3[o];
      c00 += s0 * v0;
      c01 += s0 * v1;
      c10 += s1 * v0;
      c11 += s1 * v1;
      c20 += s2 * v0;
      c21 += s2 * v1;
      c30 += s3 * v0;
      c31 += s3 * v1;
    }
    const vec acc[4][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
    for (int r = 0; r < m; ++r)
      for (int h = 0; h < 2; ++h) {
        vec cur;
        T* cp = C + r * ldc + j + h * L;
        std::memcpy(&cur, cp, 32);
        cur += sign * acc[r][h];
        std::memcpy(cp, &cur, 32);
      }
  }
  for (; j + L <= j1; j += L) {  // one vector
    vec c0 = zero, c1 = zero, c2 = zero, c3 = zero;
    const T* bp = B + j;
    for (int64_t k = 0; k < kk; ++k, bp += ldb) {
      vec v0;
      std::memcpy(&v0, bp, 32);
      const int64_t o = k * a_ks;
      c0 += (zero + a0[o]) * v0;
      c1 += (zero + a1[o]) * v0;
      c2 += (zero + a2[o]) * v0;
      c3 += (zero + a3[o]) * v0;
    }
    const vec acc[4] = {c0, c1, c2, c3};
    for (int r = 0; r < m; ++r) {
      vec cur;
      T* cp = C + r * ldc + j;
      std::memcpy(&cur, cp, 32);
      cur += sign * acc[r];
      std::memcpy(cp, &cur, 32);
    }
  }
  for (; j < j1; ++j)
    for (int r = 0; r < m; ++r) {
      T sum = 0;
      for (int64_t k = 0; k < kk; ++k) sum += A[r * a_rs + k * a_ks] * B[k * ldb + j];
      C[r * ldc + j] += sign * sum;
    }
}

template <typename T>
void madd_base(int m, int64_t j0, int64_t j1, int64_t kk, const T* A, int64_t a_rs, int64_t a_ks, const T* B,
               int64_t ldb, T* C, int64_t ldc, T sign) {
  madd_body(m, j0, j1, kk, A, a_rs, a_ks, B, ldb, C, ldc, sign);
}
#if F8_MOMENT_X86
template <typename T>
F8_MOMENT_AVX2 void madd_avx2(int m, int64_t j0, int64_t j1, int64_t kk, const T* A, int64_t a_rs, int64_t a_ks,
                              const T* B, int64_t ldb, T* C, int64_t ldc, T sign) {
  madd_body(m, j0, j1, kk, A, a_rs, a_ks, B, ldb, C, ldc, sign);
}
bool moment_avx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
}
#endif
template <typename T>
void madd_dispatch(int m, int64_t j0, int64_t j1, int64_t kk, const T* A, int64_t a_rs, int64_t a_ks, const T* B,
                   int64_t ldb, T* C, int64_t ldc, T sign) {
  if (m <= 0 || j1 <= j0) return;
#if F8_MOMENT_X86
  if (moment_avx2()) return madd_avx2<T>(m, j0, j1, kk, A, a_rs, a_ks, B, ldb, C, ldc, sign);
#endif
  madd_base<T>(m, j0, j1, kk, A, a_rs, a_ks, B, ldb, C, ldc, sign);
}

}  // namespace

void madd_rows(int m, int64_t j0, int64_t j1, int64_t kk, const float* A, int64_t a_rs, int64_t a_ks,
               const float* B, int64_t ldb, float* C, int64_t ldc, float sign) {
  madd_dispatch<float>(m, j0, j1, kk, A, a_rs, a_ks, B, ldb, C, ldc, sign);
}
void madd_rows(int m, int64_t j0, int64_t j1, int64_t kk, const double* A, int64_t a_rs, int64_t a_ks,
               const double* B, int64_t ldb, double* C, int64_t ldc, double sign) {
  madd_dispatch<double>(m, j0, j1, kk, A, a_rs, a_ks, B, ldb, C, ldc, sign);
}

void SecondMoment::add(const float* x, int64_t n_tok) {
  if (dim <= 0 || n_tok <= 0) return;
  if (xtx.size() != size_t(dim) * size_t(dim)) xtx.assign(size_t(dim) * size_t(dim), 0.0f);
  // Non-finite inputs would poison every entry they touch: such tokens are
  // skipped (the absmax histogram counts them).
  std::vector<float> clean;
  const float* use = x;
  int64_t n = n_tok;
  bool all_finite = true;
  for (int64_t k = 0; k < n_tok * dim && all_finite; ++k) all_finite = std::isfinite(x[k]);
  if (!all_finite) {
    for (int64_t t = 0; t < n_tok; ++t) {
      bool fin = true;
      for (int64_t i = 0; i < dim && fin; ++i) fin = std::isfinite(x[t * dim + i]);
      if (fin) clean.insert(clean.end(), x + t * dim, x + (t + 1) * dim);
    }
    use = clean.data();
    n = int64_t(clean.size()) / dim;
    if (n == 0) return;
  }
  // Tiles of 64 rows x 256 columns on or above the diagonal, dealt
  // dynamically (their costs differ near the diagonal).
  constexpr int64_t kRows = 64, kCols = 256;
  std::vector<std::pair<int64_t, int64_t>> tiles;  // (i0, j0)
  for (int64_t i0 = 0; i0 < dim; i0 += kRows)
    for (int64_t j0 = (i0 / kCols) * kCols; j0 < dim; j0 += kCols) tiles.push_back({i0, j0});
  float* G = xtx.data();
  const int64_t d = dim;
  auto fn = [&](size_t k) {
    const auto [i0, j0] = tiles[k];
    const int64_t i1 = std::min(d, i0 + kRows), j1 = std::min(d, j0 + kCols);
    // Rows i..i+3 of G, columns from the diagonal's 8-aligned start (the
    // few lower entries this adds are overwritten by symmetric()).
    for (int64_t i = i0; i < i1; i += 4) {
      const int64_t js = std::max(j0, i & ~int64_t(7));
      if (js >= j1) break;
      madd_rows(int(std::min<int64_t>(4, i1 - i)), js, j1, n, use + i, 1, d, use, d, G + i * d, d, 1.0f);
    }
  };
  if (par && *par)
    (*par)(tiles.size(), fn);
  else
    for (size_t k = 0; k < tiles.size(); ++k) fn(k);
  tokens += uint64_t(n);
}

void SecondMoment::symmetric() {
  for (int64_t i = 0; i < dim; ++i)
    for (int64_t j = 0; j < i; ++j) xtx[size_t(i * dim + j)] = xtx[size_t(j * dim + i)];
}

void ActStats::enable_moments(const std::array<int64_t, kSiteCount>& dim) {
  moment.assign(size_t(n_layer), {});
  for (int32_t l = 0; l < n_layer; ++l)
    for (int s = 0; s < kSiteCount; ++s) {
      SecondMoment& m = moment[size_t(l)][size_t(s)];
      m.dim = std::max<int64_t>(0, dim[size_t(s)]);
      m.xtx.assign(size_t(m.dim) * size_t(m.dim), 0.0f);
      m.par = &parallel;
      site[size_t(l)][size_t(s)].moment = &m;
    }
}

void ActStats::reset(int32_t layers, int32_t kv_heads, int32_t hd) {
  n_layer = layers;
  n_kv_heads = kv_heads;
  head_dim = hd;
  site.assign(size_t(layers), {});
  k_amax.assign(size_t(layers) * size_t(kv_heads), 0.0f);
  v_amax.assign(size_t(layers) * size_t(kv_heads), 0.0f);
  moment.clear();
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
