// quantize.cpp — see quantize.h. Per scale group the work is: an amax pass on
// the source bits (integer max of |x| bits, which orders like |x| for finite
// values and vectorizes without fast-math), then per row: widen to F32 into
// an L1-sized buffer, bulk-encode (ggf8/fp8_bulk: AVX2 when present),
// bulk-decode with the scale, and one statistics pass. Rows are spread over
// the thread pool in chunks of >= 64K elements.
//
// The small kernels are written once (always_inline) and instantiated twice:
// for the baseline ISA and for AVX2+FMA+F16C, picked at run time.
#include "convert/quantize.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "ggf8/fp8.h"
#include "ggf8/fp8_bulk.h"

namespace f8conv {

using ggf8::Code;
using ggf8::DType;
using ggf8::ScaleKind;
using ggf8::Status;

const char* weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::E4M3: return "e4m3";
    case WeightFormat::E5M2: return "e5m2";
    case WeightFormat::BF16: return "bf16";
  }
  return "?";
}
const char* scale_mode_name(ScaleMode m) {
  switch (m) {
    case ScaleMode::Tensor: return "tensor";
    case ScaleMode::Channel: return "channel";
    case ScaleMode::Block: return "block";
  }
  return "?";
}

void QuantStats::merge(const QuantStats& o) {
  count += o.count;
  nonfinite += o.nonfinite;
  saturated += o.saturated;
  flushed += o.flushed;
  signal += o.signal;
  noise += o.noise;
  max_abs_err = std::max(max_abs_err, o.max_abs_err);
}
double QuantStats::sqnr_db() const {
  if (noise <= 0) return std::numeric_limits<double>::infinity();
  if (signal <= 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}
double QuantStats::saturated_pct() const { return count ? 100.0 * double(saturated) / double(count) : 0.0; }
double QuantStats::flushed_pct() const { return count ? 100.0 * double(flushed) / double(count) : 0.0; }

namespace {

#define F8_INLINE static inline __attribute__((always_inline))
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define F8_X86 1
#define F8_AVX2 __attribute__((target("avx2,fma,f16c")))
#else
#define F8_X86 0
#endif

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

bool have_avx2() {
#if F8_X86
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  }();
  return has;
#else
  return false;
#endif
}

inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ---- kernels (generic bodies) -------------------------------------------------

// F16 bits -> F32 bits, exact: (h & 0x7FFF) << 13 is value * 2^-112 for normal
// and subnormal halves alike, so one multiply by 2^112 rebiases both
// (subnormal halves pass through F32 denormals: DAZ must be off, as it is by
// default). Inf/NaN halves are patched.
F8_INLINE float half_to_float(uint16_t h) {
  const uint32_t mag = static_cast<uint32_t>(h & 0x7FFFu) << 13;
  float f = f32_from_bits(mag) * 5.192296858534828e33f;  // 2^112
  uint32_t b;
  std::memcpy(&b, &f, 4);
  if ((h & 0x7C00u) == 0x7C00u) b = 0x7F800000u | mag;  // inf / NaN (payload kept)
  return f32_from_bits(b | (static_cast<uint32_t>(h & 0x8000u) << 16));
}

F8_INLINE void widen_body(StDType t, const uint8_t* src, float* dst, uint64_t n) {
  if (t == StDType::F32) {
    std::memcpy(dst, src, n * 4);
  } else if (t == StDType::BF16) {
    const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
    uint32_t* d = reinterpret_cast<uint32_t*>(dst);
    for (uint64_t i = 0; i < n; ++i) d[i] = static_cast<uint32_t>(s[i]) << 16;
  } else {  // F16
    const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
    for (uint64_t i = 0; i < n; ++i) dst[i] = half_to_float(s[i]);
  }
}

// Max of |x| over finite elements, as the source dtype's magnitude bits, and
// the number of non-finite elements (+ index of the first one).
struct AmaxResult {
  uint32_t bits = 0;
  uint64_t nonfinite = 0;
};
template <typename U, U kAbsMask, U kExpMask>
F8_INLINE AmaxResult amax_bits_t(const U* s, uint64_t n) {
  // Hot path: one unsigned max over |x| bits (vpmaxuw/vpmaxud). Only when
  // that max is Inf/NaN, a second pass counts them and takes the finite max.
  U m = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const U a = static_cast<U>(s[i] & kAbsMask);
    m = a > m ? a : m;
  }
  if (m < kExpMask) return {static_cast<uint32_t>(m), 0};
  U mf = 0;
  uint64_t bad = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const U a = static_cast<U>(s[i] & kAbsMask);
    if (a >= kExpMask) {
      ++bad;
    } else {
      mf = a > mf ? a : mf;
    }
  }
  return {static_cast<uint32_t>(mf), bad};
}
F8_INLINE AmaxResult amax_body(StDType t, const uint8_t* src, uint64_t n) {
  if (t == StDType::F32)
    return amax_bits_t<uint32_t, 0x7FFFFFFFu, 0x7F800000u>(reinterpret_cast<const uint32_t*>(src), n);
  if (t == StDType::BF16)
    return amax_bits_t<uint16_t, 0x7FFF, 0x7F80>(reinterpret_cast<const uint16_t*>(src), n);
  return amax_bits_t<uint16_t, 0x7FFF, 0x7C00>(reinterpret_cast<const uint16_t*>(src), n);
}

