// tests/codec/nv_fp8_ref.h — NVIDIA's own FP8 conversions (cuda_fp8.h host
// code) behind a plain interface, so tests can compare ggf8/fp8.h with them
// without every test source including the CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nvref {

enum class Fmt { E4M3, E5M2 };

// out[i] = __nv_cvt_float_to_fp8(float_from_bits(first + i), sat, fmt) for
// i in [0, n). The loop lives in the NVIDIA translation unit so the
// conversion inlines (the exhaustive test calls it 2^34 times).
void encode_range(Fmt fmt, bool satfinite, uint32_t first, size_t n, uint8_t* out);

// NVIDIA's fp8 -> half -> float host conversion of one code.
float decode(Fmt fmt, uint8_t code);

// True when the NVIDIA TU was compiled as plain host C++ (no __CUDACC__, no
// __CUDA_ARCH__): i.e. the code under test is the host fallback, not PTX.
bool is_host_fallback();

}  // namespace nvref
