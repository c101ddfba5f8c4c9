// tests/backend/bench_cuda_gemm.cpp — GPU microbenchmark of the decode GEMMs
// (kernels/gemm_fp8.cu, gemm_wonly.cu, act_quant.cu), not a test. Plain C++
// against the launchers of kernels/gemm.cuh and the CUDA runtime.
//
//   bench_cuda_gemm [--no-check] [--check-only] [--reps N]
//
// 1. A correctness pass first (seconds; skip with --no-check): quantize_act
//    bit-exact against ggf8 on the host; gemm_fp8 (E4M3/E5M2, every scale
//    mode, bias, odd N and K, T from 1 to 130) and gemm_wonly (F32/F16/BF16)
//    against double-precision host dot products; gemm_epilogue bit-exact;
//    gemm_fp8 run twice bit-identical. Prints the worst error relative to
//    sum |products| (the tensor cores' internal accumulation precision).
//    Exits 1 on a failure.
// 2. Device-to-device copy bandwidth (cudaMemcpyAsync of 1 GiB; read +
//    write bytes / time): the practical ceiling.
// 3. gemm_fp8 on Llama-3-8B shapes (random E4M3 weights, channel scales) for
//    T = 1..64, weights rotated through enough copies that L2 (60 MB) never
//    serves them; CUDA events around each call, median of --reps (20).
//    Prints time, GB/s of weight bytes and % of the copy bandwidth. Then
//    gemm_wonly with BF16 weights and quantize_act.
// Exits 0 with "no CUDA device" when there is none.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ggf8/fp8.h"
#include "kernels/gemm.cuh"
#include "kernels/types.h"

namespace {

using f8k::DevActQ;
using f8k::DevWeight;
using f8k::Elem;
using f8k::Scale;

#define CK(x)                                                                                   \
  do {                                                                                          \
    const cudaError_t e_ = static_cast<cudaError_t>(x);                                         \
    if (e_ != cudaSuccess) {                                                                    \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                             \
    }                                                                                           \
  } while (0)

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  float uni(float lo, float hi) { return lo + (hi - lo) * static_cast<float>(next() >> 40) / 16777216.0f; }
  uint8_t fp8(bool e5m2) {
    for (;;) {
      const uint8_t b = static_cast<uint8_t>(next() >> 32);
      if (e5m2 ? ((b & 0x7C) == 0x7C) : ((b & 0x7F) == 0x7F)) continue;
      return b;
    }
  }
};

template <class T>
T* dev_upload(const std::vector<T>& h) {
  T* d = nullptr;
  CK(cudaMalloc(&d, std::max<size_t>(h.size(), 1) * sizeof(T)));
  if (!h.empty()) CK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}
template <class T>
std::vector<T> dev_download(const T* d, size_t n) {
  std::vector<T> h(n);
  CK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}

int g_failures = 0;
void fail(const std::string& what) {
  ++g_failures;
  std::printf("CHECK FAIL: %s\n", what.c_str());
}

// ---- correctness ---------------------------------------------------------------------------

