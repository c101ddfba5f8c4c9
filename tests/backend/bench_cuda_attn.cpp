// tests/backend/bench_cuda_attn.cpp — microbenchmark of the CUDA decode
// attention (kernels/attention.cu), not a test. Run: bench_cuda_attn [reps]
// (`bench_cuda_attn check`: the self-check only, e.g. under compute-sanitizer).
//
// First a quick self-check on the device (exits 1 on a mismatch):
//   * kv_store for E4M3/E5M2/F16/BF16/F32 against host encoders, bit-exact,
//     special values included;
//   * attention against a double-precision softmax over the decoded cache
//     (several sequences, shared and free cells, all-masked tokens, GQA;
//     D 128 E4M3, D 64 BF16, D 256 F16, D 80 E5M2 strided, D 96 F32;
//     n_splits 1, attention_splits(), 64; T 1 and 37);
//   * a CUDA graph captured with the page tables of the first cells,
//     replayed after the tables grew on the device.
// Then Llama-3-8B decode shapes (32 q heads, 8 kv heads, head_dim 128, E4M3
// cache) at contexts 1k..64k, batch 1 and 8: median of `reps` (default 20)
// CUDA-event timings; GB/s of unique K/V bytes read; % of a device-to-device
// copy's bandwidth (read + write bytes) measured in the same run. Caches
// smaller than ~256 MB are replicated over several layers and the layer
// rotates per run, so L2 does not serve them.
// Prints "no CUDA device" and exits 0 when there is none.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "ggf8/fp8.h"
#include "kernels/attention.cuh"
#include "cuda_bench_util.h"

