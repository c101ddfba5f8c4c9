// tests/backend/bench_cuda_fmha.cpp — microbenchmark of the FP8 FMHA prefill
// kernel (kernels/fmha_fp8.cu), not a test. Run: bench_cuda_fmha [reps]
// (`bench_cuda_fmha check`: the self-check only, e.g. under compute-sanitizer).
//
// Self-check (exits 1 on failure): D 64/128/256, two sequences in 64-cell
// pages, a mixed query batch of 200 tokens (chunked prefill against what the
// cache holds), window 0 and 100: every output written and finite, and
// within 3% relative RMS of the FP32 attention kernel over the same cache
// (the CPU emulation measures ~1.2% on such data; agreement with the
// emulation itself is test_cuda_backend's).
// Then Llama-3-8B shapes (32 query heads, 8 KV heads, head_dim 128, E4M3
// cache, causal, one sequence) at 1k, 4k, 16k and 64k tokens: the whole
// prefill's attention as one call, median CUDA-event time, TFLOP/s with the
// FlashAttention convention (4 * T^2 / 2 * D * H for causal), next to f8's
// FP32 attention kernel on the same cache (the path without FP8 FMHA).
// PyTorch SDPA (BF16, flash) in the same run: scripts/gpu_ref_torch.py sdpa.
// Prints "no CUDA device" and exits 0 when there is none.
#include <random>
#include <string>

#include "cuda_bench_util.h"
#include "kernels/attention.cuh"
#include "kernels/fmha.cuh"

namespace {

struct Run {
  DevCache c;
  float *q = nullptr, *out = nullptr, *ref = nullptr, *work = nullptr;
  int32_t *seq = nullptr, *pos = nullptr;
  int T = 0, H = 0, splits = 1;
};

// Cache of n_cells cells: sequences laid out page by page as KvCells does.
Run make_run(std::mt19937& rng, int D, int H, int n_kv, const std::vector<int>& lens, const std::vector<int32_t>& qs,
             const std::vector<int32_t>& qp, int n_sm) {
  std::vector<int32_t> pos;
  std::vector<unsigned long long> seqs;
  for (size_t s = 0; s < lens.size(); ++s) {
    for (int i = 0; i < lens[s]; ++i) pos.push_back(i), seqs.push_back(1ull << s);
    while (pos.size() % f8k::kKvPage) pos.push_back(-1), seqs.push_back(0);  // the rest of its last page
  }
  const int n_cells = static_cast<int>(pos.size());
  Run r;
  r.c = make_cache(Elem::E4M3, 1, n_cells, n_kv, D, pos, seqs, n_cells, 6.0f / 448.0f, 3.0f / 448.0f);
  const size_t bytes = size_t(n_cells) * n_kv * D;
  // Random E4M3 codes without NaN (|code value| <= 240), different for K and V.
  std::vector<uint8_t> hk(std::min(bytes, size_t(16) << 20)), hv(hk.size());
  for (auto* h : {&hk, &hv})
    for (auto& x : *h) {
      x = static_cast<uint8_t>(rng());
      if ((x & 0x7F) >= 0x78) x &= 0xB7;
    }
  for (size_t off = 0; off < bytes; off += hk.size()) {
    const size_t nb = std::min(hk.size(), bytes - off);
    CK(cudaMemcpy(r.c.kv.k + off, hk.data(), nb, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(r.c.kv.v + off, hv.data(), nb, cudaMemcpyHostToDevice));
  }
  r.T = static_cast<int>(qs.size());
  r.H = H;
  std::vector<float> q(size_t(r.T) * H * D);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto& x : q) x = nd(rng);
  r.q = dupload(q);
  r.seq = dupload(qs);
  r.pos = dupload(qp);
  r.out = dalloc<float>(q.size());
  r.ref = dalloc<float>(q.size());
  r.splits = f8k::attention_splits(r.T, H, n_sm);
  const size_t wf = f8k::attention_workspace_floats(r.T, H, D, r.splits);
  r.work = wf ? dalloc<float>(wf) : nullptr;
  return r;
}
void free_run(Run& r) {
  cudaFree(r.q); cudaFree(r.out); cudaFree(r.ref); cudaFree(r.work); cudaFree(r.seq); cudaFree(r.pos);
  r.c.free_all();
}

int self_check(std::mt19937& rng, int n_sm) {
  int fails = 0;
  for (int D : {64, 128, 256})
    for (int window : {0, 100}) {
      const int H = 8, n_kv = 2;
      std::vector<int32_t> qs, qp;
      for (int t = 0; t < 200; ++t) {
        if (t % 4 == 3) qs.push_back(1), qp.push_back(200 + t / 4);
        else qs.push_back(0), qp.push_back(550 + t);
      }
      Run r = make_run(rng, D, H, n_kv, {700, 300}, qs, qp, n_sm);
      const float scale = 1.0f / std::sqrt(float(D));
      CK(cudaMemset(r.out, 0xFF, size_t(r.T) * H * D * 4));  // NaN: every output must be written
      CKI(f8k::fmha_fp8(r.c.kv, 0, r.q, r.T, r.seq, r.pos, H, scale, r.out, nullptr, window));
      CKI(f8k::attention(r.c.kv, 0, r.q, r.T, r.seq, r.pos, H, scale, r.splits, r.work, r.ref, nullptr, window));
      CK(cudaDeviceSynchronize());
      std::vector<float> got(size_t(r.T) * H * D), want(got.size());
      CK(cudaMemcpy(got.data(), r.out, got.size() * 4, cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(want.data(), r.ref, want.size() * 4, cudaMemcpyDeviceToHost));
      double e = 0, w = 0;
      size_t bad = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        if (!std::isfinite(got[i])) { ++bad; continue; }
        e += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
        w += double(want[i]) * want[i];
      }
      const double rel = std::sqrt(e / std::max(w, 1e-30));
      const bool ok = bad == 0 && rel < 0.03;
      std::printf("check D %3d window %3d: rel RMS vs FP32 attention %.4f, non-finite %zu: %s\n", D, window, rel, bad,
                  ok ? "ok" : "FAIL");
      fails += !ok;
      free_run(r);
    }
  return fails;
}

}  // namespace

