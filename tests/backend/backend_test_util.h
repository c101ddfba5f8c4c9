// backend_test_util.h — shared helpers for the backend tests: random data,
// weight construction in every dtype/scale kind, comparison with NMSE and
// atol + rtol * |ref|.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "ggf8/fp8.h"

namespace f8test {
using namespace f8backend;

inline std::unique_ptr<Backend> make(const std::string& name, const std::string& isa = "auto") {
  std::unique_ptr<Backend> b;
  BackendParams p;
  p.isa = isa;
  Status s = create_backend(name, p, &b);
  EXPECT_TRUE(s.ok()) << s.message;
  return b;
}

inline std::unique_ptr<Stream> stream(Backend& b, int threads, int max_tokens, int64_t max_dim) {
  std::unique_ptr<Stream> s;
  StreamParams p;
  p.n_threads = threads;
  p.max_tokens = max_tokens;
  p.max_dim = max_dim;
  Status st = b.create_stream(p, &s);
  EXPECT_TRUE(st.ok()) << st.message;
  return s;
}

inline std::vector<float> randn(size_t n, uint32_t seed, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// Owns a weight's bytes and scales; w() gives the view.
struct TestWeight {
  std::vector<uint8_t> bytes;
  std::vector<float> scale;
  Weight view;
  const Weight& w() const { return view; }
};

// Random [n, k] weight of dtype dt with scale kind sk (block 128x128 or br x bc).
inline TestWeight make_weight(int64_t n, int64_t k, DType dt, ScaleKind sk, uint32_t seed, uint32_t br = 128,
                              uint32_t bc = 128) {
  TestWeight tw;
  const std::vector<float> v = randn(static_cast<size_t>(n * k), seed);
  const size_t es = ggf8::dtype_size(dt);
  tw.bytes.resize(static_cast<size_t>(n * k) * es);
  std::mt19937 rng(seed + 7);
  std::uniform_real_distribution<float> ud(0.002f, 0.05f);
  for (int64_t i = 0; i < n * k; ++i) {
    const float x = v[i] * 150.0f;  // spans E4M3's range incl. subnormals
    switch (dt) {
      case DType::E4M3: tw.bytes[i] = ggf8::e4m3_from_f32(x); break;
      case DType::E5M2: tw.bytes[i] = ggf8::e5m2_from_f32(x); break;
      case DType::BF16: reinterpret_cast<uint16_t*>(tw.bytes.data())[i] = to_bf16(v[i]); break;
      case DType::F16: {
        // via the exact E5M2 grid keeps it simple: F16 of an E5M2 value
        reinterpret_cast<uint16_t*>(tw.bytes.data())[i] = ggf8::e5m2_to_f16(ggf8::e5m2_from_f32(x));
        break;
      }
      default: reinterpret_cast<float*>(tw.bytes.data())[i] = v[i]; break;
    }
  }
  Weight& w = tw.view;
  w.dtype = dt;
  w.rows = n;
  w.cols = k;
  w.scale_kind = sk;
  w.block_rows = br;
  w.block_cols = bc;
  size_t ns = 0;
  if (sk == ScaleKind::Tensor) ns = 1;
  if (sk == ScaleKind::Channel) ns = n;
  if (sk == ScaleKind::Block) ns = ((n + br - 1) / br) * ((k + bc - 1) / bc);
  for (size_t i = 0; i < ns; ++i) tw.scale.push_back(ud(rng));
  w.data = tw.bytes.data();
  w.scale = tw.scale.empty() ? nullptr : tw.scale.data();
  return tw;
}

// Normalized mean squared error of got vs ref.
inline double nmse(const std::vector<float>& got, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (double(got[i]) - ref[i]) * (double(got[i]) - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return den > 0 ? num / den : num;
}

inline void expect_close(const std::vector<float>& got, const std::vector<float>& ref, float atol, float rtol,
                         const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  size_t bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!(std::fabs(got[i] - ref[i]) <= atol + rtol * std::fabs(ref[i]))) {
      if (++bad <= 3)
        ADD_FAILURE() << what << ": [" << i << "] got " << got[i] << " want " << ref[i];
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << ref.size() << " out of tolerance";
}

}  // namespace f8test
