// tests/codec/test_fp8_codes.cpp — the scalar codec (ggf8/fp8.h) against the
// OCP FP8 definitions, computed here from first principles: all 256 codes of
// both formats, round trips, and round-to-nearest-even at every midpoint.
// Cheap; also part of the sanitizer build.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "ggf8/fp8.h"

namespace {

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// Reference value of a code: sign, exponent field E, mantissa field M,
// with `mbits` mantissa bits and exponent bias `bias`.
double ref_value(unsigned code, int ebits, int mbits, int bias) {
  const unsigned s = code >> 7, e = (code >> mbits) & ((1u << ebits) - 1), m = code & ((1u << mbits) - 1);
  const double mag = e == 0 ? std::ldexp(double(m), 1 - bias - mbits)
                            : std::ldexp(1.0 + double(m) / (1 << mbits), int(e) - bias);
  return s ? -mag : mag;
}

bool e4m3_is_nan(unsigned c) { return (c & 0x7F) == 0x7F; }
bool e5m2_is_nan(unsigned c) { return (c & 0x7F) > 0x7C; }
bool e5m2_is_inf(unsigned c) { return (c & 0x7F) == 0x7C; }

TEST(Fp8Codes, E4M3AllCodesDecode) {
  for (unsigned c = 0; c < 256; ++c) {
    const float v = ggf8::e4m3_to_f32(static_cast<uint8_t>(c));
    if (e4m3_is_nan(c)) {
      EXPECT_EQ(bits(v), ggf8::kCanonicalNaNBits) << "code 0x" << std::hex << c;
      continue;
    }
    EXPECT_EQ(double(v), ref_value(c, 4, 3, 7)) << "code 0x" << std::hex << c;
    EXPECT_EQ(std::signbit(v), c >= 0x80) << "code 0x" << std::hex << c;
  }
}

TEST(Fp8Codes, E5M2AllCodesDecode) {
  for (unsigned c = 0; c < 256; ++c) {
    const float v = ggf8::e5m2_to_f32(static_cast<uint8_t>(c));
    if (e5m2_is_nan(c)) {
      EXPECT_EQ(bits(v), ggf8::kCanonicalNaNBits) << "code 0x" << std::hex << c;
    } else if (e5m2_is_inf(c)) {
      EXPECT_TRUE(std::isinf(v));
      EXPECT_EQ(std::signbit(v), c >= 0x80);
    } else {
      EXPECT_EQ(double(v), ref_value(c, 5, 2, 15)) << "code 0x" << std::hex << c;
      EXPECT_EQ(std::signbit(v), c >= 0x80) << "code 0x" << std::hex << c;
    }
  }
}

TEST(Fp8Codes, NamedValues) {
  EXPECT_EQ(ggf8::e4m3_to_f32(0x7E), 448.0f);
  EXPECT_EQ(ggf8::e4m3_to_f32(0xFE), -448.0f);
  EXPECT_EQ(ggf8::e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(ggf8::e4m3_to_f32(0x08), std::ldexp(1.0f, -6));
  EXPECT_EQ(ggf8::e4m3_to_f32(0x38), 1.0f);
  EXPECT_TRUE(std::isnan(ggf8::e4m3_to_f32(0x7F)));
  EXPECT_TRUE(std::isnan(ggf8::e4m3_to_f32(0xFF)));
  EXPECT_EQ(bits(ggf8::e4m3_to_f32(0x80)), 0x80000000u);  // -0
  EXPECT_EQ(ggf8::e5m2_to_f32(0x7B), 57344.0f);
  EXPECT_EQ(ggf8::e5m2_to_f32(0xFB), -57344.0f);
  EXPECT_EQ(ggf8::e5m2_to_f32(0x7C), std::numeric_limits<float>::infinity());
  EXPECT_EQ(ggf8::e5m2_to_f32(0xFC), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(ggf8::e5m2_to_f32(0x01), std::ldexp(1.0f, -16));
  EXPECT_EQ(ggf8::e5m2_to_f32(0x04), std::ldexp(1.0f, -14));
  EXPECT_EQ(ggf8::e5m2_to_f32(0x3C), 1.0f);
  for (uint8_t c : {0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF}) EXPECT_TRUE(std::isnan(ggf8::e5m2_to_f32(c)));
  EXPECT_EQ(ggf8::kE4M3Max, ggf8::e4m3_to_f32(0x7E));
  EXPECT_EQ(ggf8::kE5M2Max, ggf8::e5m2_to_f32(0x7B));
  EXPECT_EQ(ggf8::kE4M3MinSubnormal, ggf8::e4m3_to_f32(0x01));
  EXPECT_EQ(ggf8::kE5M2MinSubnormal, ggf8::e5m2_to_f32(0x01));
  EXPECT_EQ(ggf8::kE4M3MinNormal, ggf8::e4m3_to_f32(0x08));
  EXPECT_EQ(ggf8::kE5M2MinNormal, ggf8::e5m2_to_f32(0x04));
}

TEST(Fp8Codes, RoundTripEveryFiniteCode) {
  for (unsigned c = 0; c < 256; ++c) {
    const auto b = static_cast<uint8_t>(c);
    for (bool sat : {true, false}) {
      if (!e4m3_is_nan(c)) {
        EXPECT_EQ(ggf8::e4m3_from_f32(ggf8::e4m3_to_f32(b), sat), b) << c;
      }
      // Infinity survives only without saturation (satfinite maps it to ±max).
      if (!e5m2_is_nan(c) && !(sat && e5m2_is_inf(c))) {
        EXPECT_EQ(ggf8::e5m2_from_f32(ggf8::e5m2_to_f32(b), sat), b) << c;
      }
    }
  }
}

// Between adjacent finite codes lo < hi (same sign): the exact midpoint goes
// to whichever code is even, one float ulp below goes to lo, above to hi.
template <typename Dec, typename Enc>
void check_midpoints(unsigned max_code, Dec dec, Enc enc) {
  for (unsigned sign : {0x00u, 0x80u}) {
    for (unsigned c = 0; c < max_code; ++c) {
      const auto lo = static_cast<uint8_t>(sign | c), hi = static_cast<uint8_t>(sign | (c + 1));
      const float a = dec(lo), b = dec(hi);
      const float mid = (a + b) / 2;  // exact: FP8 grids are far coarser than float
      ASSERT_EQ(double(mid), (double(a) + double(b)) / 2);
      const uint8_t even = (c & 1) ? hi : lo;
      EXPECT_EQ(enc(mid), even) << "midpoint of 0x" << std::hex << unsigned(lo) << "/0x" << unsigned(hi);
      EXPECT_EQ(enc(std::nextafter(mid, a)), lo) << "below midpoint 0x" << std::hex << unsigned(lo);
      EXPECT_EQ(enc(std::nextafter(mid, b)), hi) << "above midpoint 0x" << std::hex << unsigned(lo);
    }
  }
}

TEST(Fp8Codes, E4M3RoundsToNearestEven) {
  check_midpoints(0x7E, ggf8::e4m3_to_f32, [](float x) { return ggf8::e4m3_from_f32(x); });
}
TEST(Fp8Codes, E5M2RoundsToNearestEven) {
  check_midpoints(0x7B, ggf8::e5m2_to_f32, [](float x) { return ggf8::e5m2_from_f32(x); });
}

TEST(Fp8Codes, SpecialInputs) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // NaN -> 0x7F whatever its sign (NVIDIA canonicalises first).
  EXPECT_EQ(ggf8::e4m3_from_f32(nan), 0x7F);
  EXPECT_EQ(ggf8::e4m3_from_f32(-nan), 0x7F);
  EXPECT_EQ(ggf8::e5m2_from_f32(-nan, false), 0x7F);
  // Saturation.
  EXPECT_EQ(ggf8::e4m3_from_f32(inf, true), 0x7E);
  EXPECT_EQ(ggf8::e4m3_from_f32(-1e30f, true), 0xFE);
  EXPECT_EQ(ggf8::e4m3_from_f32(inf, false), 0x7F);
  EXPECT_EQ(ggf8::e4m3_from_f32(-500.0f, false), 0xFF);
  EXPECT_EQ(ggf8::e4m3_from_f32(460.0f, false), 0x7E);  // below the 464 tie: 448
  EXPECT_EQ(ggf8::e5m2_from_f32(inf, true), 0x7B);
  EXPECT_EQ(ggf8::e5m2_from_f32(-inf, false), 0xFC);
  EXPECT_EQ(ggf8::e5m2_from_f32(61440.0f, true), 0x7B);
  EXPECT_EQ(ggf8::e5m2_from_f32(61439.996f, false), 0x7B);
  // Underflow keeps the sign; the half-subnormal tie goes to 0.
  EXPECT_EQ(ggf8::e4m3_from_f32(-1e-30f), 0x80);
  EXPECT_EQ(ggf8::e4m3_from_f32(std::ldexp(1.0f, -10)), 0x00);
  EXPECT_EQ(ggf8::e4m3_from_f32(std::nextafter(std::ldexp(1.0f, -10), 1.0f)), 0x01);
  EXPECT_EQ(ggf8::e5m2_from_f32(std::ldexp(1.0f, -17)), 0x00);
  EXPECT_EQ(ggf8::e5m2_from_f32(-std::numeric_limits<float>::denorm_min()), 0x80);
  // Scaled convenience = encode(x * inv_scale).
  EXPECT_EQ(ggf8::e4m3_from_f32_scaled(3.0f, 0.5f), ggf8::e4m3_from_f32(1.5f));
  EXPECT_EQ(ggf8::e5m2_from_f32_scaled(1e6f, 1.0f / 64, true), ggf8::e5m2_from_f32(15625.0f));
}

// The bit tricks of FP8.md: exact up to their power of two for every finite code.
TEST(Fp8Codes, BitTricksAreExact) {
  for (unsigned c = 0; c < 256; ++c) {
    const auto b = static_cast<uint8_t>(c);
    if (!e4m3_is_nan(c)) {
      const double v = ggf8::e4m3_to_f32(b);
      float f;
      const uint32_t u = ggf8::e4m3_to_f32_trick(b);
      std::memcpy(&f, &u, 4);
      EXPECT_EQ(double(f), std::ldexp(v, ggf8::kE4M3F32TrickExp)) << c;
      // FP16: decode the half bits by hand (sign, 5-bit exp bias 15, 10-bit mantissa).
      const uint16_t h = ggf8::e4m3_to_f16_trick(b);
      const unsigned he = (h >> 10) & 31, hm = h & 1023;
      double hv = he ? std::ldexp(1.0 + hm / 1024.0, int(he) - 15) : std::ldexp(double(hm), -24);
      if (h & 0x8000) hv = -hv;
      EXPECT_EQ(hv, std::ldexp(v, ggf8::kE4M3F16TrickExp)) << c;
      // BF16 is the top half of an FP32.
      const uint32_t bf = uint32_t(ggf8::e4m3_to_bf16_trick(b)) << 16;
      std::memcpy(&f, &bf, 4);
      EXPECT_EQ(double(f), std::ldexp(v, ggf8::kE4M3BF16TrickExp)) << c;
    }
    // E5M2 -> FP16 is exact, specials included.
    const uint16_t h = ggf8::e5m2_to_f16(b);
    EXPECT_EQ(h >> 8, c);
    EXPECT_EQ(h & 0xFF, 0);
  }
}

}  // namespace
