// tests/codec/nv_fp8_ref.cpp — the only file that includes cuda_fp8.h. It is
// compiled by the host C++ compiler (g++), never by nvcc, so every
// `#if defined(__CUDA_ARCH__)` branch (the PTX cvt instructions) is compiled
// out and what we test against is NVIDIA's portable host implementation
// (__nv_cvt_float_to_fp8 -> __nv_cvt_double_to_fp8 in cuda_fp8.hpp).
#if defined(__CUDACC__) || defined(__CUDA_ARCH__)
#error "nv_fp8_ref.cpp must be compiled as host C++ so cuda_fp8.h uses its host fallback"
#endif

#include "nv_fp8_ref.h"

#include <cstring>

#include <cuda_fp8.h>

namespace nvref {
namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

template <__nv_fp8_interpretation_t F, __nv_saturation_t S>
void encode_loop(uint32_t first, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<uint8_t>(
        __nv_cvt_float_to_fp8(from_bits(first + static_cast<uint32_t>(i)), S, F));
}

}  // namespace

void encode_range(Fmt fmt, bool satfinite, uint32_t first, size_t n, uint8_t* out) {
  if (fmt == Fmt::E4M3) {
    if (satfinite) encode_loop<__NV_E4M3, __NV_SATFINITE>(first, n, out);
    else encode_loop<__NV_E4M3, __NV_NOSAT>(first, n, out);
  } else {
    if (satfinite) encode_loop<__NV_E5M2, __NV_SATFINITE>(first, n, out);
    else encode_loop<__NV_E5M2, __NV_NOSAT>(first, n, out);
  }
}

float decode(Fmt fmt, uint8_t code) {
  const __half_raw h =
      __nv_cvt_fp8_to_halfraw(code, fmt == Fmt::E4M3 ? __NV_E4M3 : __NV_E5M2);
  return __internal_halfraw_to_float(h);
}

bool is_host_fallback() {
#if defined(__CUDACC__) || defined(__CUDA_ARCH__)
  return false;
#else
  return true;
#endif
}

}  // namespace nvref