void check_quantize() {
  Rng rng(11);
  const int32_t T = 5;
  const int64_t K = 1000, ldx = 1024;
  std::vector<float> x(T * K);
  for (auto& v : x) v = rng.uni(-3.0f, 3.0f);
  for (int64_t k = 0; k < K; ++k) x[1 * K + k] = 0.0f;  // all-zero row: tiny scale
  x[2 * K + 17] = 1e30f;                                  // saturating outlier
  float* dx = dev_upload(x);
  uint8_t* dq = nullptr;
  float* dsx = nullptr;
  CK(cudaMalloc(&dq, T * ldx));
  CK(cudaMemset(dq, 0xAB, T * ldx));
  CK(cudaMalloc(&dsx, T * sizeof(float)));
  for (float st : {0.0f, 0.0123f}) {
    DevActQ a{dq, dsx, ldx};
    CK(f8k::quantize_act(dx, T, K, st, a, nullptr));
    CK(cudaDeviceSynchronize());
    const auto q = dev_download(dq, T * ldx);
    const auto sx = dev_download(dsx, T);
    int bad = 0;
    for (int32_t t = 0; t < T; ++t) {
      float s = st;
      if (!(st > 0)) {
        float amax = 0;
        for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(x[t * K + k]));
        const float d = amax / ggf8::kE4M3Max, tiny = 1.0f / (448.0f * 512.0f);
        s = d > tiny ? d : tiny;
      }
      if (std::memcmp(&s, &sx[t], 4) != 0) ++bad;
      for (int64_t k = 0; k < ldx; ++k) {
        const uint8_t want = k < K ? ggf8::e4m3_from_f32(x[t * K + k] / s) : 0;
        if (q[t * ldx + k] != want) ++bad;
      }
    }
    std::printf("check quantize_act static_scale=%g: %s\n", st, bad ? "FAIL" : "bit-exact");
    if (bad) fail("quantize_act mismatches: " + std::to_string(bad));
  }
  CK(cudaFree(dx));
  CK(cudaFree(dq));
  CK(cudaFree(dsx));
}

struct Fp8Case {
  int64_t N, K;
  int32_t T;
  bool e5m2;
  Scale mode;
  bool bias;
};

double g_worst_rel = 0;  // max |err| / (sum |products| * |sx sw|) over gemm_fp8 checks