namespace {

int g_fail = 0;
#define EXPECT(cond, ...)                       \
  do {                                          \
    if (!(cond)) {                              \
      if (g_fail++ < 20) {                      \
        std::printf("CHECK FAILED: " __VA_ARGS__); \
        std::printf("\n");                      \
      }                                         \
    }                                           \
  } while (0)

// ---- kv_store: bit-exact ----------------------------------------------------------
void check_kv_store(std::mt19937& rng) {
  const int n_kv = 3, D = 20, n_cells = 50, T = 7, n_layers = 2, layer = 1;  // n = 60: vector path
  for (int vec = 0; vec < 2; ++vec)
    for (Elem t : {Elem::E4M3, Elem::E5M2, Elem::F16, Elem::BF16, Elem::F32}) {
      const int Dt = vec ? D : D + 1;  // n = 63: scalar path
      const int n = n_kv * Dt;
      std::vector<int32_t> pos(n_cells, -1);
      std::vector<unsigned long long> seqs(n_cells, 0);
      DevCache c = make_cache(t, n_layers, n_cells, n_kv, Dt, pos, seqs, 0, 0.37f, 1.9f);
      std::vector<float> k(static_cast<size_t>(T) * n), v(k.size());
      std::normal_distribution<float> nd(0.0f, 1.0f);
      const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e30f, -1e30f, 65519.0f, 65520.0f,
                                1e-8f, -3e-6f, 5.96e-8f, 2.98e-8f, 1e-40f, 448.0f * 0.37f, 464.0f * 0.37f};
      for (size_t i = 0; i < k.size(); ++i) {
        const float sc = std::pow(10.0f, static_cast<float>(static_cast<int>(i % 13)) - 6.0f);
        k[i] = i % 5 == 0 ? specials[(i / 5) % (sizeof specials / sizeof specials[0])] : nd(rng) * sc;
        v[i] = nd(rng) * sc;
      }
      std::vector<int32_t> cells = {4, 49, 0, 17, 23, 8, 31};
      float* dk = dupload(k);
      float* dv = dupload(v);
      int32_t* dc = dupload(cells);
      CKI(f8k::kv_store(c.kv, layer, dk, dv, dc, T, nullptr));
      CK(cudaDeviceSynchronize());
      const size_t eb = esize(t), layer_bytes = static_cast<size_t>(n_cells) * n * eb;
      std::vector<uint8_t> hk(layer_bytes * n_layers), hv(hk.size());
      CK(cudaMemcpy(hk.data(), c.kv.k, hk.size(), cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(hv.data(), c.kv.v, hv.size(), cudaMemcpyDeviceToHost));
      int bad = 0;
      for (int tt = 0; tt < T; ++tt)
        for (int i = 0; i < n; ++i) {
          const size_t off = layer * layer_bytes + (static_cast<size_t>(cells[tt]) * n + i) * eb;
          uint32_t gk = 0, gv = 0;
          std::memcpy(&gk, &hk[off], eb);
          std::memcpy(&gv, &hv[off], eb);
          const uint32_t wk = host_encode(k[tt * n + i], t, 0.37f), wv = host_encode(v[tt * n + i], t, 1.9f);
          if (gk != wk || gv != wv) {
            EXPECT(false, "kv_store %s vec %d t %d i %d x %g: got %x/%x want %x/%x", ename(t), vec, tt, i,
                   k[tt * n + i], gk, gv, wk, wv);
            ++bad;
          }
        }
      // Layer 0 and untouched cells stay zero.
      size_t nonzero = 0;
      for (size_t i = 0; i < layer_bytes; ++i) nonzero += hk[i] != 0 || hv[i] != 0;
      EXPECT(nonzero == 0, "kv_store %s wrote outside its layer", ename(t));
      std::printf("kv_store %-4s %s: %s\n", ename(t), vec ? "vec" : "scalar", bad ? "MISMATCH" : "bit-exact");
      cudaFree(dk); cudaFree(dv); cudaFree(dc);
      c.free_all();
    }
}

// ---- attention vs double softmax -----------------------------------------------------
std::vector<double> ref_attention(const std::vector<uint8_t>& hk, const std::vector<uint8_t>& hv, const DevCache& c,
                                  int layer, int32_t hi, const std::vector<float>& q, int T, int H,
                                  const std::vector<int32_t>& seq, const std::vector<int32_t>& pos, float scale) {
  const auto& kv = c.kv;
  const int D = kv.head_dim, group = H / kv.n_kv_heads;
  const size_t eb = esize(kv.type);
  const size_t lb = static_cast<size_t>(kv.n_cells) * kv.n_kv_heads * D * eb;
  std::vector<double> out(static_cast<size_t>(T) * H * D, 0.0);
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < H; ++h) {
      const int kvh = h / group;
      std::vector<double> sc;
      std::vector<int> cells;
      double mx = -INFINITY;
      for (int cell = 0; cell < hi; ++cell) {
        if (seq[t] < 0 || seq[t] >= 64 || !((c.seqs[cell] >> seq[t]) & 1) || c.pos[cell] > pos[t]) continue;
        const size_t base = layer * lb + (static_cast<size_t>(cell) * kv.n_kv_heads + kvh) * D * eb;
        double d = 0;
        for (int i = 0; i < D; ++i)
          d += static_cast<double>(q[(static_cast<size_t>(t) * H + h) * D + i]) *
               (host_decode(&hk[base + i * eb], kv.type) * static_cast<double>(c.ks[layer]));
        d *= scale;
        sc.push_back(d);
        cells.push_back(cell);
        mx = std::max(mx, d);
      }
      double sum = 0;
      std::vector<double> acc(D, 0.0);
      for (size_t j = 0; j < cells.size(); ++j) {
        const double p = std::exp(sc[j] - mx);
        sum += p;
        const size_t base = layer * lb + (static_cast<size_t>(cells[j]) * kv.n_kv_heads + kvh) * D * eb;
        for (int i = 0; i < D; ++i) acc[i] += p * host_decode(&hv[base + i * eb], kv.type) * c.vs[layer];
      }
      for (int i = 0; i < D; ++i) out[(static_cast<size_t>(t) * H + h) * D + i] = sum > 0 ? acc[i] / sum : 0.0;
    }
  return out;
}

