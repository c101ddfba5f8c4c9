// mxfp4.cpp — see mxfp4.h.
#include "convert/mxfp4.h"

#include <cstring>

#include "ggf8/fp8.h"

namespace f8conv::mxfp4 {

namespace {
constexpr float kE2M1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
}

float e2m1_value(uint8_t n) {
  const float m = kE2M1[n & 7];
  return (n & 8) ? -m : m;
}

uint8_t e2m1_to_e4m3(uint8_t n) {
  // E4M3 of a value with <= 2 significant bits in [0.5, 6] is exact; the
  // codec rounds nothing here (the proof test re-decodes every code).
  const uint8_t mag = ggf8::e4m3_from_f32(kE2M1[n & 7]);
  return (n & 8) ? static_cast<uint8_t>(mag | 0x80u) : mag;
}

bool e8m0_scale(uint8_t s, float* out) {
  if (s == 255) return false;
  // 2^(s - 127): a normal float32 for s >= 1 (exponent field s), 2^-127 =
  // the subnormal with mantissa bit 22 for s = 0.
  const uint32_t bits = s ? static_cast<uint32_t>(s) << 23 : 0x00400000u;
  std::memcpy(out, &bits, 4);
  return true;
}

int64_t import_row(const uint8_t* blocks, const uint8_t* scales, int64_t cols, uint8_t* codes,
                   float* block_scales) {
  static const auto table = [] {  // byte -> (code of low nibble, code of high nibble)
    struct T {
      uint8_t lo[256], hi[256];
    } t;
    for (int b = 0; b < 256; ++b) {
      t.lo[b] = e2m1_to_e4m3(static_cast<uint8_t>(b & 0xF));
      t.hi[b] = e2m1_to_e4m3(static_cast<uint8_t>(b >> 4));
    }
    return t;
  }();
  const int64_t nb = cols / 32;
  for (int64_t b = 0; b < nb; ++b) {
    if (!e8m0_scale(scales[b], &block_scales[b])) return b;
    const uint8_t* in = blocks + b * 16;
    uint8_t* out = codes + b * 32;
    for (int j = 0; j < 16; ++j) {
      out[2 * j] = table.lo[in[j]];
      out[2 * j + 1] = table.hi[in[j]];
    }
  }
  return -1;
}

}  // namespace f8conv::mxfp4
