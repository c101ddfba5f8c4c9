// tests/backend/cuda_bench_util.h — helpers the CUDA microbenchmarks share
// (bench_cuda_attn.cpp, bench_cuda_fmha.cpp): error checks, host codecs,
// device allocation, a device KV cache with its page tables, timing.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ggf8/fp8.h"
#include "kernels/types.h"

namespace {

#define CK(x)                                                                                  \
  do {                                                                                         \
    const cudaError_t e_ = (x);                                                                \
    if (e_ != cudaSuccess) {                                                                   \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(2);                                                                            \
    }                                                                                          \
  } while (0)
#define CKI(x) CK(static_cast<cudaError_t>(x))

using f8k::Elem;

inline size_t esize(Elem t) { return t == Elem::F32 ? 4 : (t == Elem::F16 || t == Elem::BF16) ? 2 : 1; }
inline const char* ename(Elem t) {
  switch (t) {
    case Elem::F32: return "f32";
    case Elem::F16: return "f16";
    case Elem::BF16: return "bf16";
    case Elem::E4M3: return "e4m3";
    default: return "e5m2";
  }
}

inline uint32_t fbits(float x) { uint32_t u; std::memcpy(&u, &x, 4); return u; }
inline float bitsf(uint32_t u) { float x; std::memcpy(&x, &u, 4); return x; }

// Host encoders (the CPU backend's semantics).
inline uint16_t host_f16(float f) {
  const uint32_t u = fbits(f), a = u & 0x7FFFFFFFu;
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  if (a > 0x7F800000u) return sign | 0x7E00u;
  if (a >= 0x477FF000u) return sign | 0x7C00u;
  if (a >= 0x38800000u) {
    const uint32_t r = a - (112u << 23);
    return sign | static_cast<uint16_t>((r + 0xFFFu + ((r >> 13) & 1u)) >> 13);
  }
  return sign | static_cast<uint16_t>(std::nearbyint(static_cast<double>(bitsf(a)) * 16777216.0));
}
inline float host_f16_to_f32(uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const float s = (h & 0x8000) ? -1.0f : 1.0f;
  if (e == 31) return m ? NAN : s * INFINITY;
  if (e == 0) return s * std::ldexp(static_cast<float>(m), -24);
  return s * std::ldexp(static_cast<float>(m | 1024), e - 25);
}
inline uint16_t host_bf16(float f) {
  uint32_t u = fbits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
// Encoded bits of x for a cache of type t with FP8 scale s.
inline uint32_t host_encode(float x, Elem t, float s) {
  switch (t) {
    case Elem::E4M3: return ggf8::e4m3_from_f32(x / s);
    case Elem::E5M2: return ggf8::e5m2_from_f32(x / s);
    case Elem::F16: return host_f16(x);
    case Elem::BF16: return host_bf16(x);
    default: return fbits(x);
  }
}
inline float host_decode(const uint8_t* p, Elem t) {
  switch (t) {
    case Elem::E4M3: return ggf8::e4m3_to_f32(*p);
    case Elem::E5M2: return ggf8::e5m2_to_f32(*p);
    case Elem::F16: { uint16_t h; std::memcpy(&h, p, 2); return host_f16_to_f32(h); }
    case Elem::BF16: { uint16_t h; std::memcpy(&h, p, 2); return bitsf(static_cast<uint32_t>(h) << 16); }
    default: { float x; std::memcpy(&x, p, 4); return x; }
  }
}

template <class T>
inline T* dalloc(size_t n) {
  void* p = nullptr;
  CK(cudaMalloc(&p, (n ? n : 1) * sizeof(T)));
  return static_cast<T*>(p);
}
template <class T>
inline T* dupload(const std::vector<T>& v) {
  T* p = dalloc<T>(v.size());
  CK(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return p;
}

// A device KV cache plus its host mirror of the metadata.
struct DevCache {
  f8k::DevKv kv;
  std::vector<int32_t> pos;
  std::vector<unsigned long long> seqs;
  std::vector<float> ks, vs;
  int32_t hi = 0;
  int32_t* pages = nullptr;  // device: pos_min[np] | pos_max[np] | list_off[65] | list_pages[np * 64]
  void free_all() {
    cudaFree(kv.k); cudaFree(kv.v);
    cudaFree(const_cast<int32_t*>(kv.cell_pos));
    cudaFree(const_cast<unsigned long long*>(kv.cell_seqs));
    cudaFree(const_cast<int32_t*>(kv.hi));
    cudaFree(const_cast<float*>(kv.k_scale)); cudaFree(const_cast<float*>(kv.v_scale));
    cudaFree(pages);
  }
};

// Page summaries and per-sequence page lists (kernels/types.h DevKv) of the
// used cells below `limit`, uploaded: what CudaKVCache::sync does from
// backend/kv_cells.h. With limit a multiple of 64 the kernels see exactly
// the cells < limit.
inline void upload_pages(DevCache& c, int32_t limit) {
  const int np = c.kv.n_pages;
  std::vector<int32_t> h(2 * size_t(np) + f8k::kKvMaxSeq + 1 + size_t(np) * f8k::kKvMaxSeq, 0);
  std::vector<unsigned long long> pseqs(np, 0);
  for (int p = 0; p < np; ++p) h[p] = 0x7fffffff, h[np + p] = -1;
  for (int i = 0; i < limit && i < c.kv.n_cells; ++i) {
    if (!c.seqs[i]) continue;
    const int p = i / f8k::kKvPage;
    h[p] = std::min(h[p], c.pos[i]);
    h[np + p] = std::max(h[np + p], c.pos[i]);
    pseqs[p] |= c.seqs[i];
  }
  int32_t* off = h.data() + 2 * np;
  int32_t* lp = off + f8k::kKvMaxSeq + 1;
  int n = 0;
  for (int s = 0; s < f8k::kKvMaxSeq; ++s) {
    off[s] = n;
    for (int p = 0; p < np; ++p)
      if ((pseqs[p] >> s) & 1ull) lp[n++] = p;
  }
  off[f8k::kKvMaxSeq] = n;
  CK(cudaMemcpy(c.pages, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
}

inline DevCache make_cache(Elem t, int n_layers, int n_cells, int n_kv, int D, const std::vector<int32_t>& pos,
                    const std::vector<unsigned long long>& seqs, int32_t hi, float ks, float vs) {
  DevCache c;
  c.pos = pos; c.seqs = seqs; c.hi = hi;
  c.ks.assign(n_layers, ks); c.vs.assign(n_layers, vs);
  f8k::DevKv& kv = c.kv;
  kv.type = t; kv.n_layers = n_layers; kv.n_cells = n_cells; kv.n_kv_heads = n_kv; kv.head_dim = D;
  const size_t bytes = static_cast<size_t>(n_layers) * n_cells * n_kv * D * esize(t);
  kv.k = dalloc<uint8_t>(bytes);
  kv.v = dalloc<uint8_t>(bytes);
  CK(cudaMemset(kv.k, 0, bytes));
  CK(cudaMemset(kv.v, 0, bytes));
  kv.cell_pos = dupload(pos);
  kv.cell_seqs = dupload(seqs);
  kv.hi = dupload(std::vector<int32_t>{hi});
  kv.k_scale = dupload(c.ks);
  kv.v_scale = dupload(c.vs);
  kv.n_pages = (n_cells + f8k::kKvPage - 1) / f8k::kKvPage;
  c.pages = dalloc<int32_t>(2 * size_t(kv.n_pages) + f8k::kKvMaxSeq + 1 + size_t(kv.n_pages) * f8k::kKvMaxSeq);
  kv.page_pos_min = c.pages;
  kv.page_pos_max = c.pages + kv.n_pages;
  kv.list_off = c.pages + 2 * size_t(kv.n_pages);
  kv.list_pages = kv.list_off + f8k::kKvMaxSeq + 1;
  upload_pages(c, hi);
  return c;
}

// Device 0's properties, printed; false (after printing "no CUDA device",
// the benchmarks then exit 0) when there is none.
inline bool bench_device(cudaDeviceProp* prop) {
  int n_dev = 0;
  if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
    std::printf("no CUDA device\n");
    return false;
  }
  CK(cudaGetDeviceProperties(prop, 0));
  std::printf("device: %s, sm_%d%d, %d SMs, L2 %d MB\n", prop->name, prop->major, prop->minor,
              prop->multiProcessorCount, prop->l2CacheSize >> 20);
  return true;
}

// ---- timing ---------------------------------------------------------------------------
template <class F>
float median_ms(int reps, cudaStream_t st, F&& f) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) f(i);
  CK(cudaStreamSynchronize(st));
  std::vector<float> ms;
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(a, st));
    f(i);
    CK(cudaEventRecord(b, st));
    CK(cudaEventSynchronize(b));
    float x = 0;
    CK(cudaEventElapsedTime(&x, a, b));
    ms.push_back(x);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace
