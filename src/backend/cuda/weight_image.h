// weight_image.h — the device image of a weight as CudaBackend::upload
// builds it: layout, row contents and compacted scales. Pure host C++ (no
// CUDA), so the CPU tests build the exact image the GPU kernels read
// (tests/backend/test_cuda_moe_layout.cpp replays the MoE kernels on it).
//
// Layout (kernels/types.h DevWeight, kernels/moe.cuh DevStack):
//   - FP8 (E4M3/E5M2) matrices: rows of stride = cols rounded up to 64
//     bytes, pad bytes zero; F32/F16/BF16 matrices: rows padded to 16 bytes.
//   - 1-row F32/F16/BF16 unscaled weights (norm weights, biases; a stack of
//     them: per-expert biases) are converted to F32, stride = cols.
//   - a stack (n_mats > 1) of matrices: matrix e at e * mat_rows * stride
//     elements, mat_rows = rows plus zero rows up to a 256-byte multiple (so
//     each matrix starts 256-byte aligned); a stack of vectors is compact.
//   - scales compacted per matrix: Tensor 1 float (once for a stack sharing
//     it), Channel `rows`, Block ceil(rows / block_rows) rows of
//     ceil(cols / block_cols) — a tensor-parallel slice keeps only its own
//     rows and scale columns, whatever the source's strides.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/backend.h"

namespace f8backend::cuda {

struct WeightLayout {
  bool vec = false;        // 1-row vector(s), stored as F32
  size_t esz = 0;          // element bytes on the device
  int64_t stride = 0;      // elements per device row
  int64_t mat_rows = 0;    // device rows per matrix (>= rows)
  int64_t n_mats = 1;
  size_t row_bytes = 0;    // stride * esz
  size_t bytes = 0;        // all matrices
  size_t mat_scale_n = 0;  // scale floats per matrix (0: one tensor scale shared by the stack)
  size_t scale_n = 0;      // scale floats in all
  int64_t scale_rows = 0;  // Block: scale rows per matrix
  int64_t scale_cols = 0;  // Block: scale row stride on the device
};

WeightLayout weight_layout(const Weight& w);

// Rows [r0, r0 + nr) of the image (device row g = row g % mat_rows of
// matrix g / mat_rows; zero past the matrix's rows and past cols) into dst.
void fill_image_rows(const Weight& w, const WeightLayout& L, uint8_t* dst, size_t r0, size_t nr);

// The device scales (L.scale_n floats).
std::vector<float> image_scales(const Weight& w, const WeightLayout& L);

// The Weight describing an image of w at `data` with scales at `scale`.
Weight image_weight(const Weight& w, const WeightLayout& L, const void* data, const float* scale);

}  // namespace f8backend::cuda