void check_fp8_case(const Fp8Case& c, uint64_t seed) {
  Rng rng(seed);
  const int64_t stride = (c.K + 63) / 64 * 64, ldx = stride;
  std::vector<uint8_t> w(c.N * stride, 0), xq(c.T * ldx, 0);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t k = 0; k < c.K; ++k) w[n * stride + k] = rng.fp8(c.e5m2);
  for (int32_t t = 0; t < c.T; ++t)
    for (int64_t k = 0; k < c.K; ++k) xq[t * ldx + k] = rng.fp8(false);
  std::vector<float> sx(c.T), scale, bias;
  for (auto& v : sx) v = rng.uni(0.5f, 2.0f) / 448.0f;
  int32_t br = 0, bc = 0;
  int64_t sc = 0;
  if (c.mode == Scale::Tensor) scale = {rng.uni(0.5f, 2.0f)};
  if (c.mode == Scale::Channel) {
    scale.resize(c.N);
    for (auto& v : scale) v = rng.uni(0.5f, 2.0f);
  }
  if (c.mode == Scale::Block) {
    br = 128;
    bc = 128;
    sc = (c.K + bc - 1) / bc;
    scale.resize(((c.N + br - 1) / br) * sc);
    for (auto& v : scale) v = rng.uni(0.5f, 2.0f);
  }
  if (c.bias) {
    bias.resize(c.N);
    for (auto& v : bias) v = rng.uni(-1.0f, 1.0f);
  }
  uint8_t* dw = dev_upload(w);
  uint8_t* dxq = dev_upload(xq);
  float* dsx = dev_upload(sx);
  float* dscale = scale.empty() ? nullptr : dev_upload(scale);
  float* dbias = bias.empty() ? nullptr : dev_upload(bias);
  float* dy = nullptr;
  CK(cudaMalloc(&dy, c.T * c.N * sizeof(float)));
  CK(cudaMemset(dy, 0xFF, c.T * c.N * sizeof(float)));  // NaN: unwritten outputs show

  DevWeight dwt;
  dwt.data = dw;
  dwt.type = c.e5m2 ? Elem::E5M2 : Elem::E4M3;
  dwt.rows = c.N;
  dwt.cols = c.K;
  dwt.stride = stride;
  dwt.scale_mode = c.mode;
  dwt.scale = dscale;
  dwt.block_rows = br;
  dwt.block_cols = bc;
  dwt.scale_cols = sc;
  DevActQ a{dxq, dsx, ldx};
  CK(f8k::gemm_fp8(a, c.T, dwt, dbias, dy, nullptr));
  CK(cudaDeviceSynchronize());
  const auto y = dev_download(dy, c.T * c.N);
  CK(f8k::gemm_fp8(a, c.T, dwt, dbias, dy, nullptr));
  CK(cudaDeviceSynchronize());
  const auto y2 = dev_download(dy, c.T * c.N);
  const bool deterministic = std::memcmp(y.data(), y2.data(), y.size() * 4) == 0;

  int bad = 0;
  double worst = 0;
  for (int32_t t = 0; t < c.T; ++t)
    for (int64_t n = 0; n < c.N; ++n) {
      double dot = 0, mag = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double wv = c.e5m2 ? ggf8::e5m2_to_f32(w[n * stride + k]) : ggf8::e4m3_to_f32(w[n * stride + k]);
        const double sb = c.mode == Scale::Block ? scale[(n / br) * sc + k / bc] : 1.0;
        const double p = ggf8::e4m3_to_f32(xq[t * ldx + k]) * wv * sb;
        dot += p;
        mag += std::fabs(p);
      }
      const double sw = c.mode == Scale::Tensor ? scale[0] : c.mode == Scale::Channel ? scale[n] : 1.0;
      const double s = sx[t] * sw;
      const double ref = dot * s + (c.bias ? bias[n] : 0.0);
      const double err = std::fabs(y[t * c.N + n] - ref);
      const double rel = err / (mag * s + 1e-30);
      if (std::isnan(y[t * c.N + n])) worst = 1e30;
      else worst = std::max(worst, rel);
      // Loose on purpose (tensor-core internal accumulation is not FP32
      // exact); a layout bug gives errors of order 1.
      if (!(err <= 3e-4 * mag * s + 1e-5 * std::fabs(ref) + 1e-30)) {
        if (++bad <= 3)
          std::printf("  t %d n %lld: got %.9g want %.9g (sum|p| %.6g)\n", t, static_cast<long long>(n),
                      y[t * c.N + n], ref, mag * s);
      }
    }
  g_worst_rel = std::max(g_worst_rel, worst);
  char buf[256];
  std::snprintf(buf, sizeof buf, "gemm_fp8 N=%lld K=%lld T=%d %s scale=%d bias=%d", static_cast<long long>(c.N),
                static_cast<long long>(c.K), c.T, c.e5m2 ? "E5M2" : "E4M3", static_cast<int>(c.mode), c.bias);
  std::printf("check %s: %s, worst rel err %.3g%s\n", buf, bad ? "FAIL" : "ok", worst,
              deterministic ? "" : ", NOT deterministic");
  if (bad) fail(std::string(buf) + ": " + std::to_string(bad) + " bad outputs");
  if (!deterministic) fail(std::string(buf) + ": two runs differ");
  for (void* p : {static_cast<void*>(dw), static_cast<void*>(dxq), static_cast<void*>(dsx),
                  static_cast<void*>(dscale), static_cast<void*>(dbias), static_cast<void*>(dy)})
    if (p) CK(cudaFree(p));
}

uint16_t f16_bits_exact(float v) {  // v = m / 64, |m| < 128: exact in FP16
  if (v == 0.0f) return 0;
  uint32_t u;
  std::memcpy(&u, &v, 4);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const int32_t e = static_cast<int32_t>((u >> 23) & 0xFF) - 127 + 15;
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(e) << 10) | ((u >> 13) & 0x3FFu));
}