// Error statistics of x against its dequantized d over n elements. sat_thr:
// |x| beyond it was clipped by satfinite.
F8_INLINE void stats_body(const float* x, const float* d, uint64_t n, float sat_thr, QuantStats* st) {
  v8f sig = {}, noi = {}, mx = {};
  v8i sat = {}, fl = {}, nf = {};
  const v8f zero = {};
  const v8f thr = zero + sat_thr;
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v8f xv, dv;
    std::memcpy(&xv, x + i, 32);
    std::memcpy(&dv, d + i, 32);
    // Vector casts between same-size vector types reinterpret the bits.
    const v8i xb = (v8i)xv;
    const v8i fin = (xb & 0x7F800000) != 0x7F800000;  // -1 where finite
    const v8i eb = (v8i)(xv - dv) & fin;               // error, 0 where x is not finite
    const v8f ef = (v8f)eb, ae = (v8f)(eb & 0x7FFFFFFF), xff = (v8f)(xb & fin);
    const v8f ax = (v8f)(xb & 0x7FFFFFFF);
    sig += xff * xff;
    noi += ef * ef;
    mx = ae > mx ? ae : mx;
    sat -= (ax > thr) & fin;
    fl -= (xff != zero) & (dv == zero);
    nf -= (fin == 0);
  }
  double s = 0, e2 = 0;
  float m = 0;
  uint64_t cs = 0, cf = 0, cn = 0;
  for (int l = 0; l < 8; ++l) {
    s += sig[l];
    e2 += noi[l];
    m = std::max(m, mx[l]);
    cs += static_cast<uint64_t>(sat[l]);
    cf += static_cast<uint64_t>(fl[l]);
    cn += static_cast<uint64_t>(nf[l]);
  }
  for (; i < n; ++i) {
    uint32_t b;
    std::memcpy(&b, x + i, 4);
    if ((b & 0x7F800000u) == 0x7F800000u) {
      ++cn;
      continue;
    }
    const float e = x[i] - d[i];
    s += double(x[i]) * x[i];
    e2 += double(e) * e;
    m = std::max(m, std::fabs(e));
    cs += std::fabs(x[i]) > sat_thr;
    cf += x[i] != 0 && d[i] == 0;
  }
  st->signal += s;
  st->noise += e2;
  st->max_abs_err = std::max(st->max_abs_err, m);
  st->saturated += cs;
  st->flushed += cf;
  st->nonfinite += cn;
  st->count += n - cn;
}

// F32 -> BF16 (round to nearest even; NaN -> quiet NaN) and back.
F8_INLINE void bf16_body(const float* x, uint16_t* q, float* d, uint64_t n) {
  const uint32_t* xb = reinterpret_cast<const uint32_t*>(x);
  uint32_t* db = reinterpret_cast<uint32_t*>(d);
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t b = xb[i];
    const bool nan = (b & 0x7FFFFFFFu) > 0x7F800000u;
    uint32_t r = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
    r = nan ? ((b >> 16) | 0x40u) : r;
    q[i] = static_cast<uint16_t>(r);
    db[i] = r << 16;
  }
}

