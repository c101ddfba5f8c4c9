// test_avx512_emul.cpp — the avx512 tier's gemm (gemm_avx512.inc) compiled
// a second time against SIMDe's portable AVX-512 (libsimde-dev: 512-bit
// intrinsics carried out on AVX2 halves), so it runs on any AVX2 machine:
// checked against cpu-ref at test_backend_ops' tolerances, for batch
// invariance (every token's row bit-identical whatever T and the row
// split), and — where the CPU has AVX-512 — bit for bit against the real
// avx512 table (the same source, the same operations in the same order).
// The emulated build is in x86_tables_emul.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_common.h"
#include "backend/cpu/simd/kernels.h"
#include "backend_test_util.h"
#include "ggf8/fp8.h"

#include "x86_tables_emul.h"


namespace {
using namespace f8backend;
using namespace f8test;
namespace sd = f8backend::cpu::simd;
using namespace f8emul;

struct Case {
  DType dt;
  ScaleKind sk;
  int64_t n, k;
};
std::vector<Case> cases() {
  std::vector<Case> c;
  for (DType dt : {DType::E4M3, DType::E5M2, DType::BF16, DType::F16, DType::F32})
    for (ScaleKind sk : {ScaleKind::None, ScaleKind::Tensor, ScaleKind::Channel, ScaleKind::Block})
      for (auto [n, k] : {std::pair<int64_t, int64_t>{70, 576}, {37, 256}, {19, 100}, {16, 32}})
        c.push_back({dt, sk, n, k});
  return c;
}
std::string name(const Case& c, int T) {
  return std::string(ggf8::dtype_name(c.dt)) + "/" + ggf8::scale_kind_name(c.sk) + " N=" + std::to_string(c.n) +
         " K=" + std::to_string(c.k) + " T=" + std::to_string(T);
}

TEST(Avx512Emul, DecodersMatchAvx2ForEveryCode) {
  if (!have_avx2()) GTEST_SKIP() << "SIMDe's 512-bit emulation is built on AVX2 here";
  std::vector<uint8_t> b(256 * 2);
  for (int i = 0; i < 512; ++i) b[i] = uint8_t(i * 37 + (i >> 8));  // all 256 codes, two orders
  for (int o = 0; o < 512; o += 32) {
    EXPECT_TRUE(sd::avx512_emul::dec16_matches<sd::avx512_emul::DecE4M3Int>(b.data() + o)) << o;
    EXPECT_TRUE(sd::avx512_emul::dec16_matches<sd::avx512_emul::DecE4M3>(b.data() + o)) << o;
    EXPECT_TRUE(sd::avx512_emul::dec16_matches<sd::avx512_emul::DecE5M2>(b.data() + o)) << o;
  }
  for (int o = 0; o < 512; o += 64) {  // 32 BF16 / F16 values = 64 bytes
    EXPECT_TRUE(sd::avx512_emul::dec16_matches<sd::avx512_emul::DecBF16>(b.data() + o)) << o;
    EXPECT_TRUE(sd::avx512_emul::dec16_matches<sd::avx512_emul::DecF16>(b.data() + o)) << o;
  }
}

// Against cpu-ref: the tolerances test_backend_ops applies to every table.
TEST(Avx512Emul, GemmMatchesCpuRef) {
  if (!have_avx2()) GTEST_SKIP() << "SIMDe's 512-bit emulation is built on AVX2 here";
  uint32_t seed = 1;
  double worst = 0;
  for (const Case& c : cases()) {
    const auto tw = make_weight(c.n, c.k, c.dt, c.sk, seed++, 32, c.k % 64 == 0 ? 64 : 32);
    for (int T : {1, 2, 3, 5, 16, 17, 29}) {
      const auto x = randn(size_t(T) * c.k, 99 + T);
      const auto yr = run_ref(tw.w(), x.data(), T, {});
      const auto ye = run_emul(tw.w(), x.data(), T, {});
      double rms = 0;
      for (float v : yr) rms += double(v) * v;
      rms = std::sqrt(rms / yr.size());
      EXPECT_LT(nmse(ye, yr), 1e-9) << name(c, T);
      worst = std::max(worst, nmse(ye, yr));
      expect_close(ye, yr, static_cast<float>(1e-4 * rms + 1e-30), 1e-4f, name(c, T));
    }
  }
  std::printf("[ AVX-512 ] largest NMSE vs cpu-ref (emulated avx512 gemm): %.3g\n", worst);
}

// Batch invariance within the tier: a token's row is the same bits alone,
// in a decode batch (streaming kernel) or a prefill chunk (panel kernel),
// with a bias, and with the rows split between two calls anywhere.
TEST(Avx512Emul, BatchInvariantBitForBit) {
  if (!have_avx2()) GTEST_SKIP() << "SIMDe's 512-bit emulation is built on AVX2 here";
  uint32_t seed = 500;
  std::vector<float> bias_v(128);
  for (size_t i = 0; i < bias_v.size(); ++i) bias_v[i] = 0.01f * float(i) - 0.3f;
  const Bias bias{bias_v.data(), DType::F32};
  for (const Case& c : cases()) {
    const auto tw = make_weight(c.n, c.k, c.dt, c.sk, seed++, 32, 32);
    const int Tmax = 40;
    const auto x = randn(size_t(Tmax) * c.k, seed);
    std::vector<std::vector<float>> alone(Tmax);
    for (int t = 0; t < Tmax; ++t) alone[t] = run_emul(tw.w(), x.data() + int64_t(t) * c.k, 1, bias);
    for (int T : {2, 4, 5, 7, 16, 17, 25, 40})
      for (int64_t split : {int64_t{-1}, int64_t{3}, c.n / 2 + 1}) {
        const auto y = run_emul(tw.w(), x.data(), T, bias, split);
        for (int t = 0; t < T; ++t)
          ASSERT_EQ(0, std::memcmp(y.data() + int64_t(t) * c.n, alone[t].data(), sizeof(float) * c.n))
              << name(c, T) << " split=" << split << " token " << t;
      }
  }
}

// MXCSR.DAZ set (a host built with -ffast-math): E4M3 takes the F16C
// route, the same exact values, so the same bits.
TEST(Avx512Emul, E4M3DazRouteSameBits) {
  if (!have_avx2()) GTEST_SKIP() << "SIMDe's 512-bit emulation is built on AVX2 here";
  const auto tw = make_weight(40, 256, DType::E4M3, ScaleKind::Channel, 77);
  for (int T : {1, 3, 20}) {
    const auto x = randn(size_t(T) * 256, 5 + T);
    const auto a = run_emul(tw.w(), x.data(), T, {});
    const unsigned old = sd::avx512_emul::get_csr();
    sd::avx512_emul::set_csr(old | 0x0040u);
    const auto b = run_emul(tw.w(), x.data(), T, {});
    sd::avx512_emul::set_csr(old);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), sizeof(float) * a.size())) << "T=" << T;
  }
}

// Where the CPU has AVX-512: the real avx512 table gives the emulation's bits.
TEST(Avx512Emul, RealKernelSameBitsAsEmulation) {
  const sd::Kernels* real = sd::select_kernels("avx512");
  if (!real || !have_avx2()) GTEST_SKIP() << "no AVX-512 on this CPU (or not in this build): emulation only";
  uint32_t seed = 900;
  for (const Case& c : cases()) {
    const auto tw = make_weight(c.n, c.k, c.dt, c.sk, seed++, 32, 32);
    for (int T : {1, 2, 3, 5, 16, 17, 40}) {
      const auto x = randn(size_t(T) * c.k, seed + T);
      const auto ye = run_emul(tw.w(), x.data(), T, {});
      const auto yr = run_table(real->gemm_rows, real->lanes_x, tw.w(), x.data(), T, {});
      ASSERT_EQ(0, std::memcmp(ye.data(), yr.data(), sizeof(float) * ye.size())) << name(c, T);
    }
  }
}

}  // namespace