void check_wonly_case(Elem type, int64_t N, int64_t K, int32_t T, Scale mode, bool with_bias, uint64_t seed) {
  Rng rng(seed);
  const int esize = type == Elem::F32 ? 4 : 2;
  const int64_t per16 = 16 / esize;
  const int64_t stride = (K + per16 - 1) / per16 * per16 + per16;  // one extra padded group
  std::vector<float> wv(N * stride, 0.0f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      wv[n * stride + k] = static_cast<float>(static_cast<int>(rng.next() % 255) - 127) / 64.0f;
  std::vector<uint8_t> wb(N * stride * esize);
  for (int64_t i = 0; i < N * stride; ++i) {
    if (type == Elem::F32) {
      std::memcpy(&wb[i * 4], &wv[i], 4);
    } else {
      uint32_t u;
      std::memcpy(&u, &wv[i], 4);
      const uint16_t h = type == Elem::BF16 ? static_cast<uint16_t>(u >> 16) : f16_bits_exact(wv[i]);
      std::memcpy(&wb[i * 2], &h, 2);
    }
  }
  std::vector<float> x(T * K), scale, bias;
  for (auto& v : x) v = rng.uni(-1.0f, 1.0f);
  int32_t br = 0, bc = 0;
  int64_t sc = 0;
  if (mode == Scale::Tensor) scale = {rng.uni(0.5f, 2.0f)};
  if (mode == Scale::Channel) {
    scale.resize(N);
    for (auto& v : scale) v = rng.uni(0.5f, 2.0f);
  }
  if (mode == Scale::Block) {
    br = 16;
    bc = 64;
    sc = (K + bc - 1) / bc;
    scale.resize(((N + br - 1) / br) * sc);
    for (auto& v : scale) v = rng.uni(0.5f, 2.0f);
  }
  if (with_bias) {
    bias.resize(N);
    for (auto& v : bias) v = rng.uni(-1.0f, 1.0f);
  }
  uint8_t* dw = dev_upload(wb);
  float* dx = dev_upload(x);
  float* dscale = scale.empty() ? nullptr : dev_upload(scale);
  float* dbias = bias.empty() ? nullptr : dev_upload(bias);
  float* dy = nullptr;
  CK(cudaMalloc(&dy, T * N * sizeof(float)));
  CK(cudaMemset(dy, 0xFF, T * N * sizeof(float)));
  DevWeight w;
  w.data = dw;
  w.type = type;
  w.rows = N;
  w.cols = K;
  w.stride = stride;
  w.scale_mode = mode;
  w.scale = dscale;
  w.block_rows = br;
  w.block_cols = bc;
  w.scale_cols = sc;
  CK(f8k::gemm_wonly(dx, T, w, dbias, dy, nullptr));
  CK(cudaDeviceSynchronize());
  const auto y = dev_download(dy, T * N);
  int bad = 0;
  for (int32_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      double dot = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double sb = mode == Scale::Block ? scale[(n / br) * sc + k / bc] : 1.0;
        const double p = static_cast<double>(x[t * K + k]) * wv[n * stride + k] * sb;
        dot += p;
        mag += std::fabs(p);
      }
      const double sw = mode == Scale::Tensor ? scale[0] : mode == Scale::Channel ? scale[n] : 1.0;
      const double ref = dot * sw + (with_bias ? bias[n] : 0.0);
      const double err = std::fabs(y[t * N + n] - ref);
      if (!(err <= 2e-6 * mag * sw + 1e-6 * std::fabs(ref) + 1e-30)) {
        if (++bad <= 3)
          std::printf("  t %d n %lld: got %.9g want %.9g\n", t, static_cast<long long>(n), y[t * N + n], ref);
      }
    }
  char buf[200];
  std::snprintf(buf, sizeof buf, "gemm_wonly type=%d N=%lld K=%lld T=%d scale=%d bias=%d", static_cast<int>(type),
                static_cast<long long>(N), static_cast<long long>(K), T, static_cast<int>(mode), with_bias);
  std::printf("check %s: %s\n", buf, bad ? "FAIL" : "ok");
  if (bad) fail(buf);
  for (void* p : {static_cast<void*>(dw), static_cast<void*>(dx), static_cast<void*>(dscale),
                  static_cast<void*>(dbias), static_cast<void*>(dy)})
    if (p) CK(cudaFree(p));
}