// ---- ISA instantiations -----------------------------------------------------
#define F8_KERNELS(SUFFIX, ATTR)                                                                        \
  ATTR void widen_##SUFFIX(StDType t, const uint8_t* s, float* d, uint64_t n) { widen_body(t, s, d, n); } \
  ATTR AmaxResult amax_##SUFFIX(StDType t, const uint8_t* s, uint64_t n) { return amax_body(t, s, n); }   \
  ATTR void stats_##SUFFIX(const float* x, const float* d, uint64_t n, float thr, QuantStats* st) {       \
    stats_body(x, d, n, thr, st);                                                                       \
  }                                                                                                     \
  ATTR void bf16_##SUFFIX(const float* x, uint16_t* q, float* d, uint64_t n) { bf16_body(x, q, d, n); }

F8_KERNELS(base, )
#if F8_X86
F8_KERNELS(avx2, F8_AVX2)
#define F8_DISPATCH(fn, ...) (have_avx2() ? fn##_avx2(__VA_ARGS__) : fn##_base(__VA_ARGS__))
#else
#define F8_DISPATCH(fn, ...) fn##_base(__VA_ARGS__)
#endif

AmaxResult amax(StDType t, const uint8_t* s, uint64_t n) { return F8_DISPATCH(amax, t, s, n); }
void stats(const float* x, const float* d, uint64_t n, float thr, QuantStats* st) {
  F8_DISPATCH(stats, x, d, n, thr, st);
}
void to_bf16(const float* x, uint16_t* q, float* d, uint64_t n) { F8_DISPATCH(bf16, x, q, d, n); }

float amax_to_float(StDType t, uint32_t bits) {
  if (t == StDType::F32) return f32_from_bits(bits);
  if (t == StDType::BF16) return f32_from_bits(bits << 16);
  return half_to_float(static_cast<uint16_t>(bits));
}

size_t src_elem_size(StDType t) { return t == StDType::F32 ? 4 : 2; }

struct FormatInfo {
  float max;      // largest finite
  float sat_thr;  // |x/s| above this was clipped (max + half ulp)
};
FormatInfo format_info(WeightFormat f) {
  switch (f) {
    case WeightFormat::E4M3: return {ggf8::kE4M3Max, 464.0f};
    case WeightFormat::E5M2: return {ggf8::kE5M2Max, std::nextafter(61440.0f, 0.0f)};
    case WeightFormat::BF16: return {0.f, std::numeric_limits<float>::infinity()};
  }
  return {0.f, 0.f};
}

// s = amax / fp8_max (float32), kept >= FLT_MIN; all-zero groups get 1.
float scale_for(float amax, float fmt_max) {
  if (!(amax > 0)) return 1.0f;
  return std::max(amax / fmt_max, FLT_MIN);
}

// Encodes one segment of n floats with scale s into q (FP8 codes) and the
// dequantized values into d, then accumulates the error stats.
void encode_segment(WeightFormat fmt, const float* x, uint64_t n, float s, uint8_t* q, float* d,
                    const FormatInfo& fi, QuantStats* st) {
  // q = enc(fl(x / s)): divide, as PyTorch's (w / s).to(float8) does; a
  // multiply by fl(1/s) moves ~0.04% of codes (docs/fp8.md).
  if (fmt == WeightFormat::E4M3) {
    ggf8::f32_to_e4m3_div(x, q, n, s, true);
    ggf8::e4m3_to_f32_scaled(q, d, n, s);
  } else {
    ggf8::f32_to_e5m2_div(x, q, n, s, true);
    ggf8::e5m2_to_f32_scaled(q, d, n, s);
  }
  stats(x, d, n, fi.sat_thr * s, st);
}

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// Rows per work item so that each item has >= 64K elements.
uint64_t rows_per_task(uint64_t cols) { return std::max<uint64_t>(1, (65536 + cols - 1) / cols); }

Status nonfinite_error(const std::string& name, uint64_t n) {
  return Status::Error(Code::BadType, "tensor \"" + name + "\": " + std::to_string(n) +
                                          " NaN/Inf value(s) (pass --allow-nonfinite to convert anyway)");
}

}  // namespace

void widen_to_f32(StDType t, const uint8_t* src, float* dst, uint64_t n) {
  F8_DISPATCH(widen, t, src, dst, n);
}

