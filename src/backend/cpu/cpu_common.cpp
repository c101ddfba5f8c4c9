// cpu_common.cpp — see cpu_common.h.
#include "backend/cpu/cpu_common.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <new>
#include <string>

#include <sys/mman.h>

namespace f8backend::cpu {

HostBuffer::~HostBuffer() { std::free(p_); }

Status host_alloc(size_t bytes, std::unique_ptr<Buffer>* out) {
  const size_t n = (bytes + 63) / 64 * 64;
  if (n < bytes) return Status::Error(Code::OutOfMemory, "alloc: size overflow");
  // Buffers of 2 MiB or more (the KV cache: 94 MB for 8k cells of a
  // 30-layer model, read in full by every decode step) start on a 2 MiB
  // boundary and ask for transparent huge pages: with 4 KiB pages each
  // layer's K and V rows cross a page every ~21 cells, and the page walks
  // held decode attention's prefetches back.
  constexpr size_t kHuge = size_t(2) << 20;
  void* p = nullptr;
  if (n >= kHuge) {
    if (posix_memalign(&p, kHuge, n) != 0) p = nullptr;
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, n / kHuge * kHuge, MADV_HUGEPAGE);  // advice only: refused -> 4 KiB pages
#endif
  } else {
    p = std::aligned_alloc(64, n ? n : 64);
  }
  if (!p) return Status::Error(Code::OutOfMemory, "alloc: cannot allocate " + std::to_string(bytes) + " bytes");
  std::memset(p, 0, n ? n : 64);
  *out = std::make_unique<HostBuffer>(p, bytes);
  return Status::Ok();
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  uint32_t u;
  if (e == 0x1F) {
    u = sign | 0x7F800000u | (m << 13);
  } else if (e == 0) {
    const float v = std::ldexp(static_cast<float>(m), -24);  // exact
    return sign ? -v : v;
  } else {
    u = sign | ((e + 112u) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | 0x7E00u;
  if (a >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 rounds to inf
  if (a >= 0x38800000u) {                         // normal half
    const uint32_t r = a - (112u << 23);
    return sign | static_cast<uint16_t>((r + 0xFFFu + ((r >> 13) & 1u)) >> 13);
  }
  // subnormal half: RNE onto multiples of 2^-24 via the FPU
  float v0;
  std::memcpy(&v0, &a, 4);
  volatile float v = v0;     // keeps the add from being folded or contracted
  const float s = v + 0.5f;  // ulp at 0.5 is 2^-24
  uint32_t su;
  std::memcpy(&su, &s, 4);
  return sign | static_cast<uint16_t>(su - 0x3F000000u);
}

size_t elem_size(DType dt) {
  switch (dt) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: return 2;
    default: return 1;
  }
}

Status check_weight(const Weight& w, const char* what) {
  auto bad = [&](const std::string& m) {
    return Status::Error(Code::InvalidArgument, std::string(what) + ": " + m);
  };
  switch (w.dtype) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::E4M3: case DType::E5M2: break;
    default:
      return Status::Error(Code::Unsupported, std::string(what) + ": dtype " +
                                                  ggf8::dtype_name(w.dtype) +
                                                  " is not a weight dtype (f32/f16/bf16/e4m3/e5m2)");
  }
  if (!w.data) return bad("no data");
  if (w.rows <= 0 || w.cols <= 0) return bad("rows and cols must be > 0");
  if (w.row_stride != 0 && w.row_stride < w.cols) return bad("row_stride < cols");
  if (w.scale_kind != ScaleKind::None && !w.scale) return bad("scale kind set but no scale data");
  if (w.scale_kind == ScaleKind::Block) {
    if (w.block_rows == 0 || w.block_cols == 0) return bad("block scale needs block_rows/block_cols > 0");
    const int64_t need = (w.cols + w.block_cols - 1) / w.block_cols;
    if (w.scale_cols != 0 && w.scale_cols < need) return bad("scale_cols smaller than ceil(cols/block_cols)");
  }
  if (w.input_scale < 0 || !std::isfinite(w.input_scale)) return bad("input_scale must be finite and >= 0");
  if (w.n_mats < 1) return bad("n_mats must be >= 1");
  if (w.n_mats > 1 && w.mat_stride < w.rows * w.stride()) return bad("mat_stride smaller than one matrix");
  return Status::Ok();
}

namespace {

// YaRN's ramp bounds (transformers find_correction_range): the dims whose
// wavelength at the original context spans beta_fast .. beta_slow rotations,
// in double as Python computes them.
void yarn_range(const RopeParams& p, int n_rot, double* low, double* high) {
  const double kPi = 3.14159265358979323846;
  auto dim_of = [&](double rotations) {
    return (double(n_rot) * std::log(double(p.orig_ctx) / (rotations * 2.0 * kPi))) /
           (2.0 * std::log(double(p.freq_base)));
  };
  double lo = dim_of(double(p.beta_fast)), hi = dim_of(double(p.beta_slow));
  if (p.truncate) {
    lo = std::floor(lo);
    hi = std::ceil(hi);
  }
  *low = std::max(lo, 0.0);
  *high = std::min(hi, double(n_rot - 1));
}

// a * b + c * d with each product and the sum rounded to float (no FMA
// contraction), as PyTorch's separate tensor ops round them.
float mul_add_rounded(float a, float b, float c, float d) {
  volatile float x = a * b;
  volatile float y = c * d;
  return x + y;
}

}  // namespace

std::vector<float> rope_inv_freq(const RopeParams& p) {
  const int n_rot = p.n_rot ? p.n_rot : p.head_dim;
  std::vector<float> inv(n_rot / 2);
  const float pi = 3.14159265358979323846f;
  double ylow = 0, yhigh = 0;
  if (p.scaling == RopeScaling::Yarn) {
    yarn_range(p, n_rot, &ylow, &yhigh);
    if (ylow == yhigh) yhigh += 0.001;  // transformers: "prevent singularity"
  }
  for (int i = 0; i < n_rot / 2; ++i) {
    float f = 1.0f / std::pow(p.freq_base, static_cast<float>(2 * i) / static_cast<float>(n_rot));
    if (p.scaling == RopeScaling::Yarn) {
      // transformers _compute_yarn_parameters, float32 tensor math:
      // extrapolation 1/pos_freq, interpolation 1/(factor*pos_freq), mixed
      // by 1 - clamp((i - low) / (high - low), 0, 1) (low, high cast to float).
      const float pos_freq = std::pow(p.freq_base, static_cast<float>(2 * i) / static_cast<float>(n_rot));
      volatile float fpos = p.factor * pos_freq;
      const float extra = 1.0f / pos_freq, inter = 1.0f / fpos;
      volatile float num = static_cast<float>(i) - static_cast<float>(ylow);
      const float ramp = std::clamp(num / static_cast<float>(yhigh - ylow), 0.0f, 1.0f);
      const float ef = 1.0f - ramp;  // extrapolation share
      f = mul_add_rounded(inter, 1.0f - ef, extra, ef);
    } else if (p.scaling == RopeScaling::Linear) {
      f /= p.factor;
    } else if (p.scaling == RopeScaling::Llama3) {
      // transformers _compute_llama3_parameters
      const float low_wavelen = static_cast<float>(p.orig_ctx) / p.low_freq_factor;
      const float high_wavelen = static_cast<float>(p.orig_ctx) / p.high_freq_factor;
      const float wavelen = 2.0f * pi / f;
      if (wavelen > low_wavelen) {
        f = f / p.factor;
      } else if (wavelen >= high_wavelen) {
        const float smooth = (static_cast<float>(p.orig_ctx) / wavelen - p.low_freq_factor) /
                             (p.high_freq_factor - p.low_freq_factor);
        f = (1.0f - smooth) * f / p.factor + smooth * f;
      }
    }
    inv[i] = f;
  }
  return inv;
}

void store_row_scalar(const float* x, int64_t n, DType dt, float scale, uint8_t* dst) {
  switch (dt) {
    case DType::F32: std::memcpy(dst, x, n * 4); break;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(dst)[i] = f32_to_bf16(x[i]);
      break;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(dst)[i] = f32_to_f16(x[i]);
      break;
    case DType::E4M3:
      for (int64_t i = 0; i < n; ++i) dst[i] = ggf8::e4m3_from_f32(x[i] / scale);
      break;
    case DType::E5M2:
      for (int64_t i = 0; i < n; ++i) dst[i] = ggf8::e5m2_from_f32(x[i] / scale);
      break;
    case DType::I8:  // the INT8 cache (token scales only)
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(f8k::kvs::i8_from_f32(x[i] / scale));
      break;
    default: break;
  }
}

void store_token_scaled(CpuKVCache& c, int32_t layer, const float* k, const float* v, const int32_t* cells, int32_t T,
                        void (*encode)(const float*, int64_t, DType, float, uint8_t*)) {
  const auto& kp = c.params();
  const int64_t n = c.row_elems();
  std::vector<float> kc;
  if (c.centered()) {
    int32_t hi = -1;
    for (int32_t t = 0; t < T; ++t) hi = std::max(hi, c.cells()[size_t(cells[t])].pos);
    c.ensure_centers(hi);
    kc.resize(size_t(n));
  }
  for (int32_t t = 0; t < T; ++t) {
    const float* kt = k + t * n;
    if (const float* m = c.k_center_row(layer, c.cells()[size_t(cells[t])].pos)) {
      for (int64_t i = 0; i < n; ++i) kc[size_t(i)] = kt[i] - m[i];
      kt = kc.data();
    }
    store_row_token_scaled(kt, kp.n_kv_heads, kp.head_dim, kp.dtype, c.k_row(layer, cells[t]), c.k_ts(layer, cells[t]),
                           encode);
    store_row_token_scaled(v + t * n, kp.n_kv_heads, kp.head_dim, kp.dtype, c.v_row(layer, cells[t]),
                           c.v_ts(layer, cells[t]), encode);
  }
}

void store_row_token_scaled(const float* x, int32_t n_kv_heads, int32_t head_dim, DType dt, uint8_t* dst,
                            uint16_t* scales, void (*encode)(const float*, int64_t, DType, float, uint8_t*)) {
  const float qmax = dt == DType::I8 ? f8k::kvs::kI8Max : f8k::kvs::kE4M3Max;
  for (int32_t h = 0; h < n_kv_heads; ++h) {
    const float* xh = x + int64_t(h) * head_dim;
    float amax = 0.0f;
    for (int32_t i = 0; i < head_dim; ++i) amax = std::max(amax, f8k::kvs::finite_abs(xh[i]));
    const uint16_t s = f8k::kvs::scale_for_amax(amax, qmax);
    scales[h] = s;
    encode(xh, head_dim, dt, f8k::kvs::scale_value(s), dst + int64_t(h) * head_dim);
  }
}

}  // namespace f8backend::cpu
