// bench_gemv.cpp — FP8/BF16 GEMV (decode) and GEMM (prefill) throughput of a
// backend on SmolLM2-135M shapes. Weights are spread over enough copies that
// the working set (default 256 MiB) is far beyond the caches, like a real
// decode step that streams ~106 MB of weights per token.
//
// Usage: f8_bench_gemv [--backend cpu-simd] [--isa auto] [--threads N]
//                      [--ms 300] [--set-mib 256] [--prefill T] [--membw GB/s]
// Prints one line per (dtype, shape): GB/s of weight bytes read (decode) or
// GFLOP/s (prefill), and the fraction of --membw when given.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "ggf8/fp8.h"

using namespace f8backend;

namespace {

struct Shape {
  const char* name;
  int64_t n, k;
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

uint16_t bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace

int main(int argc, char** argv) {
  std::string backend = "cpu-simd", isa = "auto", dtypes = "e4m3,bf16";
  int threads = 1, prefill = 0;
  double ms = 300, set_mib = 256, membw = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "f8_bench_gemv: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--backend") backend = next();
    else if (a == "--isa") isa = next();
    else if (a == "--threads") threads = std::atoi(next());
    else if (a == "--ms") ms = std::atof(next());
    else if (a == "--set-mib") set_mib = std::atof(next());
    else if (a == "--prefill") prefill = std::atoi(next());
    else if (a == "--membw") membw = std::atof(next());
    else if (a == "--dtypes") dtypes = next();
    else {
      std::fprintf(stderr, "usage: f8_bench_gemv [--backend B] [--isa I] [--threads N] [--ms MS] "
                           "[--set-mib MiB] [--prefill T] [--membw GB/s] [--dtypes e4m3,bf16,e5m2]\n");
      return 2;
    }
  }
  std::unique_ptr<Backend> be;
  BackendParams bp;
  bp.isa = isa;
  if (Status s = create_backend(backend, bp, &be); !s.ok()) {
    std::fprintf(stderr, "f8_bench_gemv: %s\n", s.message.c_str());
    return 1;
  }
  const Shape shapes[] = {{"attn_q/o 576x576", 576, 576},   {"attn_k/v 192x576", 192, 576},
                          {"ffn_gate/up 1536x576", 1536, 576}, {"ffn_down 576x1536", 576, 1536},
                          {"output 49152x576", 49152, 576}};
  const int T = prefill > 0 ? prefill : 1;
  std::unique_ptr<Stream> st;
  StreamParams sp;
  sp.n_threads = threads;
  sp.max_tokens = T;
  sp.max_dim = 49152;
  if (Status s = be->create_stream(sp, &st); !s.ok()) {
    std::fprintf(stderr, "f8_bench_gemv: %s\n", s.message.c_str());
    return 1;
  }
  std::printf("# backend %s, %d thread(s), %s, working set %.0f MiB%s\n", be->description().c_str(), threads,
              prefill ? ("prefill T=" + std::to_string(T)).c_str() : "decode T=1", set_mib,
              membw > 0 ? (", membw " + std::to_string(membw) + " GB/s").c_str() : "");
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(T) * 1536), y(static_cast<size_t>(T) * 49152);
  for (auto& v : x) v = nd(rng);
  size_t start = 0;
  while (start < dtypes.size()) {
    size_t end = dtypes.find(',', start);
    if (end == std::string::npos) end = dtypes.size();
    const std::string dname = dtypes.substr(start, end - start);
    start = end + 1;
    DType dt;
    if (!ggf8::dtype_from_name(dname, &dt)) {
      std::fprintf(stderr, "f8_bench_gemv: unknown dtype %s\n", dname.c_str());
      return 2;
    }
    const size_t es = ggf8::dtype_size(dt);
    for (const Shape& sh : shapes) {
      const size_t mbytes = static_cast<size_t>(sh.n * sh.k) * es;
      const size_t copies = std::max<size_t>(1, static_cast<size_t>(set_mib * 1048576.0 / mbytes));
      // Gaussian weights quantized like the converter does (channel scale).
      std::vector<uint8_t> proto(mbytes);
      for (int64_t i = 0; i < sh.n * sh.k; ++i) {
        const float v = nd(rng);
        if (dt == DType::E4M3) proto[i] = ggf8::e4m3_from_f32(v * 100.0f);
        else if (dt == DType::E5M2) proto[i] = ggf8::e5m2_from_f32(v * 100.0f);
        else if (dt == DType::BF16) reinterpret_cast<uint16_t*>(proto.data())[i] = bf16(v);
        else reinterpret_cast<float*>(proto.data())[i] = v;
      }
      std::vector<uint8_t> mem(mbytes * copies);
      for (size_t c = 0; c < copies; ++c) std::memcpy(mem.data() + c * mbytes, proto.data(), mbytes);
      std::vector<float> scale(sh.n, 0.01f);
      Weight w;
      w.dtype = dt;
      w.rows = sh.n;
      w.cols = sh.k;
      w.scale_kind = ScaleKind::Channel;
      w.scale = scale.data();
      size_t c = 0;
      auto once = [&] {
        w.data = mem.data() + (c++ % copies) * mbytes;
        st->gemm(x.data(), T, w, y.data());
      };
      for (size_t i = 0; i < std::min<size_t>(copies, 64); ++i) once();  // warm up
      int64_t n = 0;
      const double t0 = now_s();
      double t1 = t0;
      while ((t1 = now_s()) - t0 < ms / 1000.0 || n < 3) {
        once();
        ++n;
      }
      const double per = (t1 - t0) / n;
      const double gbs = mbytes / per / 1e9;
      const double gflops = 2.0 * sh.n * sh.k * T / per / 1e9;
      std::printf("%-5s %-22s %8.1f us  %6.2f GB/s", dname.c_str(), sh.name, per * 1e6, gbs);
      if (prefill) std::printf("  %7.1f GFLOP/s  %8.0f tok/s-equiv", gflops, T / per);
      if (membw > 0 && !prefill) std::printf("  %5.1f%% of membw", 100.0 * gbs / membw);
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  return 0;
}
