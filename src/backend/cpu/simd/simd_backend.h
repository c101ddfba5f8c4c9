// simd_backend.h — factory for cpu/simd (isa: "auto", "avx512", "avx2", "generic").
#pragma once
#include <memory>
#include <string>

#include "backend/backend.h"

namespace f8backend::cpu {
namespace simd {
struct Kernels;
}
Status make_simd_backend(const std::string& isa, std::unique_ptr<Backend>* out);
// cpu-simd over a kernel table the caller built (tests: a tier's kernels
// compiled against SIMDe's emulated AVX-512, so a machine without that tier
// runs them); `k` must outlive the backend.
Status make_simd_backend_with(const simd::Kernels* k, std::unique_ptr<Backend>* out);
}
