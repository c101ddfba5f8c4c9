// sample_files.h — test-only: small valid .f8 files made by ggf8::Writer, used
// by the round-trip tests, the CLI test (make_sample) and as fuzzer seeds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ggf8/ggf8.h"

namespace samples {

// Deterministic bytes for tensor `i` (a small LCG; no std::random so files
// are identical on every platform).
std::vector<uint8_t> pattern(uint64_t n, uint32_t seed);

// Writes a file exercising every dtype, every scale kind, every value type and
// long arrays (a fake SentencePiece blob, a 1000-token vocab, quant stats).
// compact: same structure, tiny sizes (20 tokens, 64-byte blob, [40,36]
// block-scaled weight with 16x16 blocks) — the fuzzer's seed.
ggf8::Status write_full(const std::string& path, const ggf8::WriterOptions& opts,
                        bool compact = false);

// A minimal file: one metadata key, one f32 tensor [4].
ggf8::Status write_minimal(const std::string& path, const ggf8::WriterOptions& opts);

std::vector<uint8_t> read_all(const std::string& path);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents by
// the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace samples
