// tests/codec/bench_fp8_bulk.cpp — throughput of the bulk FP8 converters on
// one core (not a test; not run by ctest). Two regimes:
//   in-cache : convert the same 16 KiB of FP8 over and over (L1/L2 resident);
//   streaming: walk a 256 MiB FP8 buffer (>> L3) in 16 KiB chunks, converting
//              each into an L1-resident output, as a weight-streaming GEMV would.
// Reports GB/s of FP8 bytes consumed (encode: of FP8 bytes produced), by wall
// time and by this thread's CPU time (the latter is what counts on a shared,
// time-sliced machine). Usage: bench_fp8_bulk [stream MiB=256] [reps=3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <random>
#include <vector>

#include "ggf8/fp8.h"
#include "ggf8/fp8_bulk.h"

namespace {

constexpr size_t kChunk = 16 << 10;  // FP8 bytes per call

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Rate {
  double wall_gbs, cpu_gbs;
};

// Best of `reps` runs of fn(), which processes `bytes` FP8 bytes.
Rate measure(size_t bytes, int reps, const std::function<void()>& fn) {
  fn();  // warm-up
  double best_wall = 1e300, best_cpu = 1e300;
  for (int r = 0; r < reps; ++r) {
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best_wall = std::min(best_wall, wall);
    best_cpu = std::min(best_cpu, cpu_seconds() - c0);
  }
  return {double(bytes) / best_wall / 1e9, double(bytes) / best_cpu / 1e9};
}

volatile float g_sink;

}  // namespace

int main(int argc, char** argv) {
  const size_t stream_mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  if (stream_mib == 0 || reps <= 0) {
    std::fprintf(stderr, "usage: bench_fp8_bulk [stream MiB > 0] [reps > 0]\n");
    return 2;
  }
  const size_t stream_bytes = stream_mib << 20;
  std::vector<uint8_t> big(stream_bytes);
  std::mt19937 rng(1);
  // Realistic weights: codes of N(0, 1) values scaled into E4M3 range (no NaN).
  std::normal_distribution<float> nd(0.0f, 60.0f);
  for (size_t i = 0; i < std::min<size_t>(stream_bytes, 1 << 20); ++i) big[i] = ggf8::e4m3_from_f32(nd(rng));
  for (size_t i = 1 << 20; i < stream_bytes; ++i) big[i] = big[i & ((1 << 20) - 1)];
  std::vector<float> f32(kChunk), src_f32(kChunk);
  std::vector<uint16_t> f16(kChunk);
  std::vector<uint8_t> q(kChunk);
  for (size_t i = 0; i < kChunk; ++i) src_f32[i] = nd(rng);

  const size_t in_cache_iters = 4096;  // 64 MiB of FP8 per run
  struct Case {
    const char* name;
    std::function<void(const uint8_t*)> fn;
  };
  const Case cases[] = {
      {"e4m3_to_f32", [&](const uint8_t* s) { ggf8::e4m3_to_f32(s, f32.data(), kChunk); }},
      {"e4m3_to_f32_scaled", [&](const uint8_t* s) { ggf8::e4m3_to_f32_scaled(s, f32.data(), kChunk, 0.01f); }},
      {"e4m3_to_f32_table", [&](const uint8_t* s) { ggf8::e4m3_to_f32_table(s, f32.data(), kChunk); }},
      {"e5m2_to_f32", [&](const uint8_t* s) { ggf8::e5m2_to_f32(s, f32.data(), kChunk); }},
      {"e4m3_to_f16_trick", [&](const uint8_t* s) { ggf8::e4m3_to_f16_trick(s, f16.data(), kChunk); }},
      {"e4m3_to_bf16_trick", [&](const uint8_t* s) { ggf8::e4m3_to_bf16_trick(s, f16.data(), kChunk); }},
  };
  std::printf("bulk FP8 path: %s; chunk %zu B; streaming %zu MiB; best of %d\n", ggf8::fp8_bulk_isa(),
              kChunk, stream_mib, reps);
  std::printf("%-20s %22s %22s\n", "", "in-cache GB/s", "streaming GB/s");
  std::printf("%-20s %11s %10s %11s %10s\n", "function", "wall", "cpu", "wall", "cpu");
  for (const Case& c : cases) {
    const Rate hot = measure(kChunk * in_cache_iters, reps, [&] {
      for (size_t i = 0; i < in_cache_iters; ++i) c.fn(big.data());
      g_sink = f32[7];
    });
    const Rate cold = measure(stream_bytes, reps, [&] {
      for (size_t off = 0; off + kChunk <= stream_bytes; off += kChunk) c.fn(big.data() + off);
      g_sink = f32[7];
    });
    std::printf("%-20s %11.1f %10.1f %11.1f %10.1f\n", c.name, hot.wall_gbs, hot.cpu_gbs, cold.wall_gbs,
                cold.cpu_gbs);
  }
  const Rate enc = measure(kChunk * in_cache_iters, reps, [&] {
    for (size_t i = 0; i < in_cache_iters; ++i) ggf8::f32_to_e4m3(src_f32.data(), q.data(), kChunk, 1.0f / 64);
    g_sink = q[7];
  });
  std::printf("%-20s %11.1f %10.1f   (FP8 bytes out; in cache)\n", "f32_to_e4m3", enc.wall_gbs, enc.cpu_gbs);
  return 0;
}
