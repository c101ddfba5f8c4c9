// layout.h — internal: the fixed byte layout of GGF8 (SPEC.md §Header,
// §Metadata, §Directory) and the little-endian load/store helpers the reader
// and writer share, so both sides spell every offset once.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace ggf8::layout {

inline constexpr uint8_t kMagic[4] = {'G', 'G', 'F', '8'};
// Majors this code reads and writes. A writer writes kMajorStacked only when
// the file needs it (a stacked scaled tensor, SPEC.md §Scales), else kMajor.
inline constexpr uint16_t kMajor = 1;
inline constexpr uint16_t kMajorStacked = 2;
inline constexpr uint16_t kMinor = 0;
inline constexpr uint32_t kEndianMarker = 0x01020304u;  // stored LE: 04 03 02 01
inline constexpr uint64_t kHeaderSize = 128;            // fixed; rest reserved (zero)

// Header field offsets (bytes from the start of the file).
inline constexpr uint64_t kOffMagic = 0;        // u8[4]
inline constexpr uint64_t kOffMajor = 4;        // u16
inline constexpr uint64_t kOffMinor = 6;        // u16
inline constexpr uint64_t kOffEndian = 8;       // u32
inline constexpr uint64_t kOffFlags = 12;       // u32, reserved, 0
inline constexpr uint64_t kOffAlignment = 16;   // u64
inline constexpr uint64_t kOffFileSize = 24;    // u64
inline constexpr uint64_t kOffDataOffset = 32;  // u64
inline constexpr uint64_t kOffDataSize = 40;    // u64
inline constexpr uint64_t kOffMetaOffset = 48;  // u64
inline constexpr uint64_t kOffMetaSize = 56;    // u64
inline constexpr uint64_t kOffMetaCount = 64;   // u64
inline constexpr uint64_t kOffDirOffset = 72;   // u64
inline constexpr uint64_t kOffDirSize = 80;     // u64
inline constexpr uint64_t kOffTensorCount = 88; // u64
// 96..127 reserved: written as zero, ignored by readers of this major.

inline constexpr uint64_t kMinAlignment = 8;
inline constexpr uint64_t kMaxAlignment = 65536;
inline constexpr uint64_t kMaxNameLen = 255;            // keys and tensor names
inline constexpr uint64_t kMaxStringLen = 1ull << 30;   // string values: 1 GiB
// Smallest possible encodings, used to bound counts by the bytes that exist.
inline constexpr uint64_t kMinKVSize = 4 + 1 + 4 + 1;   // key_len, 1-byte key, vtype, 1-byte scalar
inline constexpr uint64_t kMinTensorSize =
    4 + 1 + 4 + 4 + 8 + 8 + 8 + 4 + 4 + 4 + 4 + 4 + 8;  // 1-char name, ndim 1, no scale name
inline constexpr uint32_t kTensorFlagChecksum = 1u;     // directory entry flags bit 0

inline uint16_t ld16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t ld32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t ld64(const uint8_t* p) { return uint64_t(ld32(p)) | uint64_t(ld32(p + 4)) << 32; }
inline void st16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }
inline void st32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void st64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}

// "[4,8]" — shapes in error messages and `f8 inspect`.
inline std::string shape_string(const std::vector<uint64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(d[i]);
  }
  s += ']';
  return s;
}

// Whether a tensor with `ndim` dims and this scale kind is a stack of
// scaled 2-D matrices (major 2: MoE expert tensors [experts, rows, cols]).
inline bool stacked_scales(size_t ndim, uint32_t scale_kind) { return ndim >= 3 && (scale_kind == 2 || scale_kind == 3); }

// The scale tensor shape a tensor's scale kind demands (SPEC.md §Scales).
// Major 1: channel [d0], block [ceil(d0/br), ceil(d1/bc)] of a 2-D tensor.
// Major 2 adds stacks: dims [s.., R, C] with channel scales [s.., R] and
// block scales [s.., ceil(R/br), ceil(C/bc)] (one set per 2-D matrix).
inline std::vector<uint64_t> scale_shape(const std::vector<uint64_t>& dims, uint32_t scale_kind, uint32_t br,
                                         uint32_t bc) {
  if (scale_kind == 1) return {1};
  if (!stacked_scales(dims.size(), scale_kind)) {
    if (scale_kind == 2) return {dims[0]};
    return {(dims[0] + br - 1) / br, (dims[1] + bc - 1) / bc};
  }
  std::vector<uint64_t> s(dims.begin(), dims.end() - 2);
  const uint64_t r = dims[dims.size() - 2], c = dims.back();
  if (scale_kind == 2) {
    s.push_back(r);
  } else {
    s.push_back((r + br - 1) / br);
    s.push_back((c + bc - 1) / bc);
  }
  return s;
}

inline bool is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Byte size of a scalar value type (VType 0..10); 0 for String/Array/unknown.
inline uint64_t scalar_size(uint32_t vt) {
  static constexpr uint8_t kSizes[] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 1};
  return vt < sizeof(kSizes) ? kSizes[vt] : 0;
}

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, <= U+10FFFF.
inline bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) { ++i; continue; }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

}  // namespace ggf8::layout
