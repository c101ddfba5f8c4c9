// make_sample — test-only tool: writes the sample .f8 files of
// sample_files.h, for the CLI tests (tests/py/test_inspect.py) and as the
// fuzzer's seed corpus (scripts/fuzz.sh).
//   make_sample full|minimal OUT.f8 [ALIGNMENT]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sample_files.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: make_sample full|minimal OUT.f8 [ALIGNMENT]\n");
    return 2;
  }
  ggf8::WriterOptions o;
  o.overwrite = true;
  if (argc > 3) o.alignment = std::strtoull(argv[3], nullptr, 10);
  std::string kind = argv[1];
  ggf8::Status s = kind == "full" ? samples::write_full(argv[2], o)
                   : kind == "minimal" ? samples::write_minimal(argv[2], o)
                   : ggf8::Status::Error(ggf8::Code::InvalidArgument, "unknown kind " + kind);
  if (!s.ok()) {
    std::fprintf(stderr, "make_sample: %s\n", s.message.c_str());
    return 1;
  }
  return 0;
}
