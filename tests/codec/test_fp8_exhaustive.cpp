// tests/codec/test_fp8_exhaustive.cpp — ggf8/fp8.h encode against NVIDIA's
// host __nv_cvt_float_to_fp8 (cuda_fp8.h) for ALL 2^32 float bit patterns,
// both formats, both saturation modes; and decode of all 256 codes against
// NVIDIA's fp8 -> half -> float host conversion.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "ggf8/fp8.h"
#include "nv_fp8_ref.h"

namespace {

using nvref::Fmt;

constexpr size_t kChunk = size_t{1} << 16;               // inputs per work item
constexpr uint64_t kTotal = uint64_t{1} << 32;            // every float bit pattern

// Templated so each loop is a straight-line, vectorisable body.
template <bool E4M3, bool SAT>
void ours_loop(uint32_t first, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const float x = ggf8::detail::f32_from_bits(first + static_cast<uint32_t>(i));
    out[i] = E4M3 ? ggf8::e4m3_from_f32(x, SAT) : ggf8::e5m2_from_f32(x, SAT);
  }
}

void ours_range(Fmt fmt, bool sat, uint32_t first, size_t n, uint8_t* out) {
  if (fmt == Fmt::E4M3) sat ? ours_loop<true, true>(first, n, out) : ours_loop<true, false>(first, n, out);
  else sat ? ours_loop<false, true>(first, n, out) : ours_loop<false, false>(first, n, out);
}

struct Result {
  uint64_t mismatches = 0;
  uint64_t first_bits = kTotal;  // lowest mismatching input, kTotal = none
  uint8_t ours = 0, nv = 0;
};

// Splits [0, 2^32) into chunks handed out through an atomic counter to
// hardware_concurrency threads; each compares its chunk and keeps its lowest
// mismatch; the merge keeps the global lowest.
Result compare_all(Fmt fmt, bool sat) {
  const unsigned nthreads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<uint64_t> next{0};
  std::vector<Result> per(nthreads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < nthreads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<uint8_t> a(kChunk), b(kChunk);
      Result& r = per[t];
      for (;;) {
        const uint64_t start = next.fetch_add(kChunk);
        if (start >= kTotal) break;
        const auto first = static_cast<uint32_t>(start);
        ours_range(fmt, sat, first, kChunk, a.data());
        nvref::encode_range(fmt, sat, first, kChunk, b.data());
        if (std::memcmp(a.data(), b.data(), kChunk) == 0) continue;
        for (size_t i = 0; i < kChunk; ++i) {
          if (a[i] == b[i]) continue;
          ++r.mismatches;
          if (start + i < r.first_bits) {
            r.first_bits = start + i;
            r.ours = a[i];
            r.nv = b[i];
          }
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  Result total;
  for (const Result& r : per) {
    total.mismatches += r.mismatches;
    if (r.first_bits < total.first_bits) {
      total.first_bits = r.first_bits;
      total.ours = r.ours;
      total.nv = r.nv;
    }
  }
  return total;
}

void check_all(Fmt fmt, bool sat, const char* what) {
  ASSERT_TRUE(nvref::is_host_fallback());
  const auto t0 = std::chrono::steady_clock::now();
  const Result r = compare_all(fmt, sat);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ exhaustive ] %s: 2^32 inputs in %.1f s, %llu mismatches\n", what, s,
              static_cast<unsigned long long>(r.mismatches));
  if (r.mismatches != 0) {
    const auto bits = static_cast<uint32_t>(r.first_bits);
    FAIL() << what << ": " << r.mismatches << " mismatches; first at input bits 0x" << std::hex
           << bits << " (" << std::hexfloat << ggf8::detail::f32_from_bits(bits)
           << "): ggf8 0x" << unsigned(r.ours) << ", NVIDIA 0x" << unsigned(r.nv);
  }
}

TEST(Fp8Exhaustive, E4M3SatfiniteMatchesCudaFp8) { check_all(Fmt::E4M3, true, "E4M3 satfinite"); }
TEST(Fp8Exhaustive, E4M3NoSatMatchesCudaFp8) { check_all(Fmt::E4M3, false, "E4M3 nosat"); }
TEST(Fp8Exhaustive, E5M2SatfiniteMatchesCudaFp8) { check_all(Fmt::E5M2, true, "E5M2 satfinite"); }
TEST(Fp8Exhaustive, E5M2NoSatMatchesCudaFp8) { check_all(Fmt::E5M2, false, "E5M2 nosat"); }

// The peer's documented corner cases, spelled out so a regression names them.
TEST(Fp8Exhaustive, NvidiaCornerCases) {
  uint8_t nv = 0;
  auto nv1 = [&](Fmt f, bool sat, float x) {
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    nvref::encode_range(f, sat, u, 1, &nv);
    return nv;
  };
  const float inf = INFINITY;
  // NaN of either sign -> 0x7F in both formats (sign dropped).
  EXPECT_EQ(nv1(Fmt::E4M3, true, -NAN), 0x7F);
  EXPECT_EQ(nv1(Fmt::E5M2, true, -NAN), 0x7F);
  EXPECT_EQ(ggf8::e4m3_from_f32(-NAN), 0x7F);
  EXPECT_EQ(ggf8::e5m2_from_f32(-NAN), 0x7F);
  // E4M3 nosat overflow keeps the sign: -inf -> 0xFF (a NaN code).
  EXPECT_EQ(nv1(Fmt::E4M3, false, -inf), 0xFF);
  EXPECT_EQ(ggf8::e4m3_from_f32(-inf, false), 0xFF);
  EXPECT_EQ(nv1(Fmt::E4M3, true, -inf), 0xFE);
  EXPECT_EQ(ggf8::e4m3_from_f32(-inf, true), 0xFE);
  // 464 is the tie between 448 and (non-existent) 480: stays 448; above -> overflow.
  EXPECT_EQ(nv1(Fmt::E4M3, false, 464.0f), 0x7E);
  EXPECT_EQ(nv1(Fmt::E4M3, false, std::nextafter(464.0f, 1e9f)), 0x7F);
  // E5M2: 61440 is the tie between 57344 and 65536: rounds to even = overflow.
  EXPECT_EQ(nv1(Fmt::E5M2, false, 61440.0f), 0x7C);
  EXPECT_EQ(nv1(Fmt::E5M2, true, 61440.0f), 0x7B);
  EXPECT_EQ(nv1(Fmt::E5M2, false, std::nextafter(61440.0f, 0.0f)), 0x7B);
  EXPECT_EQ(ggf8::e5m2_from_f32(61440.0f, false), 0x7C);
}

TEST(Fp8Exhaustive, DecodeAll256MatchesCudaFp8) {
  ASSERT_TRUE(nvref::is_host_fallback());
  for (unsigned c = 0; c < 256; ++c) {
    const auto b = static_cast<uint8_t>(c);
    for (Fmt f : {Fmt::E4M3, Fmt::E5M2}) {
      const float ours = f == Fmt::E4M3 ? ggf8::e4m3_to_f32(b) : ggf8::e5m2_to_f32(b);
      const float nv = nvref::decode(f, b);
      if (std::isnan(nv)) {
        EXPECT_TRUE(std::isnan(ours)) << "code 0x" << std::hex << c;
      } else {
        uint32_t ou, nu;
        std::memcpy(&ou, &ours, 4);
        std::memcpy(&nu, &nv, 4);
        EXPECT_EQ(ou, nu) << (f == Fmt::E4M3 ? "E4M3" : "E5M2") << " code 0x" << std::hex << c
                          << ": ggf8 " << ours << ", NVIDIA " << nv;
      }
    }
  }
}

}  // namespace
