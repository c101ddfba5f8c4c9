// bench_cpu_attn.cpp — decode attention alone on cpu-simd (issue 27): one
// query token over a context of N cells of a filled cache, a model's shape
// (SmolLM2-135M by default: 9 query heads, 3 KV heads of 64), every layer
// of the cache in turn (so the cache streams from memory as in a real
// decode step, not from L2). Prints ns per (cell, KV head) and the cache
// bytes read per second. Not a test; for comparing kernels (e.g. --isa avx2
// against --isa avx512 on an AVX-512 machine, alternating runs).
//   bench_cpu_attn [--ctx 4096] [--layers 30] [--heads 9] [--kv-heads 3] [--head-dim 64]
//                  [--threads 1] [--iters 20] [--kv fp8|fp8-layer|int8|bf16|f32]
//                  [--center 0|1] [--queries 1] [--isa auto]
// --kv as f8's --kv-type (fp8: E4M3 with per-(token, KV head) BF16 scales,
// the default; fp8-layer: per-layer scales; int8: INT8 codes with row
// scales); --center 1 (fp8/int8, the runtime's default there): K centering
// with a random mean and SmolLM2's RoPE, so the readers' per-run shift is
// timed too. --queries N: N query tokens at the last N positions of the
// context (a prefill chunk: each sees the cells up to its own position;
// the rows are predecoded once per call, as the runtime does for >= 4
// queries); ns are then per (query, visible cell, KV head).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"

using namespace f8backend;

int main(int argc, char** argv) {
  int ctx = 4096, layers = 30, H = 9, KV = 3, D = 64, threads = 1, iters = 20;
  std::string kv = "fp8", isa = "auto";
  int center = 0, nq = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const char* v = argv[i + 1];
    if (a == "--ctx") ctx = std::atoi(v);
    else if (a == "--layers") layers = std::atoi(v);
    else if (a == "--heads") H = std::atoi(v);
    else if (a == "--kv-heads") KV = std::atoi(v);
    else if (a == "--head-dim") D = std::atoi(v);
    else if (a == "--threads") threads = std::atoi(v);
    else if (a == "--iters") iters = std::atoi(v);
    else if (a == "--kv") kv = v;
    else if (a == "--isa") isa = v;
    else if (a == "--center") center = std::atoi(v);
    else if (a == "--queries") nq = std::atoi(v);
    else {
      std::fprintf(stderr, "bench_cpu_attn: error: unknown option '%s'\n", a.c_str());
      return 2;
    }
  }
  if (kv != "fp8" && kv != "fp8-layer" && kv != "int8" && kv != "bf16" && kv != "f32") {
    std::fprintf(stderr, "bench_cpu_attn: error: --kv '%s': expected fp8, fp8-layer, int8, bf16 or f32\n", kv.c_str());
    return 2;
  }
  if (center && kv != "fp8" && kv != "int8") {
    std::fprintf(stderr, "bench_cpu_attn: error: --center needs --kv fp8 or int8 (row scales)\n");
    return 2;
  }
  if (ctx < 1 || layers < 1 || KV < 1 || H % KV != 0 || D < 1 || D > 512 || threads < 1 || iters < 1 || nq < 1 ||
      nq > ctx || nq > 512) {
    std::fprintf(stderr, "bench_cpu_attn: error: bad shape (heads must be a multiple of kv-heads, head-dim <= 512, "
                         "1 <= queries <= min(ctx, 512))\n");
    return 2;
  }
  std::unique_ptr<Backend> be;
  BackendParams bp;
  bp.isa = isa;
  if (Status s = create_backend("cpu-simd", bp, &be); !s.ok()) {
    std::fprintf(stderr, "bench_cpu_attn: error: %s\n", s.message.c_str());
    return 1;
  }
  std::unique_ptr<Stream> st;
  StreamParams sp;
  sp.n_threads = threads;
  sp.max_tokens = 512;
  sp.max_dim = int64_t(H) * D * 4;
  if (Status s = be->create_stream(sp, &st); !s.ok()) return std::fprintf(stderr, "bench_cpu_attn: error: %s\n", s.message.c_str()), 1;
  KVCacheParams p;
  p.n_layers = layers;
  p.n_cells = ctx;
  p.n_kv_heads = KV;
  p.head_dim = D;
  p.dtype = kv == "bf16" ? DType::BF16 : kv == "f32" ? DType::F32 : kv == "int8" ? DType::I8 : DType::E4M3;
  p.token_scales = kv == "fp8" || kv == "int8";
  if (kv == "fp8-layer") p.k_scale.assign(size_t(layers), 0.02f), p.v_scale.assign(size_t(layers), 0.02f);
  if (center) {  // a mean of the keys' size, RoPE on every pair (SmolLM2: theta 100000)
    std::mt19937 crng(7);
    std::normal_distribution<float> cd;
    p.k_center.resize(size_t(layers) * KV * D);
    for (auto& x : p.k_center) x = cd(crng);
    RopeParams r;
    r.head_dim = D;
    r.n_rot = D & ~1;
    r.freq_base = 100000.0f;
    p.k_center_rope.assign(size_t(layers), r);
  }
  std::unique_ptr<KVCache> cache;
  if (Status s = be->create_kv_cache(p, &cache); !s.ok()) return std::fprintf(stderr, "bench_cpu_attn: error: %s\n", s.message.c_str()), 1;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  const int chunk = 512;
  std::vector<float> k(size_t(chunk) * KV * D), v(k.size());
  for (int p0 = 0; p0 < ctx; p0 += chunk) {
    const int n = std::min(chunk, ctx - p0);
    std::vector<int32_t> seq(n, 0), pos(n), cells(n);
    for (int i = 0; i < n; ++i) pos[i] = p0 + i;
    if (Status s = cache->alloc_cells(n, seq.data(), pos.data(), cells.data()); !s.ok()) return 1;
    for (int l = 0; l < layers; ++l) {
      for (auto& x : k) x = nd(rng);
      for (auto& x : v) x = nd(rng);
      st->kv_store(*cache, l, k.data(), v.data(), cells.data(), n);
    }
  }
  std::vector<float> q(size_t(nq) * H * D), out(q.size());
  for (auto& x : q) x = nd(rng);
  std::vector<int32_t> qs(size_t(nq), 0), qp(size_t(nq), 0);
  for (int i = 0; i < nq; ++i) qp[size_t(i)] = ctx - nq + i;
  AttnBatch b;
  b.n_tokens = nq;
  b.seq = qs.data();
  b.pos = qp.data();
  b.n_heads = H;
  b.scale = 1.0f / std::sqrt(float(D));
  double best = 1e30;
  for (int it = 0; it < iters; ++it) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int l = 0; l < layers; ++l) st->attention(*cache, l, q.data(), b, out.data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
  }
  double seen = 0;  // (query, visible cell) pairs
  for (int i = 0; i < nq; ++i) seen += ctx - nq + i + 1;
  const double rows = seen * KV * layers;
  const double bytes = double(cache->bytes()) * ctx / p.n_cells;
  std::printf("ctx %d, %d quer%s, %d layers, %d heads / %d KV heads of %d, %s cache, %d threads: %.3f ms per call "
              "(best of %d), %.2f ns per (query, cell, KV head), %.2f GB/s of cache (%s)\n",
              ctx, nq, nq == 1 ? "y" : "ies", layers, H, KV, D, (kv + (center ? " centered" : "")).c_str(), threads,
              best * 1e3, iters, best * 1e9 / rows, bytes / best / 1e9, be->description().c_str());
  return 0;
}