void check_epilogue() {
  Rng rng(5);
  const int32_t T = 3;
  const int64_t N = 1001;
  std::vector<float> y(T * N), sx(T), sc(N), bias(N);
  for (auto& v : y) v = rng.uni(-100.0f, 100.0f);
  for (auto& v : sx) v = rng.uni(0.001f, 0.01f);
  for (auto& v : sc) v = rng.uni(0.5f, 2.0f);
  for (auto& v : bias) v = rng.uni(-1.0f, 1.0f);
  float* dy = dev_upload(y);
  float* dsx = dev_upload(sx);
  float* dsc = dev_upload(sc);
  float* db = dev_upload(bias);
  DevWeight w;
  w.rows = N;
  w.scale_mode = Scale::Channel;
  w.scale = dsc;
  CK(f8k::gemm_epilogue(dy, T, w, dsx, db, nullptr));
  CK(cudaDeviceSynchronize());
  const auto got = dev_download(dy, T * N);
  int bad = 0;
  for (int32_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      volatile float v = y[t * N + n] * sx[t];
      v = v * sc[n];
      const float want = v + bias[n];
      if (std::memcmp(&want, &got[t * N + n], 4) != 0) ++bad;
    }
  std::printf("check gemm_epilogue: %s\n", bad ? "FAIL" : "bit-exact");
  if (bad) fail("gemm_epilogue mismatches: " + std::to_string(bad));
  for (float* p : {dy, dsx, dsc, db}) CK(cudaFree(p));
}

void check_rejects() {
  DevWeight w;
  w.type = Elem::E4M3;
  w.rows = 16;
  w.cols = 100;
  w.stride = 100;  // not a multiple of 64
  DevActQ a{nullptr, nullptr, 128};
  const bool ok = f8k::gemm_fp8(a, 1, w, nullptr, nullptr, nullptr) != 0;
  std::printf("check gemm_fp8 rejects stride %% 64 != 0: %s\n", ok ? "ok" : "FAIL");
  if (!ok) fail("gemm_fp8 accepted a bad stride");
  cudaGetLastError();
}

void run_checks() {
  check_quantize();
  uint64_t seed = 1000;
  const Fp8Case cases[] = {
      {37, 200, 1, false, Scale::Tensor, false},   {37, 200, 3, false, Scale::Channel, true},
      {37, 200, 9, true, Scale::Channel, false},   {50, 300, 17, false, Scale::None, true},
      {50, 300, 33, true, Scale::Tensor, false},   {70, 1000, 64, false, Scale::Channel, true},
      {70, 1000, 70, false, Scale::Channel, false}, {300, 4100, 1, false, Scale::Channel, true},
      {300, 4100, 8, true, Scale::Channel, false},  {300, 4100, 130, false, Scale::Tensor, true},
      {200, 1000, 5, false, Scale::Block, true},   {200, 1000, 40, true, Scale::Block, false},
      {4096, 4096, 2, false, Scale::Channel, false},
  };
  for (const auto& c : cases) check_fp8_case(c, seed++);
  std::printf("gemm_fp8 worst |err| / (sum|products| * scale): %.3g (2^-23 = 1.2e-7 would be exact FP32)\n",
              g_worst_rel);
  for (Elem t : {Elem::F32, Elem::F16, Elem::BF16}) {
    check_wonly_case(t, 37, 577, 1, Scale::None, false, seed++);
    check_wonly_case(t, 37, 1003, 3, Scale::Channel, true, seed++);
    check_wonly_case(t, 100, 9000, 8, Scale::Tensor, false, seed++);
    check_wonly_case(t, 45, 576, 11, Scale::Block, true, seed++);
  }
  check_epilogue();
  check_rejects();
}

// ---- benchmark ------------------------------------------------------------------------------

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double measure_copy_gbs(int reps) {
  const size_t bytes = size_t(1) << 30;
  void *a = nullptr, *b = nullptr;
  CK(cudaMalloc(&a, bytes));
  CK(cudaMalloc(&b, bytes));
  CK(cudaMemset(a, 1, bytes));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  std::vector<double> ms;
  for (int i = 0; i < reps + 2; ++i) {
    CK(cudaEventRecord(e0));
    CK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice));
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float t = 0;
    CK(cudaEventElapsedTime(&t, e0, e1));
    if (i >= 2) ms.push_back(t);
  }
  CK(cudaFree(a));
  CK(cudaFree(b));
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  return 2.0 * bytes / (median(ms) * 1e-3) / 1e9;
}

