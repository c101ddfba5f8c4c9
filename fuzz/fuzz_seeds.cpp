// fuzz_seeds — writes the fuzzer's seed corpus into DIR: small valid files
// made by the writer (tests/format/sample_files.h) and the hand-encoded base
// image of the malformed-file tests (tests/format/raw_image.h).
//   fuzz_seeds DIR
#include <cstdio>
#include <string>

#include "raw_image.h"
#include "sample_files.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  ggf8::WriterOptions o;
  o.overwrite = true;
  o.alignment = 8;  // small seeds: little padding for the fuzzer to wade through
  ggf8::Status s = samples::write_minimal(dir + "/minimal.f8", o);
  if (s.ok()) s = samples::write_full(dir + "/compact.f8", o, /*compact=*/true);
  o.checksums = false;
  if (s.ok()) s = samples::write_minimal(dir + "/minimal-nosum.f8", o);
  if (!s.ok()) {
    std::fprintf(stderr, "fuzz_seeds: %s\n", s.message.c_str());
    return 1;
  }
  auto img = rawimg::encode(rawimg::base_image());
  FILE* f = std::fopen((dir + "/base.f8").c_str(), "wb");
  if (!f || std::fwrite(img.data(), 1, img.size(), f) != img.size()) return 1;
  std::fclose(f);
  return 0;
}
