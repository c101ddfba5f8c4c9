// weight_image.cpp — see weight_image.h.
#include "backend/cuda/weight_image.h"

#include <cstring>

#include "backend/cpu/cpu_common.h"

namespace f8backend::cuda {

namespace {
bool is_fp8(DType d) { return d == DType::E4M3 || d == DType::E5M2; }
int64_t round_up64(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
}  // namespace

WeightLayout weight_layout(const Weight& w) {
  WeightLayout L;
  const bool fp8 = is_fp8(w.dtype);
  L.n_mats = w.n_mats > 1 ? w.n_mats : 1;
  L.vec = w.rows == 1 && !fp8 && w.scale_kind == ScaleKind::None;
  L.esz = L.vec ? 4 : cpu::elem_size(w.dtype);
  if (L.vec) L.stride = w.cols;
  else if (fp8) L.stride = round_up64(w.cols, 64);
  else L.stride = round_up64(w.cols, int64_t(16 / L.esz));
  L.row_bytes = size_t(L.stride) * L.esz;
  L.mat_rows = w.rows;
  if (L.n_mats > 1 && !L.vec)  // each matrix 256-byte aligned: whole rows of padding
    while ((size_t(L.mat_rows) * L.row_bytes) % 256) ++L.mat_rows;
  L.bytes = size_t(L.n_mats) * size_t(L.mat_rows) * L.row_bytes;
  switch (w.scale_kind) {
    case ScaleKind::Tensor: L.mat_scale_n = 1; break;
    case ScaleKind::Channel: L.mat_scale_n = size_t(w.rows); break;
    case ScaleKind::Block:
      L.scale_cols = (w.cols + w.block_cols - 1) / w.block_cols;
      L.scale_rows = (w.rows + w.block_rows - 1) / w.block_rows;
      L.mat_scale_n = size_t(L.scale_rows) * size_t(L.scale_cols);
      break;
    default: break;
  }
  const bool shared = w.scale_kind == ScaleKind::Tensor && (L.n_mats == 1 || w.mat_scale_stride == 0);
  L.scale_n = shared ? L.mat_scale_n : L.mat_scale_n * size_t(L.n_mats);
  if (shared && L.n_mats > 1) L.mat_scale_n = 0;
  return L;
}

void fill_image_rows(const Weight& w, const WeightLayout& L, uint8_t* dst, size_t r0, size_t nr) {
  const auto* src = static_cast<const uint8_t*>(w.data);
  const size_t src_esz = cpu::elem_size(w.dtype);
  const int64_t src_stride = w.stride();
  std::memset(dst, 0, nr * L.row_bytes);  // row and matrix padding must be zero
  for (size_t r = 0; r < nr; ++r) {
    const int64_t g = int64_t(r0 + r), e = g / L.mat_rows, i = g % L.mat_rows;
    if (i >= w.rows) continue;
    const uint8_t* s = src + (e * w.mat_stride + i * src_stride) * int64_t(src_esz);
    uint8_t* d = dst + r * L.row_bytes;
    if (L.vec) {
      float* df = reinterpret_cast<float*>(d);
      for (int64_t k = 0; k < w.cols; ++k) df[k] = cpu::load_elem(s, w.dtype, k);
    } else {
      std::memcpy(d, s, size_t(w.cols) * src_esz);
    }
  }
}

std::vector<float> image_scales(const Weight& w, const WeightLayout& L) {
  std::vector<float> out(L.scale_n);
  if (!L.scale_n) return out;
  const int64_t n = L.mat_scale_n ? L.n_mats : 1;
  const int64_t per = int64_t(L.mat_scale_n ? L.mat_scale_n : L.scale_n);
  const int64_t src_cols = w.scale_cols ? w.scale_cols : L.scale_cols;
  for (int64_t e = 0; e < n; ++e) {
    const float* s = w.scale + e * w.mat_scale_stride;
    float* d = out.data() + e * per;
    if (w.scale_kind == ScaleKind::Block) {
      for (int64_t r = 0; r < L.scale_rows; ++r)
        std::memcpy(d + r * L.scale_cols, s + r * src_cols, size_t(L.scale_cols) * 4);
    } else {
      std::memcpy(d, s, size_t(per) * 4);
    }
  }
  return out;
}

Weight image_weight(const Weight& w, const WeightLayout& L, const void* data, const float* scale) {
  Weight d = w;
  d.data = data;
  d.dtype = L.vec ? DType::F32 : w.dtype;
  d.row_stride = L.stride;
  d.n_mats = int32_t(L.n_mats);
  d.mat_stride = L.n_mats > 1 ? L.mat_rows * L.stride : 0;
  d.mat_scale_stride = L.n_mats > 1 ? int64_t(L.mat_scale_n) : 0;
  d.scale = L.scale_n ? scale : nullptr;
  d.scale_cols = L.scale_cols;
  return d;
}

}  // namespace f8backend::cuda