// Times fn(i) (i = call index, used to rotate weight copies): median ms.
template <class F>
double time_calls(int reps, F fn) {
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  for (int i = 0; i < 3; ++i) CK(fn(i));
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(e0));
    CK(fn(i + 3));
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float t = 0;
    CK(cudaEventElapsedTime(&t, e0, e1));
    ms.push_back(t);
  }
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  return median(ms);
}

// Enough copies of `bytes` that a rotation touches >= 480 MB (8x L2).
int copies_for(size_t bytes) {
  const size_t want = size_t(480) << 20;
  return static_cast<int>(std::max<size_t>(2, (want + bytes - 1) / bytes));
}

void bench_fp8(double copy_gbs, int reps) {
  struct Shape {
    const char* name;
    int64_t N, K;
  };
  const Shape shapes[] = {{"qkv", 6144, 4096},
                          {"o", 4096, 4096},
                          {"gate_up", 28672, 4096},
                          {"down", 4096, 14336},
                          {"lm_head", 128256, 4096}};
  const int32_t Ts[] = {1, 2, 4, 8, 16, 32, 64};
  std::printf("\ngemm_fp8 (E4M3 weights, channel scales), median of %d, copy bandwidth %.0f GB/s\n", reps,
              copy_gbs);
  std::printf("%-8s %7s %6s %3s %10s %9s %7s\n", "shape", "N", "K", "T", "us", "GB/s", "%copy");
  for (const auto& s : shapes) {
    const size_t bytes = static_cast<size_t>(s.N) * s.K;
    const int nc = copies_for(bytes);
    std::vector<uint8_t> hw(bytes);
    Rng rng(static_cast<uint64_t>(s.N) * 31 + s.K);
    for (auto& b : hw) b = rng.fp8(false);
    std::vector<uint8_t*> dw(nc);
    dw[0] = dev_upload(hw);
    for (int c = 1; c < nc; ++c) {
      CK(cudaMalloc(&dw[c], bytes));
      CK(cudaMemcpy(dw[c], dw[0], bytes, cudaMemcpyDeviceToDevice));
    }
    std::vector<float> sc(s.N), sx(64);
    for (auto& v : sc) v = rng.uni(0.5f, 2.0f) / 448.0f;
    for (auto& v : sx) v = rng.uni(0.5f, 2.0f) / 448.0f;
    std::vector<uint8_t> hx(64 * s.K);
    for (auto& b : hx) b = rng.fp8(false);
    float* dsc = dev_upload(sc);
    float* dsx = dev_upload(sx);
    uint8_t* dxq = dev_upload(hx);
    float* dy = nullptr;
    CK(cudaMalloc(&dy, 64 * s.N * sizeof(float)));
    for (int32_t T : Ts) {
      const double ms = time_calls(reps, [&](int i) {
        DevWeight w;
        w.data = dw[i % nc];
        w.type = Elem::E4M3;
        w.rows = s.N;
        w.cols = s.K;
        w.stride = s.K;
        w.scale_mode = Scale::Channel;
        w.scale = dsc;
        DevActQ a{dxq, dsx, s.K};
        return f8k::gemm_fp8(a, T, w, nullptr, dy, nullptr);
      });
      const double gbs = bytes / (ms * 1e-3) / 1e9;
      std::printf("%-8s %7lld %6lld %3d %10.2f %9.0f %6.1f%%\n", s.name, static_cast<long long>(s.N),
                  static_cast<long long>(s.K), T, ms * 1e3, gbs, 100.0 * gbs / copy_gbs);
    }
    for (auto* p : dw) CK(cudaFree(p));
    CK(cudaFree(dsc));
    CK(cudaFree(dsx));
    CK(cudaFree(dxq));
    CK(cudaFree(dy));
  }
}

