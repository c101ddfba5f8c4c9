// checksum.cpp — XXH64 (see checksum.h). The constants and round structure are
// those of the xxHash specification (doc/xxhash_spec.md, "XXH64 algorithm").
#include "ggf8/checksum.h"

#include <cstring>

namespace ggf8 {
namespace {

constexpr uint64_t P1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t P2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t P3 = 0x165667B19E3779F9ull;
constexpr uint64_t P4 = 0x85EBCA77C2B2AE63ull;
constexpr uint64_t P5 = 0x27D4EB2F165667C5ull;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
// Lanes are little-endian u64/u32. memcpy compiles to one load; the spec's
// byte order is the host's (GGF8 is little-endian only, see SPEC.md §1).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGF8 needs a little-endian host");
inline uint64_t rd64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint32_t rd32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t round1(uint64_t acc, uint64_t lane) {
  acc += lane * P2;
  acc = rotl(acc, 31);
  return acc * P1;
}
inline uint64_t merge(uint64_t acc, uint64_t v) {
  acc ^= round1(0, v);
  return acc * P1 + P4;
}
// Processes whole 32-byte stripes; returns the bytes consumed.
inline size_t stripes(uint64_t v[4], const uint8_t* p, size_t n) {
  size_t i = 0;
  uint64_t a = v[0], b = v[1], c = v[2], d = v[3];
  for (; i + 32 <= n; i += 32) {
    a = round1(a, rd64(p + i));
    b = round1(b, rd64(p + i + 8));
    c = round1(c, rd64(p + i + 16));
    d = round1(d, rd64(p + i + 24));
  }
  v[0] = a; v[1] = b; v[2] = c; v[3] = d;
  return i;
}

}  // namespace

void Xxh64::reset(uint64_t seed) {
  seed_ = seed;
  v_[0] = seed + P1 + P2;
  v_[1] = seed + P2;
  v_[2] = seed;
  v_[3] = seed - P1;
  total_ = 0;
  buf_n_ = 0;
}

void Xxh64::update(const void* data, size_t n) {
  if (n == 0) return;  // data may be null then; memcpy(null, 0) is still UB
  const auto* p = static_cast<const uint8_t*>(data);
  total_ += n;
  if (buf_n_ > 0) {
    size_t take = 32 - buf_n_ < n ? 32 - buf_n_ : n;
    std::memcpy(buf_ + buf_n_, p, take);
    buf_n_ += take;
    p += take;
    n -= take;
    if (buf_n_ < 32) return;
    stripes(v_, buf_, 32);
    buf_n_ = 0;
  }
  size_t used = stripes(v_, p, n);
  std::memcpy(buf_, p + used, n - used);
  buf_n_ = n - used;
}

uint64_t Xxh64::digest() const {
  uint64_t h;
  if (total_ >= 32) {
    h = rotl(v_[0], 1) + rotl(v_[1], 7) + rotl(v_[2], 12) + rotl(v_[3], 18);
    for (int i = 0; i < 4; ++i) h = merge(h, v_[i]);
  } else {
    h = seed_ + P5;
  }
  h += total_;
  const uint8_t* p = buf_;
  size_t n = buf_n_;
  while (n >= 8) {
    h ^= round1(0, rd64(p));
    h = rotl(h, 27) * P1 + P4;
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    h ^= uint64_t(rd32(p)) * P1;
    h = rotl(h, 23) * P2 + P3;
    p += 4;
    n -= 4;
  }
  while (n > 0) {
    h ^= uint64_t(*p) * P5;
    h = rotl(h, 11) * P1;
    ++p;
    --n;
  }
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

uint64_t xxh64(const void* data, size_t n, uint64_t seed) {
  Xxh64 s(seed);
  s.update(data, n);
  return s.digest();
}

}  // namespace ggf8
