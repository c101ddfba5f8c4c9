// isa.cpp — runtime ISA selection for cpu/simd (CPUID via the compiler's
// __builtin_cpu_supports, which also checks that the OS saves the registers).
#include <string>
#include <vector>

#include "backend/cpu/simd/kernels.h"

namespace f8backend::cpu::simd {

static bool cpu_has(const std::string& isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (isa == "avx2")
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  if (isa == "avx512")
    return cpu_has("avx2") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
  return isa == "generic";
}

static const Kernels* table(const std::string& isa) {
#if defined(F8_HAVE_AVX512_KERNELS)
  if (isa == "avx512") return kernels_avx512();
#endif
#if defined(F8_HAVE_AVX2_KERNELS)
  if (isa == "avx2") return kernels_avx2();
#endif
  if (isa == "generic") return kernels_generic();
  return nullptr;
}

std::vector<std::string> supported_isas() {
  std::vector<std::string> out;
  for (const char* isa : {"avx512", "avx2", "generic"})
    if (cpu_has(isa) && table(isa)) out.push_back(isa);
  return out;
}

const Kernels* select_kernels(const std::string& isa) {
  if (isa == "auto" || isa.empty()) return table(supported_isas().front());
  return cpu_has(isa) ? table(isa) : nullptr;
}

}  // namespace f8backend::cpu::simd
