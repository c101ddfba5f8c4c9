// tests/codec/test_fp8_codec_cuda.cpp — the device codec (kernels/fp8_codec.cu,
// i.e. ggf8/fp8.h compiled by nvcc for sm_89/sm_90a) against the host codec,
// and NVIDIA's device conversion (hardware cvt.rn.satfinite on sm_89+)
// against both. Skips when no CUDA device is present.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "ggf8/fp8.h"
#include "kernels/fp8_codec.cuh"

namespace {

bool have_device(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    return false;
  }
  if (n == 0) {
    *why = "no CUDA device";
    return false;
  }
  return true;
}

#define SKIP_WITHOUT_GPU()                          \
  do {                                              \
    std::string why;                                \
    if (!have_device(&why)) GTEST_SKIP() << why;    \
  } while (0)

#define CUDA_OK(x) ASSERT_EQ(static_cast<int>(x), 0) << #x << ": " << cudaGetErrorString(cudaError_t(x))

template <typename T>
struct DevBuf {
  T* p = nullptr;
  explicit DevBuf(size_t n) { cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(T) + 1); }
  ~DevBuf() { cudaFree(p); }
};

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

// A large sample of float bit patterns: a stride through all 2^32 (every
// exponent and sign) with random low bits, plus every FP8 value, its float
// neighbours and the midpoints between adjacent codes.
std::vector<float> sample_inputs() {
  std::vector<float> v;
  std::mt19937 rng(99);
  for (uint64_t hi = 0; hi < (uint64_t{1} << 32); hi += 256) {
    const auto u = static_cast<uint32_t>(hi | (rng() & 0xFF));
    float f;
    std::memcpy(&f, &u, 4);
    v.push_back(f);
  }
  for (unsigned c = 0; c < 256; ++c) {
    for (float x : {ggf8::e4m3_to_f32(uint8_t(c)), ggf8::e5m2_to_f32(uint8_t(c))}) {
      if (std::isnan(x)) continue;
      const float next = std::nextafter(x, x < 0 ? -INFINITY : INFINITY);
      for (float y : {x, std::nextafter(x, 0.0f), next, x * 1.0625f, x * 1.125f, x * 1.25f})
        v.push_back(y);
    }
  }
  return v;
}

TEST(Fp8CodecCuda, DecodeAll256MatchesHost) {
  SKIP_WITHOUT_GPU();
  std::vector<uint8_t> codes(256);
  for (unsigned c = 0; c < 256; ++c) codes[c] = uint8_t(c);
  DevBuf<uint8_t> dc(256);
  DevBuf<float> df(256);
  CUDA_OK(cudaMemcpy(dc.p, codes.data(), 256, cudaMemcpyHostToDevice));
  std::vector<float> out(256);
  for (float scale : {1.0f, 0.037f, -2.5f}) {
    for (bool e4m3 : {true, false}) {
      CUDA_OK(e4m3 ? f8k::e4m3_to_f32(dc.p, df.p, 256, scale) : f8k::e5m2_to_f32(dc.p, df.p, 256, scale));
      CUDA_OK(cudaMemcpy(out.data(), df.p, 256 * sizeof(float), cudaMemcpyDeviceToHost));
      for (unsigned c = 0; c < 256; ++c) {
        const float host = (e4m3 ? ggf8::e4m3_to_f32(uint8_t(c)) : ggf8::e5m2_to_f32(uint8_t(c))) * scale;
        if (std::isnan(host)) {
          EXPECT_TRUE(std::isnan(out[c])) << "code 0x" << std::hex << c;  // GPU NaN bits differ
        } else {
          EXPECT_EQ(bits(out[c]), bits(host)) << (e4m3 ? "E4M3" : "E5M2") << " code 0x" << std::hex << c
                                              << " scale " << scale;
        }
      }
    }
  }
}

TEST(Fp8CodecCuda, EncodeSampleMatchesHostAndNvidiaDevice) {
  SKIP_WITHOUT_GPU();
  const std::vector<float> in = sample_inputs();
  const size_t n = in.size();
  DevBuf<float> din(n);
  DevBuf<uint8_t> dout(n);
  CUDA_OK(cudaMemcpy(din.p, in.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  std::vector<uint8_t> ours(n), nv(n);
  for (bool e4m3 : {true, false}) {
    for (bool sat : {true, false}) {
      const char* what = e4m3 ? (sat ? "E4M3 satfinite" : "E4M3 nosat") : (sat ? "E5M2 satfinite" : "E5M2 nosat");
      CUDA_OK(e4m3 ? f8k::f32_to_e4m3(din.p, dout.p, n, 1.0f, sat) : f8k::f32_to_e5m2(din.p, dout.p, n, 1.0f, sat));
      CUDA_OK(cudaMemcpy(ours.data(), dout.p, n, cudaMemcpyDeviceToHost));
      CUDA_OK(f8k::nv_f32_to_fp8(din.p, dout.p, n, e4m3, sat));
      CUDA_OK(cudaMemcpy(nv.data(), dout.p, n, cudaMemcpyDeviceToHost));
      size_t bad_host = 0, bad_nv = 0;
      for (size_t i = 0; i < n; ++i) {
        const uint8_t host = e4m3 ? ggf8::e4m3_from_f32(in[i], sat) : ggf8::e5m2_from_f32(in[i], sat);
        if (ours[i] != host && bad_host++ < 5)
          ADD_FAILURE() << what << " device ggf8 vs host ggf8 at input 0x" << std::hex << bits(in[i])
                        << ": 0x" << unsigned(ours[i]) << " vs 0x" << unsigned(host);
        // PTX leaves the sign of a NaN result open: accept either NaN code
        // for NaN inputs; everything else must match exactly.
        const bool nan_in = std::isnan(in[i]);
        const bool nv_ok = nan_in ? (nv[i] & 0x7F) == 0x7F : nv[i] == host;
        if (!nv_ok && bad_nv++ < 5)
          ADD_FAILURE() << what << " NVIDIA device vs ggf8 at input 0x" << std::hex << bits(in[i])
                        << ": 0x" << unsigned(nv[i]) << " vs 0x" << unsigned(host);
      }
      EXPECT_EQ(bad_host, 0u) << what;
      EXPECT_EQ(bad_nv, 0u) << what;
      std::printf("[ cuda ] %s: %zu inputs, %zu device/host mismatches, %zu NVIDIA-device mismatches\n",
                  what, n, bad_host, bad_nv);
    }
  }
}

TEST(Fp8CodecCuda, ScaledEncodeMatchesHost) {
  SKIP_WITHOUT_GPU();
  std::vector<float> in(100000);
  std::mt19937 rng(3);
  for (float& x : in) x = std::normal_distribution<float>(0.0f, 3.0f)(rng);
  DevBuf<float> din(in.size());
  DevBuf<uint8_t> dout(in.size());
  CUDA_OK(cudaMemcpy(din.p, in.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice));
  std::vector<uint8_t> out(in.size());
  const float inv = 448.0f / 9.0f;
  CUDA_OK(f8k::f32_to_e4m3(din.p, dout.p, in.size(), inv, true));
  CUDA_OK(cudaMemcpy(out.data(), dout.p, in.size(), cudaMemcpyDeviceToHost));
  for (size_t i = 0; i < in.size(); ++i)
    ASSERT_EQ(out[i], ggf8::e4m3_from_f32_scaled(in[i], inv)) << "input " << in[i];
}

}  // namespace
