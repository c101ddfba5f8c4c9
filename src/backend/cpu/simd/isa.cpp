// isa.cpp — runtime tier selection for cpu/simd (CPUID via the compiler's
// __builtin_cpu_supports, which also checks that the OS saves the vector
// registers; AMX additionally needs XCR0's tile bits and Linux's per-process
// tile permission). Tiers, best first: avx512-amx, avx512, avx2, generic.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#if defined(__linux__) && defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "backend/cpu/simd/kernels.h"

namespace f8backend::cpu::simd {

static const char* const kTiers[] = {"avx512-amx", "avx512", "avx2", "generic"};

bool amx_permitted() {
#if defined(__linux__) && defined(__x86_64__)
  static const bool ok = [] {
    // CPUID.(7,0):EDX bit 24 AMX-TILE, bit 22 AMX-BF16 (read directly:
    // Clang 14's __builtin_cpu_supports has no AMX names).
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 22))) return false;
    // XCR0 bits 17 (XTILECFG) and 18 (XTILEDATA): the OS manages tile state.
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return false;
    // Linux >= 5.16 hands out the 8 KiB tile state only on request:
    // ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18). Refused (an
    // older kernel, a hypervisor or seccomp): the avx512 tier runs.
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
  }();
  return ok;
#else
  return false;
#endif
}

static bool cpu_has(const std::string& isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (isa == "avx2")
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  if (isa == "avx512")
    return cpu_has("avx2") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (isa == "avx512-amx") return cpu_has("avx512") && amx_permitted();
#endif
  return isa == "generic";
}

static const Kernels* table(const std::string& isa) {
#if defined(F8_HAVE_AMX_KERNELS)
  if (isa == "avx512-amx") return kernels_avx512_amx();
#endif
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
  for (const char* isa : kTiers)
    if (table(isa) && cpu_has(isa)) out.push_back(isa);
  return out;
}

const Kernels* select_kernels(const std::string& isa) {
  if (isa == "auto" || isa.empty()) {
    // F8_CPU_ISA caps "auto" at a tier (tests, comparisons): the best
    // supported one at or below it.
    const char* e = std::getenv("F8_CPU_ISA");
    const std::string cap = e && *e ? e : "auto";
    if (cap == "auto") return table(supported_isas().front());
    bool below = false;
    for (const char* t : kTiers) {
      below = below || cap == t;
      if (below && table(t) && cpu_has(t)) return table(t);
    }
    return nullptr;  // not a tier name
  }
  return cpu_has(isa) ? table(isa) : nullptr;
}

}  // namespace f8backend::cpu::simd
