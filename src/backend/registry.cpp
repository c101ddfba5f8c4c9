// registry.cpp — backend names -> factories.
#include "backend/cpu/ref/ref_backend.h"
#include "backend/cpu/simd/kernels.h"
#include "backend/cpu/simd/simd_backend.h"
#if F8_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace f8backend {

Status create_backend(std::string_view name, const BackendParams& p, std::unique_ptr<Backend>* out) {
  if (name == "cpu-ref") {
    *out = cpu::make_ref_backend();
    return Status::Ok();
  }
  if (name == "cpu" || name == "cpu-simd") return cpu::make_simd_backend(p.isa, out);
  // cpu-simd with one kernel table (tests and comparisons): cpu-simd:avx2, ...
  if (name.substr(0, 9) == "cpu-simd:") return cpu::make_simd_backend(std::string(name.substr(9)), out);
  if (name == "cuda" || name.substr(0, 5) == "cuda:") {
#if F8_HAVE_CUDA
    return cuda::CudaBackend::create(name, out);
#else
    return Status::Error(Code::Unsupported,
                         "this build has no CUDA backend (rebuild where nvcc is installed, or with -DF8_CUDA=ON)");
#endif
  }
  std::string names;
  for (const std::string& n : backend_names()) names += (names.empty() ? "" : ", ") + n;
  return Status::Error(Code::InvalidArgument,
                       "unknown backend '" + std::string(name) + "' (this build has: " + names + ")");
}

std::vector<std::string> backend_names() {
#if F8_HAVE_CUDA
  return {"cpu", "cpu-simd", "cpu-simd:ISA", "cpu-ref", "cuda", "cuda:N"};
#else
  return {"cpu", "cpu-simd", "cpu-simd:ISA", "cpu-ref"};
#endif
}

std::vector<std::string> cpu_isas() { return cpu::simd::supported_isas(); }

}  // namespace f8backend
