// bench_format — GGF8 writer/reader/verify throughput on a synthetic file
// (not a test; speed is measured here, never in unit tests):
//   bench_format OUT.f8 [GiB=1] [tensor MiB=64]
// Writes GiB of e4m3 tensors (each with a channel scale) through the
// streaming writer, then times File::open (validation of header + trailer)
// and File::verify (XXH64 over every byte), printing GB/s.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ggf8/ggf8.h"
#include "sample_files.h"

using namespace ggf8;
using clk = std::chrono::steady_clock;

static double since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_format OUT.f8 [GiB=1] [tensor MiB=64]\n");
    return 2;
  }
  std::string path = argv[1];
  double gib = argc > 2 ? std::atof(argv[2]) : 1.0;
  uint64_t tmib = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 64;
  const uint64_t cols = 4096, rows = tmib * (1 << 20) / cols;
  const uint64_t n = uint64_t(gib * (1ull << 30)) / (rows * cols);
  auto w8 = samples::pattern(rows * cols, 7);
  std::vector<float> sc(rows, 0.01f);

  WriterOptions o;
  o.overwrite = true;
  std::unique_ptr<Writer> w;
  auto t0 = clk::now();
  Status s = Writer::create(path, o, &w);
  for (uint64_t i = 0; s.ok() && i < n; ++i) {
    std::string name = "blk." + std::to_string(i) + ".ffn_up.weight";
    s = w->add_tensor({name, DType::E4M3, {rows, cols}, ScaleKind::Channel, 0, 0, name + ".scale"},
                      w8.data(), w8.size());
    if (s.ok()) s = w->add_tensor({name + ".scale", DType::F32, {rows}}, sc.data(), rows * 4);
  }
  if (s.ok()) s = w->finish();
  if (!s.ok()) {
    std::fprintf(stderr, "bench_format: %s\n", s.message.c_str());
    return 1;
  }
  double tw = since(t0);
  uint64_t bytes = w->bytes_written();
  std::printf("write : %llu tensors, %.2f GiB in %.2f s = %.2f GB/s (incl. XXH64 + fsync)\n",
              (unsigned long long)(2 * n), double(bytes) / (1 << 30), tw, double(bytes) / tw / 1e9);
  t0 = clk::now();
  std::unique_ptr<File> f;
  s = File::open(path, &f);
  double to = since(t0);
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.message.c_str()), 1;
  std::printf("open  : %.3f ms (mmap + full validation of %zu tensors)\n", to * 1e3, f->tensors().size());
  t0 = clk::now();
  s = f->verify();
  double tv = since(t0);
  std::printf("verify: %.2f s = %.2f GB/s (%s)\n", tv, double(bytes) / tv / 1e9,
              s.ok() ? "ok" : s.message.c_str());
  return s.ok() ? 0 : 1;
}
