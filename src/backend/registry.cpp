// registry.cpp — backend names -> factories.
#include "backend/cpu/ref/ref_backend.h"
#include "backend/cpu/simd/kernels.h"
#include "backend/cpu/simd/simd_backend.h"

namespace f8backend {

Status create_backend(std::string_view name, const BackendParams& p, std::unique_ptr<Backend>* out) {
  if (name == "cpu-ref") {
    *out = cpu::make_ref_backend();
    return Status::Ok();
  }
  if (name == "cpu" || name == "cpu-simd") return cpu::make_simd_backend(p.isa, out);
  return Status::Error(Code::InvalidArgument, "unknown backend '" + std::string(name) +
                                                  "' (available: cpu, cpu-simd, cpu-ref)");
}

std::vector<std::string> backend_names() { return {"cpu", "cpu-simd", "cpu-ref"}; }

std::vector<std::string> cpu_isas() { return cpu::simd::supported_isas(); }

}  // namespace f8backend