void compare(const std::vector<float>& got, const std::vector<double>& want, double vmax, const char* what,
             int splits) {
  int bad = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(got[i] - want[i]);
    const double tol = 2e-5 * vmax + 1e-4 * std::fabs(want[i]);
    worst = std::max(worst, err / tol);
    if (!(err <= tol)) {
      EXPECT(false, "%s splits %d [%zu]: got %g want %g", what, splits, i, got[i], want[i]);
      ++bad;
    }
    if (want[i] == 0.0 && got[i] != 0.0) EXPECT(false, "%s: all-masked output not zero", what);
  }
  std::printf("attention %-22s splits %2d: %s (worst err/tol %.3f)\n", what, splits, bad ? "MISMATCH" : "ok", worst);
}

void check_attention(std::mt19937& rng, Elem t, int D, int n_kv, int H, int n_cells, int T, const char* what,
                     int n_sm) {
  const int n_layers = 2, layer = 1;
  std::uniform_real_distribution<float> ud(0.0f, 1.0f);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  // Metadata: 4 sequences, a shared prefix seen by seqs 0..2, ~10% free cells,
  // cells in shuffled order (positions out of order).
  std::vector<int32_t> pos(n_cells, -1);
  std::vector<unsigned long long> seqs(n_cells, 0);
  std::vector<int> order(n_cells);
  for (int i = 0; i < n_cells; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<int> next(4, 0);
  const int P = n_cells / 10;
  for (int i = 0; i < n_cells; ++i) {
    const int cell = order[i];
    if (i < P) { pos[cell] = i; seqs[cell] = 7; continue; }
    if (ud(rng) < 0.1f) continue;
    const int s = static_cast<int>(ud(rng) * 4) % 4;
    if (next[s] == 0 && s < 3) next[s] = P;
    pos[cell] = next[s]++;
    seqs[cell] = 1ull << s;
  }
  int32_t hi = 0;
  for (int i = 0; i < n_cells; ++i) if (seqs[i]) hi = i + 1;
  const float ks = esize(t) == 1 ? 0.05f : 1.0f, vs = esize(t) == 1 ? 0.02f : 1.0f;
  DevCache c = make_cache(t, n_layers, n_cells, n_kv, D, pos, seqs, hi, ks, vs);
  // Fill both layers through kv_store (all cells).
  const int n = n_kv * D;
  for (int l = 0; l < n_layers; ++l) {
    std::vector<float> k(static_cast<size_t>(n_cells) * n), v(k.size());
    for (auto& x : k) x = nd(rng);
    for (auto& x : v) x = 3.0f * nd(rng);
    std::vector<int32_t> cells(n_cells);
    for (int i = 0; i < n_cells; ++i) cells[i] = i;
    float* dk = dupload(k); float* dv = dupload(v); int32_t* dc = dupload(cells);
    CKI(f8k::kv_store(c.kv, l, dk, dv, dc, n_cells, nullptr));
    CK(cudaDeviceSynchronize());
    cudaFree(dk); cudaFree(dv); cudaFree(dc);
  }
  const size_t bytes = static_cast<size_t>(n_layers) * n_cells * n * esize(t);
  std::vector<uint8_t> hk(bytes), hv(bytes);
  CK(cudaMemcpy(hk.data(), c.kv.k, bytes, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(hv.data(), c.kv.v, bytes, cudaMemcpyDeviceToHost));
  double vmax = 0;
  for (size_t i = bytes / 2; i < bytes; i += esize(t)) vmax = std::max(vmax, std::fabs(host_decode(&hv[i], t) * 1.0 * vs));

  std::vector<float> q(static_cast<size_t>(T) * H * D);
  for (auto& x : q) x = nd(rng);
  std::vector<int32_t> qs(T), qp(T);
  for (int i = 0; i < T; ++i) {
    qs[i] = i % 6 == 4 ? 9 : i % 4;                      // seq 9 has no cells: all masked
    qp[i] = i % 6 == 5 ? -1 : static_cast<int>(ud(rng) * (next[qs[i] % 4] + 2));  // -1: all masked
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  float* dq = dupload(q);
  int32_t* dseq = dupload(qs);
  int32_t* dpos = dupload(qp);
  float* dout = dalloc<float>(q.size());
  const auto want = ref_attention(hk, hv, c, layer, hi, q, T, H, qs, qp, scale);
  for (int splits : {1, f8k::attention_splits(T, H, n_sm), 64}) {
    const size_t wf = f8k::attention_workspace_floats(T, H, D, splits);
    float* work = wf ? dalloc<float>(wf) : nullptr;
    CK(cudaMemset(dout, 0xFF, q.size() * 4));  // NaN: every output must be written
    CKI(f8k::attention(c.kv, layer, dq, T, dseq, dpos, H, scale, splits, work, dout, nullptr));
    CK(cudaDeviceSynchronize());
    std::vector<float> got(q.size());
    CK(cudaMemcpy(got.data(), dout, got.size() * 4, cudaMemcpyDeviceToHost));
    compare(got, want, vmax, what, splits);
    cudaFree(work);
  }

  // CUDA graph captured with a small hi, replayed after hi grew on the device.
  {
    const int splits = f8k::attention_splits(T, H, n_sm);
    const size_t wf = f8k::attention_workspace_floats(T, H, D, splits);
    float* work = wf ? dalloc<float>(wf) : nullptr;
    const int32_t small = hi / 3 / f8k::kKvPage * f8k::kKvPage;  // whole pages: see upload_pages
    upload_pages(c, small);
    cudaStream_t st;
    CK(cudaStreamCreate(&st));
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    CKI(f8k::attention(c.kv, layer, dq, T, dseq, dpos, H, scale, splits, work, dout, st));
    CK(cudaStreamEndCapture(st, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    std::vector<float> got(q.size());
    CK(cudaGraphLaunch(ge, st));
    CK(cudaStreamSynchronize(st));
    CK(cudaMemcpy(got.data(), dout, got.size() * 4, cudaMemcpyDeviceToHost));
    compare(got, ref_attention(hk, hv, c, layer, small, q, T, H, qs, qp, scale), vmax, "graph, hi/3", splits);
    upload_pages(c, hi);
    CK(cudaGraphLaunch(ge, st));
    CK(cudaStreamSynchronize(st));
    CK(cudaMemcpy(got.data(), dout, got.size() * 4, cudaMemcpyDeviceToHost));
    compare(got, want, vmax, "graph, hi grown", splits);
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);
    cudaStreamDestroy(st);
    cudaFree(work);
  }
  cudaFree(dq); cudaFree(dseq); cudaFree(dpos); cudaFree(dout);
  c.free_all();
}


}  // namespace

int main(int argc, char** argv) {
  cudaDeviceProp prop{};
  if (!bench_device(&prop)) return 0;
  const bool check_only = argc > 1 && std::strcmp(argv[1], "check") == 0;
  const int reps = argc > 1 && !check_only ? std::max(1, std::atoi(argv[1])) : 20;
  const int n_sm = prop.multiProcessorCount;

  std::mt19937 rng(42);
  check_kv_store(rng);
  check_attention(rng, Elem::E4M3, 128, 2, 8, 700, 1, "e4m3 d128 T1", n_sm);
  check_attention(rng, Elem::E4M3, 128, 2, 8, 700, 37, "e4m3 d128 T37", n_sm);
  check_attention(rng, Elem::BF16, 64, 4, 8, 333, 5, "bf16 d64", n_sm);
  check_attention(rng, Elem::F16, 256, 1, 4, 300, 6, "f16 d256", n_sm);
  check_attention(rng, Elem::E5M2, 80, 2, 2, 257, 6, "e5m2 d80 strided", n_sm);
  check_attention(rng, Elem::F32, 96, 2, 6, 150, 7, "f32 d96 strided", n_sm);
  check_attention(rng, Elem::E4M3, 128, 2, 8, 1200, 300, "e4m3 d128 prefill300", n_sm);
  if (g_fail) {
    std::printf("SELF-CHECK FAILED (%d)\n", g_fail);
    return 1;
  }
  std::printf("self-check passed\n");
  if (check_only) return 0;

  cudaStream_t st;
  CK(cudaStreamCreate(&st));
  // Copy bandwidth: 1 GiB device-to-device, read + write bytes.
  const size_t cp_bytes = size_t(1) << 30;
  uint8_t* src = dalloc<uint8_t>(cp_bytes);
  uint8_t* dst = dalloc<uint8_t>(cp_bytes);
  CK(cudaMemset(src, 1, cp_bytes));
  const float cp_ms = median_ms(reps, st, [&](int) {
    CK(cudaMemcpyAsync(dst, src, cp_bytes, cudaMemcpyDeviceToDevice, st));
  });
  const double copy_gbs = 2.0 * cp_bytes / (cp_ms * 1e-3) / 1e9;
  std::printf("D2D copy: %.1f GB/s (read + write)\n", copy_gbs);
  cudaFree(src);
  cudaFree(dst);

  const int H = 32, n_kv = 8, D = 128;
  std::printf("%-6s %-5s %-6s %-7s %10s %10s %8s\n", "ctx", "batch", "splits", "layers", "us", "GB/s", "%copy");
  for (int ctx : {1024, 4096, 16384, 65536})
    for (int batch : {1, 8}) {
      const int n_cells = ctx * batch;
      const size_t layer_bytes = static_cast<size_t>(n_cells) * n_kv * D;  // per K (and V)
      const int n_layers = static_cast<int>(std::max<size_t>(1, (size_t(256) << 20) / (2 * layer_bytes)));
      std::vector<int32_t> pos(n_cells);
      std::vector<unsigned long long> seqs(n_cells);
      for (int b = 0; b < batch; ++b)
        for (int i = 0; i < ctx; ++i) {
          pos[b * ctx + i] = i;
          seqs[b * ctx + i] = 1ull << b;
        }
      DevCache c = make_cache(Elem::E4M3, n_layers, n_cells, n_kv, D, pos, seqs, n_cells, 0.05f, 0.02f);
      // Random FP8 codes (no NaN codes): a 16 MiB pattern replicated over the cache.
      const size_t total = layer_bytes * n_layers;
      const size_t pat = std::min(total, size_t(16) << 20);
      std::vector<uint8_t> hp(pat);
      for (auto& x : hp) { x = static_cast<uint8_t>(rng()); if ((x & 0x7F) == 0x7F) x ^= 1; }
      for (size_t off = 0; off < total; off += pat) {
        const size_t nb = std::min(pat, total - off);
        CK(cudaMemcpy(c.kv.k + off, hp.data(), nb, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(c.kv.v + off, hp.data(), nb, cudaMemcpyHostToDevice));
      }
      std::vector<float> q(static_cast<size_t>(batch) * H * D);
      std::normal_distribution<float> nd(0.0f, 1.0f);
      for (auto& x : q) x = nd(rng);
      std::vector<int32_t> qs(batch), qp(batch, ctx - 1);
      for (int b = 0; b < batch; ++b) qs[b] = b;
      float* dq = dupload(q);
      int32_t* dseq = dupload(qs);
      int32_t* dpos = dupload(qp);
      float* dout = dalloc<float>(q.size());
      const int splits = f8k::attention_splits(batch, H, n_sm);
      const size_t wf = f8k::attention_workspace_floats(batch, H, D, splits);
      float* work = wf ? dalloc<float>(wf) : nullptr;
      const float scale = 1.0f / std::sqrt(static_cast<float>(D));
      const float ms = median_ms(reps, st, [&](int i) {
        CKI(f8k::attention(c.kv, i % n_layers, dq, batch, dseq, dpos, H, scale, splits, work, dout, st));
      });
      CK(cudaGetLastError());
      const double kv_bytes = 2.0 * layer_bytes;  // unique K + V bytes of one layer
      const double gbs = kv_bytes / (ms * 1e-3) / 1e9;
      std::printf("%-6d %-5d %-6d %-7d %10.1f %10.1f %7.1f%%\n", ctx, batch, splits, n_layers, ms * 1e3, gbs,
                  100.0 * gbs / copy_gbs);
      cudaFree(dq); cudaFree(dseq); cudaFree(dpos); cudaFree(dout); cudaFree(work);
      c.free_all();
    }
  cudaStreamDestroy(st);
  return 0;
}