void bench_wonly(double copy_gbs, int reps) {
  struct Shape {
    const char* name;
    int64_t N, K;
  };
  const Shape shapes[] = {{"tied_out", 49152, 576}, {"o", 4096, 4096}};
  std::printf("\ngemm_wonly (BF16 weights), median of %d\n", reps);
  std::printf("%-8s %7s %6s %3s %10s %9s %7s\n", "shape", "N", "K", "T", "us", "GB/s", "%copy");
  for (const auto& s : shapes) {
    const size_t bytes = static_cast<size_t>(s.N) * s.K * 2;
    const int nc = copies_for(bytes);
    std::vector<uint16_t> hw(static_cast<size_t>(s.N) * s.K);
    Rng rng(77);
    for (auto& v : hw) v = static_cast<uint16_t>(0x3C00u | (rng.next() & 0x80FFu));  // BF16 ~ +-[0.0078, 0.016)
    std::vector<uint16_t*> dw(nc);
    dw[0] = dev_upload(hw);
    for (int c = 1; c < nc; ++c) {
      CK(cudaMalloc(&dw[c], bytes));
      CK(cudaMemcpy(dw[c], dw[0], bytes, cudaMemcpyDeviceToDevice));
    }
    std::vector<float> x(8 * s.K);
    for (auto& v : x) v = rng.uni(-1.0f, 1.0f);
    float* dx = dev_upload(x);
    float* dy = nullptr;
    CK(cudaMalloc(&dy, 8 * s.N * sizeof(float)));
    for (int32_t T : {1, 2, 4, 8}) {
      const double ms = time_calls(reps, [&](int i) {
        DevWeight w;
        w.data = dw[i % nc];
        w.type = Elem::BF16;
        w.rows = s.N;
        w.cols = s.K;
        w.stride = s.K;
        return f8k::gemm_wonly(dx, T, w, nullptr, dy, nullptr);
      });
      const double gbs = bytes / (ms * 1e-3) / 1e9;
      std::printf("%-8s %7lld %6lld %3d %10.2f %9.0f %6.1f%%\n", s.name, static_cast<long long>(s.N),
                  static_cast<long long>(s.K), T, ms * 1e3, gbs, 100.0 * gbs / copy_gbs);
    }
    for (auto* p : dw) CK(cudaFree(p));
    CK(cudaFree(dx));
    CK(cudaFree(dy));
  }
}

void bench_quant(int reps) {
  std::printf("\nquantize_act (dynamic), median of %d\n", reps);
  const int64_t K = 4096;
  std::vector<float> x(64 * K);
  Rng rng(3);
  for (auto& v : x) v = rng.uni(-2.0f, 2.0f);
  float* dx = dev_upload(x);
  uint8_t* dq = nullptr;
  float* dsx = nullptr;
  CK(cudaMalloc(&dq, 64 * K));
  CK(cudaMalloc(&dsx, 64 * sizeof(float)));
  for (int32_t T : {1, 8, 64}) {
    const double ms = time_calls(reps, [&](int) {
      return f8k::quantize_act(dx, T, K, 0.0f, DevActQ{dq, dsx, K}, nullptr);
    });
    std::printf("K=%lld T=%2d: %.2f us\n", static_cast<long long>(K), T, ms * 1e3);
  }
  CK(cudaFree(dx));
  CK(cudaFree(dq));
  CK(cudaFree(dsx));
}

}  // namespace

int main(int argc, char** argv) {
  bool check = true, bench = true;
  int reps = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--no-check") check = false;
    else if (a == "--check-only") bench = false;
    else if (a == "--reps" && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: %s [--no-check] [--check-only] [--reps N]\n", argv[0]);
      return 2;
    }
  }
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d, %d SMs, L2 %d MB)\n", prop.name, prop.major, prop.minor,
              prop.multiProcessorCount, prop.l2CacheSize >> 20);
  if (check) {
    run_checks();
    std::printf("checks: %s\n", g_failures ? "FAILED" : "all ok");
    if (g_failures) return 1;
  }
  if (bench) {
    const double copy = measure_copy_gbs(10);
    std::printf("\ndevice-to-device copy (read + write): %.0f GB/s\n", copy);
    bench_fp8(copy, reps);
    bench_wonly(copy, reps);
    bench_quant(reps);
  }
  return 0;
}
