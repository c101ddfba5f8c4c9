// tests/codec/test_fp8_bulk.cpp — the bulk converters (ggf8/fp8_bulk.h) equal
// the scalar codec (ggf8/fp8.h) bit for bit: every code for the decoders,
// random + edge inputs for the encoders, on both the dispatched (AVX2 where
// available) and the portable path, with lengths that exercise every tail.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ggf8/fp8.h"
#include "ggf8/fp8_bulk.h"

namespace {

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// Floats equal bit for bit, or both NaN (x86 may pick either NaN operand's
// payload in arithmetic on two NaNs; none of our paths do that, but be exact
// only where exactness is the contract).
::testing::AssertionResult same_float(float a, float b) {
  if (bits(a) == bits(b)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << std::hexfloat << a << " (0x" << std::hex << bits(a)
                                       << ") vs " << b << " (0x" << bits(b) << ")";
}

// All 256 codes, repeated and shuffled so vector bodies and tails both see them.
std::vector<uint8_t> all_codes(size_t n) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(7);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i < 256 ? i : rng());
  return v;
}

class Fp8Bulk : public ::testing::TestWithParam<bool> {  // param: force portable
 protected:
  void SetUp() override { ggf8::fp8_bulk_force_portable(GetParam()); }
  void TearDown() override { ggf8::fp8_bulk_force_portable(false); }
};

const size_t kLengths[] = {0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 255, 256, 257, 1000};

TEST_P(Fp8Bulk, DecodeToF32EqualsScalarForAllCodes) {
  for (size_t n : kLengths) {
    const auto src = all_codes(n + 256);  // n + 256 so every code appears
    std::vector<float> d4(src.size() + 1, -1.0f), d5(src.size() + 1, -1.0f);
    ggf8::e4m3_to_f32(src.data(), d4.data(), src.size());
    ggf8::e5m2_to_f32(src.data(), d5.data(), src.size());
    for (size_t i = 0; i < src.size(); ++i) {
      ASSERT_TRUE(same_float(d4[i], ggf8::e4m3_to_f32(src[i]))) << "E4M3 code " << int(src[i]);
      ASSERT_TRUE(same_float(d5[i], ggf8::e5m2_to_f32(src[i]))) << "E5M2 code " << int(src[i]);
    }
    EXPECT_EQ(d4.back(), -1.0f) << "wrote past n";
    EXPECT_EQ(d5.back(), -1.0f) << "wrote past n";
  }
}

TEST_P(Fp8Bulk, ScaledDecodeEqualsScalarTimesScale) {
  const auto src = all_codes(256 + 45);
  std::vector<float> d(src.size());
  // Includes scales whose 2^120 multiple overflows (>= 256), denormal and
  // negative scales, and 0.
  for (float s : {1.0f, 0.5f, -3.0f, 1.0f / 448, 0.0123f, 255.9f, 256.0f, 1e6f, 1e-40f, 0.0f,
                  -0.0f, 3.4e38f}) {
    ggf8::e4m3_to_f32_scaled(src.data(), d.data(), src.size(), s);
    for (size_t i = 0; i < src.size(); ++i)
      ASSERT_TRUE(same_float(d[i], ggf8::e4m3_to_f32(src[i]) * s)) << "E4M3 code " << int(src[i]) << " scale " << s;
    ggf8::e5m2_to_f32_scaled(src.data(), d.data(), src.size(), s);
    for (size_t i = 0; i < src.size(); ++i)
      ASSERT_TRUE(same_float(d[i], ggf8::e5m2_to_f32(src[i]) * s)) << "E5M2 code " << int(src[i]) << " scale " << s;
  }
}

TEST_P(Fp8Bulk, BitTrickDecodersEqualScalar) {
  for (size_t n : kLengths) {
    const auto src = all_codes(n + 256);
    std::vector<uint16_t> h(src.size()), b(src.size()), e(src.size());
    ggf8::e4m3_to_f16_trick(src.data(), h.data(), src.size());
    ggf8::e4m3_to_bf16_trick(src.data(), b.data(), src.size());
    ggf8::e5m2_to_f16(src.data(), e.data(), src.size());
    for (size_t i = 0; i < src.size(); ++i) {
      ASSERT_EQ(h[i], ggf8::e4m3_to_f16_trick(src[i])) << int(src[i]);
      ASSERT_EQ(b[i], ggf8::e4m3_to_bf16_trick(src[i])) << int(src[i]);
      ASSERT_EQ(e[i], ggf8::e5m2_to_f16(src[i])) << int(src[i]);
    }
  }
}

TEST_P(Fp8Bulk, TablesEqualScalar) {
  for (unsigned c = 0; c < 256; ++c) {
    EXPECT_TRUE(same_float(ggf8::e4m3_f32_table()[c], ggf8::e4m3_to_f32(uint8_t(c))));
    EXPECT_TRUE(same_float(ggf8::e5m2_f32_table()[c], ggf8::e5m2_to_f32(uint8_t(c))));
  }
  const auto src = all_codes(300);
  std::vector<float> a(300), b(300);
  ggf8::e4m3_to_f32_table(src.data(), a.data(), 300);
  ggf8::e4m3_to_f32(src.data(), b.data(), 300);
  for (size_t i = 0; i < 300; ++i) ASSERT_TRUE(same_float(a[i], b[i]));
  ggf8::e5m2_to_f32_table(src.data(), a.data(), 300);
  ggf8::e5m2_to_f32(src.data(), b.data(), 300);
  for (size_t i = 0; i < 300; ++i) ASSERT_TRUE(same_float(a[i], b[i]));
}

