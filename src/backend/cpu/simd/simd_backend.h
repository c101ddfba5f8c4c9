// simd_backend.h — factory for cpu/simd (isa: "auto", "avx512", "avx2", "generic").
#pragma once
#include <memory>
#include <string>

#include "backend/backend.h"

namespace f8backend::cpu {
Status make_simd_backend(const std::string& isa, std::unique_ptr<Backend>* out);
}