uint64_t count_nonfinite_float(StDType t, const uint8_t* data, uint64_t n, ThreadPool& pool) {
  const uint64_t chunk = 1u << 18, n_tasks = ceil_div(n, chunk), esz = src_elem_size(t);
  std::vector<uint64_t> bad(n_tasks, 0);
  pool.run(n_tasks, [&](size_t i) {
    const uint64_t b = i * chunk;
    bad[i] = amax(t, data + b * esz, std::min(n, b + chunk) - b).nonfinite;
  });
  uint64_t s = 0;
  for (uint64_t v : bad) s += v;
  return s;
}

uint64_t count_nonfinite_fp8(const uint8_t* p, uint64_t n, bool e5m2) {
  uint64_t c = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const uint8_t m = p[i] & 0x7F;
    c += e5m2 ? (m >= 0x7C) : (m == 0x7F);
  }
  return c;
}

Status quantize_matrix(const std::string& name, const SrcMatrix& src, WeightFormat fmt, ScaleMode mode,
                       uint32_t block, bool allow_nonfinite, ThreadPool& pool, std::vector<uint8_t>* out_bytes,
                       QuantResult* out) {
  if (src.dtype != StDType::F32 && src.dtype != StDType::F16 && src.dtype != StDType::BF16)
    return Status::Error(Code::BadType, "tensor \"" + name + "\": cannot quantize dtype " + st_dtype_name(src.dtype));
  const uint64_t rows = src.rows, cols = src.cols, esz = src_elem_size(src.dtype);
  const FormatInfo fi = format_info(fmt);
  QuantResult r;
  const bool is_bf16 = fmt == WeightFormat::BF16;
  r.dtype = fmt == WeightFormat::E4M3 ? DType::E4M3 : fmt == WeightFormat::E5M2 ? DType::E5M2 : DType::BF16;
  out_bytes->resize(rows * cols * (is_bf16 ? 2 : 1));
  uint8_t* dst = out_bytes->data();
  auto src_row = [&](uint64_t r_) { return src.data + r_ * cols * esz; };

  if (is_bf16) mode = ScaleMode::Tensor;  // BF16 needs no scale; the amax pass still checks finiteness
  const uint64_t br = mode == ScaleMode::Block ? block : 0;
  const uint64_t rpt = mode == ScaleMode::Block ? br : rows_per_task(cols);
  const uint64_t n_tasks = ceil_div(rows, rpt);
  const uint64_t n_cb = mode == ScaleMode::Block ? ceil_div(cols, block) : 1;

  // Pass 1: amax per group (+ non-finite count).
  std::vector<uint32_t> group_bits;  // tensor: [n_tasks] partials; channel: [rows]; block: [n_rb * n_cb]
  std::vector<uint64_t> bad(n_tasks, 0);
  if (mode == ScaleMode::Tensor) group_bits.assign(n_tasks, 0);
  if (mode == ScaleMode::Channel) group_bits.assign(rows, 0);
  if (mode == ScaleMode::Block) group_bits.assign(n_tasks * n_cb, 0);
  pool.run(n_tasks, [&](size_t t) {
    const uint64_t r0 = t * rpt, r1 = std::min(rows, r0 + rpt);
    for (uint64_t i = r0; i < r1; ++i) {
      if (mode == ScaleMode::Block) {
        for (uint64_t cb = 0; cb < n_cb; ++cb) {
          const uint64_t c0 = cb * block, c1 = std::min(cols, c0 + block);
          AmaxResult a = amax(src.dtype, src_row(i) + c0 * esz, c1 - c0);
          group_bits[t * n_cb + cb] = std::max(group_bits[t * n_cb + cb], a.bits);
          bad[t] += a.nonfinite;
        }
      } else {
        AmaxResult a = amax(src.dtype, src_row(i), cols);
        bad[t] += a.nonfinite;
        uint32_t& g = mode == ScaleMode::Channel ? group_bits[i] : group_bits[t];
        g = std::max(g, a.bits);
      }
    }
  });
  uint64_t n_bad = 0;
  for (uint64_t b : bad) n_bad += b;
  if (n_bad && !allow_nonfinite) return nonfinite_error(name, n_bad);

  // Scales.
  if (is_bf16) {
    r.kind = ScaleKind::None;
  } else if (mode == ScaleMode::Tensor) {
    uint32_t m = 0;
    for (uint32_t b : group_bits) m = std::max(m, b);
    r.kind = ScaleKind::Tensor;
    r.scales = {scale_for(amax_to_float(src.dtype, m), fi.max)};
    r.scale_dims = {1};
  } else if (mode == ScaleMode::Channel) {
    r.kind = ScaleKind::Channel;
    r.scales.resize(rows);
    for (uint64_t i = 0; i < rows; ++i) r.scales[i] = scale_for(amax_to_float(src.dtype, group_bits[i]), fi.max);
    r.scale_dims = {rows};
  } else {
    r.kind = ScaleKind::Block;
    r.block_rows = r.block_cols = block;
    r.scales.resize(group_bits.size());
    for (size_t i = 0; i < group_bits.size(); ++i) r.scales[i] = scale_for(amax_to_float(src.dtype, group_bits[i]), fi.max);
    r.scale_dims = {n_tasks, n_cb};
  }

  // Pass 2: encode + stats.
  std::vector<QuantStats> part(n_tasks);
  pool.run(n_tasks, [&](size_t t) {
    std::vector<float> x(cols), d(cols);
    const uint64_t r0 = t * rpt, r1 = std::min(rows, r0 + rpt);
    for (uint64_t i = r0; i < r1; ++i) {
      widen_to_f32(src.dtype, src_row(i), x.data(), cols);
      if (is_bf16) {
        to_bf16(x.data(), reinterpret_cast<uint16_t*>(dst + i * cols * 2), d.data(), cols);
        stats(x.data(), d.data(), cols, fi.sat_thr, &part[t]);
        continue;
      }
      uint8_t* q = dst + i * cols;
      if (mode == ScaleMode::Block) {
        for (uint64_t cb = 0; cb < n_cb; ++cb) {
          const uint64_t c0 = cb * block, n = std::min(cols, c0 + block) - c0;
          encode_segment(fmt, x.data() + c0, n, r.scales[t * n_cb + cb], q + c0, d.data() + c0, fi, &part[t]);
        }
      } else {
        const float s = mode == ScaleMode::Channel ? r.scales[i] : r.scales[0];
        encode_segment(fmt, x.data(), cols, s, q, d.data(), fi, &part[t]);
      }
    }
  });
  for (const auto& p : part) r.stats.merge(p);
  *out = std::move(r);
  return Status::Ok();
}

