// test_amx_emul.cpp — the avx512-amx tier's prefill gemm (amx_gemm.inc)
// replayed on any AVX2 machine: the same kernel source instantiated with
// an emulated tile register file (x86_tables_emul.h's EmuTiles, TDPBF16PS
// per Intel's pseudocode in amx_math.h), so the tile packing, the x split,
// the tile configuration for token tails, the strides and the k-order all
// run here. Checked against cpu-ref at test_backend_ops' tolerances, for
// invariance among prefill-sized calls, and — on a CPU with AMX — against
// the real tiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/simd/amx_math.h"
#include "backend/cpu/simd/kernels.h"
#include "backend_test_util.h"
#include "ggf8/fp8.h"
#include "x86_tables_emul.h"

namespace {
using namespace f8backend;
using namespace f8test;
using namespace f8emul;
namespace sd = f8backend::cpu::simd;
namespace amx = f8backend::cpu::simd::amx;
namespace emu = f8backend::cpu::simd::avx512_emul;

std::vector<float> run_amx_emul(const Weight& w, const float* x, int T, Bias bias, int64_t split = -1) {
  emu::EmuTiles::misuse = 0;
  auto y = run_table(emu::emu_amx_gemm_rows, emu::amx_lanes_x, w, x, T, bias, split);
  EXPECT_EQ(emu::EmuTiles::misuse, 0) << "tile used unconfigured or with mismatched shapes";
  return y;
}

TEST(AmxMath, PanelIndexCoversTilesOnce) {
  const int64_t K = 96;
  std::set<int64_t> seen;
  for (int n = 0; n < amx::kPanelN; ++n)
    for (int64_t k = 0; k < K; ++k) {
      const int64_t i = amx::b_index(n, k);
      ASSERT_TRUE(seen.insert(i).second) << n << "," << k;
      ASSERT_LT(i, amx::kPanelN * K);
      // In B tile (k / 32, n / 16), tile row (k % 32) / 2 (a k pair), element 2 (n % 16) + k % 2.
      const int64_t in_tile = i - amx::b_tile_offset(k / 32, n / 16);
      ASSERT_EQ(in_tile, ((k % 32) / 2) * 32 + (n % 16) * 2 + k % 2);
    }
}

TEST(AmxMath, Tdpbf16psSemantics) {
  auto bf = [](float f) { return amx::bf16_rne(f); };
  // Products exact, one rounding per accumulation, pairs in order 2p, 2p+1.
  EXPECT_EQ(amx::dp_pair_step(1.0f, bf(0x1p-24f), bf(1.0f), bf(0x1p-24f), bf(1.0f)), 1.0f);  // two ties to even
  EXPECT_EQ(amx::dp_pair_step(0.0f, bf(3.0f), bf(5.0f), bf(-1.0f), bf(2.0f)), 13.0f);
  // Denormal BF16 inputs read as zero; denormal results flushed.
  const uint16_t den = 0x0001;  // smallest positive BF16 denormal
  EXPECT_EQ(amx::dp_pair_step(0.0f, den, bf(0x1p100f), 0, 0), 0.0f);
  EXPECT_EQ(amx::dp_pair_step(0.0f, bf(0x1p-100f), bf(0x1p-30f), 0, 0), 0.0f);  // 2^-130: flushed
  EXPECT_EQ(amx::dp_pair_step(0.0f, bf(0x1p-100f), bf(0x1p-20f), 0, 0), 0x1p-120f);
}

TEST(AmxMath, SplitIsExactToSixteenBits) {
  std::vector<float> xs = randn(4096, 3);
  for (float& v : xs) v *= 37.0f;
  for (int i = 0; i < 4096; ++i) {
    const float x = xs[i];
    uint16_t hi, lo;
    amx::bf16_split(x, &hi, &lo);
    const double back = double(amx::bf16_to_f32(hi)) + double(amx::bf16_to_f32(lo));
    ASSERT_LE(std::fabs(back - double(x)), std::ldexp(std::fabs(double(x)), -16)) << x;
  }
}

// The vector split (amx_lanes_x) against amx::bf16_split, specials included.
TEST(AmxEmul, LanesXSplitMatchesScalar) {
  if (!have_avx2()) GTEST_SKIP() << "needs AVX2";
  std::vector<float> x = randn(1024 + 7, 11);
  const float specials[] = {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::max(),
                            -std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                            1e-40f, 1.0f + 0x1p-8f, 1.0f + 0x1p-7f + 0x1p-8f, 0x1.00FFFFp0f, 3.0e38f, 65504.0f};
  for (size_t i = 0; i < sizeof specials / sizeof specials[0]; ++i) x[3 * i] = specials[i];
  const int64_t K = int64_t(x.size());
  std::vector<float> out(K);
  emu::amx_lanes_x(x.data(), K, out.data());
  const uint16_t* o = reinterpret_cast<const uint16_t*>(out.data());
  for (int64_t k = 0; k < K; ++k) {
    uint16_t hi, lo;
    amx::bf16_split(x[k], &hi, &lo);
    ASSERT_EQ(o[amx::x_hi_index(k)], hi) << "k=" << k << " x=" << x[k];
    ASSERT_EQ(o[amx::x_lo_index(K, k)], lo) << "k=" << k << " x=" << x[k];
  }
}

// The vector tile packer against amx::b_index with exact BF16 values.
TEST(AmxEmul, PanelPackingMatchesIndexMath) {
  if (!have_avx2()) GTEST_SKIP() << "needs AVX2";
  for (DType dt : {DType::E4M3, DType::E5M2, DType::BF16})
    for (int nr : {32, 20, 7}) {
      const int64_t K = 96;
      const auto tw = make_weight(40, K, dt, ScaleKind::None, 7 + nr);
      std::vector<uint16_t> panel(amx::kPanelN * K, 0xDEAD);
      switch (dt) {
        case DType::E4M3: emu::amx_pack_panel<emu::DecE4M3>(tw.w(), 3, nr, panel.data()); break;
        case DType::E5M2: emu::amx_pack_panel<emu::DecE5M2>(tw.w(), 3, nr, panel.data()); break;
        default: emu::amx_pack_panel<emu::DecBF16>(tw.w(), 3, nr, panel.data()); break;
      }
      std::vector<float> row(K);
      for (int n = 0; n < amx::kPanelN; ++n) {
        if (n < nr) emu::p_decode_row(f8backend::cpu::weight_row(tw.w(), 3 + n), dt, K, 1.0f, row.data());
        for (int64_t k = 0; k < K; ++k) {
          const float want = n < nr ? row[k] : 0.0f;
          ASSERT_EQ(amx::bf16_to_f32(panel[amx::b_index(n, k)]), want)
              << ggf8::dtype_name(dt) << " nr=" << nr << " n=" << n << " k=" << k;
        }
      }
    }
}

struct Case {
  DType dt;
  ScaleKind sk;
  int64_t n, k;
};
std::string name(const Case& c, int T) {
  return std::string(ggf8::dtype_name(c.dt)) + "/" + ggf8::scale_kind_name(c.sk) + " N=" + std::to_string(c.n) +
         " K=" + std::to_string(c.k) + " T=" + std::to_string(T);
}
std::vector<Case> cases() {
  std::vector<Case> c;
  for (DType dt : {DType::E4M3, DType::E5M2, DType::BF16})
    for (ScaleKind sk : {ScaleKind::None, ScaleKind::Tensor, ScaleKind::Channel})
      for (auto [n, k] : {std::pair<int64_t, int64_t>{70, 576}, {33, 256}, {32, 64}}) c.push_back({dt, sk, n, k});
  // Not AMX-eligible (block scales, F16/F32, K % 32 != 0): the avx512 fallback with x as given.
  c.push_back({DType::E4M3, ScaleKind::Block, 40, 256});
  c.push_back({DType::F16, ScaleKind::Channel, 40, 256});
  c.push_back({DType::F32, ScaleKind::None, 24, 128});
  c.push_back({DType::E4M3, ScaleKind::Channel, 24, 100});
  return c;
}

TEST(AmxEmul, GemmMatchesCpuRef) {
  if (!have_avx2()) GTEST_SKIP() << "needs AVX2";
  uint32_t seed = 300;
  std::vector<float> bias_v(128);
  for (size_t i = 0; i < bias_v.size(); ++i) bias_v[i] = 0.02f * float(i) - 1.0f;
  double worst = 0;  // the largest NMSE vs cpu-ref on the AMX path (reported)
  for (const Case& c : cases()) {
    const auto tw = make_weight(c.n, c.k, c.dt, c.sk, seed++, 32, 64);
    for (int T : {1, 16, 17, 31, 32, 45}) {
      const auto x = randn(size_t(T) * c.k, 40 + T);
      for (bool with_bias : {false, true}) {
        const Bias b = with_bias ? Bias{bias_v.data(), DType::F32} : Bias{};
        const auto yr = run_ref(tw.w(), x.data(), T, b);
        const int configs0 = emu::EmuTiles::configs;
        const auto ye = run_amx_emul(tw.w(), x.data(), T, b);
        const bool amx_path = T >= amx::kMinT && c.k % 32 == 0 && c.sk != ScaleKind::Block &&
                              (c.dt == DType::E4M3 || c.dt == DType::E5M2 || c.dt == DType::BF16);
        EXPECT_EQ(emu::EmuTiles::configs > configs0, amx_path) << "which kernel ran: " << name(c, T);
        double rms = 0;
        for (float v : yr) rms += double(v) * v;
        rms = std::sqrt(rms / yr.size());
        EXPECT_LT(nmse(ye, yr), 1e-9) << name(c, T);
        if (amx_path) worst = std::max(worst, nmse(ye, yr));
        expect_close(ye, yr, static_cast<float>(1e-4 * rms + 1e-30), 1e-4f, name(c, T));
      }
    }
  }
  std::printf("[ AMX ] largest NMSE vs cpu-ref on the AMX path (x as hi + lo BF16): %.3g\n", worst);
}

// Among prefill-sized calls (T >= 17, the AMX path) a token's row is the
// same bits whatever T, its place in a 16-token tile (tails included) and
// the row split. (Decode, T <= 16, runs the avx512 kernels: different
// bits, which is why --deterministic runs the avx512 table.)
TEST(AmxEmul, PrefillCallsInvariantBitForBit) {
  if (!have_avx2()) GTEST_SKIP() << "needs AVX2";
  const auto tw = make_weight(50, 256, DType::E4M3, ScaleKind::Channel, 5);
  const int Tmax = 50;
  const auto x = randn(size_t(Tmax) * 256, 6);
  const auto full = run_amx_emul(tw.w(), x.data(), Tmax, {});
  for (int T : {17, 18, 33, 49})
    for (int off : {0, 1, 17}) {
      if (off + T > Tmax) continue;
      for (int64_t split : {int64_t{-1}, int64_t{5}, int64_t{33}}) {
        const auto y = run_amx_emul(tw.w(), x.data() + int64_t(off) * 256, T, {}, split);
        ASSERT_EQ(0, std::memcmp(y.data(), full.data() + int64_t(off) * 50, sizeof(float) * y.size()))
            << "T=" << T << " off=" << off << " split=" << split;
      }
    }
}

// On a CPU with AMX (and the tile permission): the real tiles against the
// emulation. Intel documents TDPBF16PS by the pseudocode amx_math.h
// follows; whether the hardware rounds each pair step as written is not
// something this project has measured, so this asserts the cpu-ref
// tolerances against the emulation and reports how many outputs match
// bit for bit.
TEST(AmxEmul, RealTilesAgreeWithEmulation) {
  const sd::Kernels* real = sd::select_kernels("avx512-amx");
  if (!real) GTEST_SKIP() << "no AMX here (CPUID, XCR0, tile permission or build): emulation only";
  uint32_t seed = 700;
  size_t same = 0, total = 0;
  for (const Case& c : cases()) {
    const auto tw = make_weight(c.n, c.k, c.dt, c.sk, seed++, 32, 64);
    for (int T : {17, 32, 45}) {
      const auto x = randn(size_t(T) * c.k, 80 + T);
      const auto ye = run_amx_emul(tw.w(), x.data(), T, {});
      const auto yr = run_table(real->gemm_rows, real->lanes_x, tw.w(), x.data(), T, {});
      double rms = 0;
      for (float v : ye) rms += double(v) * v;
      rms = std::sqrt(rms / ye.size());
      expect_close(yr, ye, static_cast<float>(1e-5 * rms + 1e-30), 1e-5f, name(c, T));
      for (size_t i = 0; i < ye.size(); ++i) same += std::memcmp(&ye[i], &yr[i], 4) == 0;
      total += ye.size();
    }
  }
  std::printf("[ AMX ] real tiles vs emulation: %zu of %zu outputs bit-identical\n", same, total);
  RecordProperty("amx_bit_identical", std::to_string(same) + "/" + std::to_string(total));
}

}  // namespace
