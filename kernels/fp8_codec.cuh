// kernels/fp8_codec.cuh — host-callable launchers for the device-side FP8
// codec (kernels/fp8_codec.cu). Plain C++ interface: callers need not be
// compiled by nvcc. All pointers are DEVICE pointers; functions return the
// cudaError_t of the launch as an int (0 = success) and do not synchronize.
#pragma once

#include <cstddef>
#include <cstdint>

namespace f8k {

// dst[i] = ggf8::e4m3_from_f32(src[i] * inv_scale, satfinite) (resp. e5m2).
int f32_to_e4m3(const float* src, uint8_t* dst, size_t n, float inv_scale, bool satfinite,
                void* stream = nullptr);
int f32_to_e5m2(const float* src, uint8_t* dst, size_t n, float inv_scale, bool satfinite,
                void* stream = nullptr);
// dst[i] = decode(src[i]) * scale.
int e4m3_to_f32(const uint8_t* src, float* dst, size_t n, float scale, void* stream = nullptr);
int e5m2_to_f32(const uint8_t* src, float* dst, size_t n, float scale, void* stream = nullptr);
// dst[i] = NVIDIA's own __nv_cvt_float_to_fp8(src[i], sat, fmt) on the device:
// on sm_89+ the satfinite case is the hardware cvt.rn.satfinite.{e4m3,e5m2}x2
// instruction, so comparing with f32_to_e4m3 checks ggf8/fp8.h against the
// silicon. e4m3 selects the format.
int nv_f32_to_fp8(const float* src, uint8_t* dst, size_t n, bool e4m3, bool satfinite,
                  void* stream = nullptr);

}  // namespace f8k