// Edge inputs for the encoders: every code's value and its neighbours and
// midpoints (both formats), the overflow thresholds, specials, denormals.
std::vector<float> edge_inputs() {
  std::vector<float> v;
  auto add = [&](float x) {
    for (float y : {x, -x, std::nextafter(x, 0.0f), std::nextafter(x, INFINITY), -std::nextafter(x, INFINITY)})
      v.push_back(y);
  };
  for (unsigned c = 0; c < 128; ++c) {
    for (float x : {ggf8::e4m3_to_f32(uint8_t(c)), ggf8::e5m2_to_f32(uint8_t(c))}) {
      if (std::isnan(x)) continue;
      add(x);
      add(x * 1.0625f);
      add(x * 1.125f);
      add(x * 1.25f);
    }
  }
  for (float x : {0.0f, 464.0f, 448.0f, 480.0f, 61440.0f, 57344.0f, 65536.0f, 1e30f,
                  std::numeric_limits<float>::infinity(), std::numeric_limits<float>::max(),
                  std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(),
                  std::ldexp(1.0f, -10), std::ldexp(1.0f, -17)})
    add(x);
  v.push_back(std::numeric_limits<float>::quiet_NaN());
  v.push_back(-std::numeric_limits<float>::quiet_NaN());
  v.push_back(std::numeric_limits<float>::signaling_NaN());
  uint32_t payload_nan = 0xFF812345u;
  float f;
  std::memcpy(&f, &payload_nan, 4);
  v.push_back(f);
  return v;
}

std::vector<float> random_inputs(size_t n) {
  std::mt19937 rng(12345);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    if (i % 2) {  // arbitrary bit patterns: every exponent, NaNs included
      const uint32_t u = rng();
      std::memcpy(&v[i], &u, 4);
    } else {      // realistic magnitudes around the FP8 ranges
      v[i] = std::ldexp(std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng),
                        std::uniform_int_distribution<int>(-20, 17)(rng));
    }
  }
  return v;
}

TEST_P(Fp8Bulk, EncodeEqualsScalar) {
  std::vector<float> in = edge_inputs();
  const auto rnd = random_inputs(200003);
  in.insert(in.end(), rnd.begin(), rnd.end());
  std::vector<uint8_t> out(in.size() + 1, 0xAA);
  for (float inv : {1.0f, 448.0f / 3.0f, 1.0f / 64, -2.0f}) {
    for (bool sat : {true, false}) {
      // Several lengths so the vector body and the scalar tail both run.
      for (size_t n : {in.size(), in.size() - 1, size_t{31}, size_t{5}}) {
        ggf8::f32_to_e4m3(in.data(), out.data(), n, inv, sat);
        for (size_t i = 0; i < n; ++i)
          ASSERT_EQ(out[i], ggf8::e4m3_from_f32(in[i] * inv, sat))
              << "E4M3 input 0x" << std::hex << bits(in[i]) << " inv_scale " << inv << " sat " << sat;
        ASSERT_EQ(out[in.size()], 0xAA) << "wrote past n";
        ggf8::f32_to_e5m2(in.data(), out.data(), n, inv, sat);
        for (size_t i = 0; i < n; ++i)
          ASSERT_EQ(out[i], ggf8::e5m2_from_f32(in[i] * inv, sat))
              << "E5M2 input 0x" << std::hex << bits(in[i]) << " inv_scale " << inv << " sat " << sat;
      }
    }
  }
}

TEST_P(Fp8Bulk, DivEncodeEqualsScalarDivision) {
  std::vector<float> in = edge_inputs();
  const auto rnd = random_inputs(200003);
  in.insert(in.end(), rnd.begin(), rnd.end());
  std::vector<uint8_t> out(in.size() + 1, 0xAA);
  // Scales whose reciprocal is inexact (the case that matters), exact, negative,
  // FLT_MIN (the converter's floor) and tiny/huge.
  for (float s : {1.0f, 3.0f / 448.0f, 0.0123456f, 64.0f, -0.5f, 1.17549435e-38f, 3e-30f, 7e20f}) {
    for (bool sat : {true, false}) {
      for (size_t n : {in.size(), in.size() - 1, size_t{31}, size_t{5}}) {
        ggf8::f32_to_e4m3_div(in.data(), out.data(), n, s, sat);
        for (size_t i = 0; i < n; ++i)
          ASSERT_EQ(out[i], ggf8::e4m3_from_f32(in[i] / s, sat))
              << "E4M3 input 0x" << std::hex << bits(in[i]) << " scale " << s << " sat " << sat;
        ASSERT_EQ(out[in.size()], 0xAA) << "wrote past n";
        ggf8::f32_to_e5m2_div(in.data(), out.data(), n, s, sat);
        for (size_t i = 0; i < n; ++i)
          ASSERT_EQ(out[i], ggf8::e5m2_from_f32(in[i] / s, sat))
              << "E5M2 input 0x" << std::hex << bits(in[i]) << " scale " << s << " sat " << sat;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, Fp8Bulk, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return std::string(p.param ? "Portable" : "Dispatched");
                         });

TEST(Fp8BulkIsa, ReportsPath) {
  const std::string isa = ggf8::fp8_bulk_isa();
  EXPECT_TRUE(isa == "avx2" || isa == "portable") << isa;
  ggf8::fp8_bulk_force_portable(true);
  EXPECT_STREQ(ggf8::fp8_bulk_isa(), "portable");
  ggf8::fp8_bulk_force_portable(false);
  std::printf("[ isa ] fp8 bulk path on this CPU: %s\n", ggf8::fp8_bulk_isa());
}

}  // namespace