Status convert_plain(const std::string& name, const SrcMatrix& src, DType to, bool allow_nonfinite,
                     ThreadPool& pool, std::vector<uint8_t>* out_bytes) {
  if (src.dtype != StDType::F32 && src.dtype != StDType::F16 && src.dtype != StDType::BF16)
    return Status::Error(Code::BadType, "tensor \"" + name + "\": unsupported dtype " + st_dtype_name(src.dtype) +
                                            " (expected F32, F16 or BF16)");
  if (to != DType::F32 && to != DType::BF16)
    return Status::Error(Code::InvalidArgument, "tensor \"" + name + "\": convert_plain to " + ggf8::dtype_name(to));
  const uint64_t rows = src.rows, cols = src.cols, esz = src_elem_size(src.dtype);
  const uint64_t total = rows * cols;
  // Treat the tensor as a flat array split into 64K-element items.
  const uint64_t chunk = 65536, n_tasks = ceil_div(std::max<uint64_t>(total, 1), chunk);
  out_bytes->resize(total * ggf8::dtype_size(to));
  uint8_t* dst = out_bytes->data();
  std::vector<uint64_t> bad(n_tasks, 0);
  pool.run(n_tasks, [&](size_t t) {
    const uint64_t b = t * chunk, n = std::min(total, b + chunk) - b;
    if (n == 0) return;
    const uint8_t* s = src.data + b * esz;
    bad[t] = amax(src.dtype, s, n).nonfinite;
    if (to == DType::F32) {
      widen_to_f32(src.dtype, s, reinterpret_cast<float*>(dst) + b, n);
    } else if (src.dtype == StDType::BF16) {
      std::memcpy(dst + b * 2, s, n * 2);
    } else {
      std::vector<float> x(n), d(n);
      widen_to_f32(src.dtype, s, x.data(), n);
      to_bf16(x.data(), reinterpret_cast<uint16_t*>(dst) + b, d.data(), n);
    }
  });
  uint64_t n_bad = 0;
  for (uint64_t v : bad) n_bad += v;
  if (n_bad && !allow_nonfinite) return nonfinite_error(name, n_bad);
  return Status::Ok();
}

}  // namespace f8conv
