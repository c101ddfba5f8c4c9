// checksum.h — internal: XXH64 (seed 0), the per-tensor checksum of GGF8
// (SPEC.md §Checksum). Implemented here from the published algorithm
// description; tests compare it with the `xxhsum -H1` tool when installed.
// Streaming form so the writer can hash a tensor appended in pieces.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ggf8 {

class Xxh64 {
 public:
  explicit Xxh64(uint64_t seed = 0) { reset(seed); }
  void reset(uint64_t seed = 0);
  void update(const void* data, size_t n);
  uint64_t digest() const;

 private:
  uint64_t v_[4];
  uint64_t total_ = 0;
  uint8_t buf_[32];
  size_t buf_n_ = 0;
  uint64_t seed_ = 0;
};

uint64_t xxh64(const void* data, size_t n, uint64_t seed = 0);

}  // namespace ggf8