int main(int argc, char** argv) {
  cudaDeviceProp prop{};
  if (!bench_device(&prop)) return 0;
  const bool check_only = argc > 1 && std::string(argv[1]) == "check";
  const int reps = (!check_only && argc > 1) ? std::max(1, std::atoi(argv[1])) : 10;
  std::mt19937 rng(42);
  if (self_check(rng, prop.multiProcessorCount)) return 1;
  if (check_only) return 0;

  cudaStream_t st;
  CK(cudaStreamCreate(&st));
  const int H = 32, n_kv = 8, D = 128;
  std::printf("%-7s %12s %10s %14s %10s %8s\n", "tokens", "fmha_ms", "TFLOP/s", "fp32attn_ms", "TFLOP/s", "speedup");
  for (int T : {1024, 4096, 16384, 65536}) {
    std::vector<int32_t> qs(T, 0), qp(T);
    for (int t = 0; t < T; ++t) qp[t] = t;
    Run r = make_run(rng, D, H, n_kv, {T}, qs, qp, prop.multiProcessorCount);
    const float scale = 1.0f / std::sqrt(float(D));
    const double flops = 4.0 * double(T) * double(T) / 2.0 * D * H;
    const int rf = T >= 65536 ? std::max(1, reps / 5) : reps;
    const float ms = median_ms(rf, st, [&](int) {
      CKI(f8k::fmha_fp8(r.c.kv, 0, r.q, T, r.seq, r.pos, H, scale, r.out, st));
    });
    const int r32 = T >= 16384 ? 1 : std::max(1, reps / 4);
    const float ms32 = median_ms(r32, st, [&](int) {
      CKI(f8k::attention(r.c.kv, 0, r.q, T, r.seq, r.pos, H, scale, r.splits, r.work, r.ref, st));
    });
    CK(cudaGetLastError());
    std::printf("%-7d %12.3f %10.1f %14.3f %10.1f %7.2fx\n", T, ms, flops / (ms * 1e-3) / 1e12, ms32,
                flops / (ms32 * 1e-3) / 1e12, ms32 / ms);
    std::fflush(stdout);
    free_run(r);
  }
  cudaStreamDestroy(st);
  return 0;
}
