// test_cuda_backend.cpp — the CUDA backend ("cuda", src/backend/cuda) op by
// op against cpu-ref (the oracle), on device memory:
//   - gemm: every weight dtype and scale kind, T = 1..8, 16, 33, 64, 65, 200
//     (small-T tensor-core kernel and the cuBLASLt path), odd K/N, bias,
//     gemm_multi, a row_stride slice, refusal of non-128x128 blocks. FP8
//     weights always quantize activations on the GPU (quantizes_activations()),
//     so ActQuant::None is compared with cpu-ref's DynamicToken; only the FP32
//     accumulation order may differ.
//   - embed, rmsnorm, rope (None/Linear/Llama3/YaRN, partial rotary), swiglu, add,
//     get_rows, argmax (first index on ties);
//   - kv_store + attention with several sequences, seq_cp shared cells, an
//     empty (masked) sequence, GQA, a causal prefill block, a long context,
//     every cache dtype (E4M3, E5M2, BF16, F16, F32), after seq_rm/realloc,
//     gpt-oss attention sinks (split merge and FP8 FMHA);
//   - CUDA graphs: replay == eager on new inputs while the KV cache grows;
//   - registry errors ("cuda:99") and the backend's facts (memory, names).
// Without a usable device (no driver, no GPU, a build without CUDA) every test
// GTEST_SKIPs with the reason create_backend("cuda") gave.
//
// Env: F8_CUDA_TEST_QUICK=1 trims the sweeps (for compute-sanitizer runs);
//      F8_CUDA_GEMM_TOL=x multiplies every gemm tolerance (nmse by x^2), for a
//      rerun when only accumulation precision is in question — the failure
//      messages print the measured NMSE either way;
//      F8_CUDA_TEST_FAKE=1 runs the tests against fake_cuda_shim.h (cpu-simd
//      with the CUDA semantics) to check the tests themselves without a GPU.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend_test_util.h"
#include "fake_cuda_shim.h"

using namespace f8test;

namespace {

bool quick() {
  const char* q = std::getenv("F8_CUDA_TEST_QUICK");
  return q && *q && std::string(q) != "0";
}
double gemm_tol() {
  const char* t = std::getenv("F8_CUDA_GEMM_TOL");
  const double v = t ? std::atof(t) : 1.0;
  return v > 0 ? v : 1.0;
}

bool fake() {
  const char* f = std::getenv("F8_CUDA_TEST_FAKE");
  return f && *f && std::string(f) != "0";
}

bool is_fp8(DType d) { return d == DType::E4M3 || d == DType::E5M2; }
std::string dname(DType d) { return ggf8::dtype_name(d); }
std::string skname(ScaleKind k) { return ggf8::scale_kind_name(k); }

// Device memory owned by one test: put() copies a host vector in, get() reads back.
class Dev {
 public:
  Dev(Backend& be, Stream& s) : be_(be), s_(s) {}
  template <typename T>
  T* alloc(size_t n) {
    std::unique_ptr<Buffer> b;
    const Status st = be_.alloc(std::max<size_t>(n * sizeof(T), 16), &b);
    if (!st.ok()) throw std::runtime_error("alloc " + std::to_string(n * sizeof(T)) + " bytes: " + st.message);
    T* p = static_cast<T*>(b->data());
    bufs_.push_back(std::move(b));
    return p;
  }
  template <typename T>
  T* put(const std::vector<T>& v) {
    T* p = alloc<T>(v.size());
    if (!v.empty()) s_.from_host(p, v.data(), v.size() * sizeof(T));
    return p;
  }
  template <typename T>
  void set(T* p, const std::vector<T>& v) {
    if (!v.empty()) s_.from_host(p, v.data(), v.size() * sizeof(T));
  }
  template <typename T>
  std::vector<T> get(const T* p, size_t n) {
    std::vector<T> v(n);
    if (n) s_.to_host(v.data(), p, n * sizeof(T));
    return v;
  }

 private:
  Backend& be_;
  Stream& s_;
  std::vector<std::unique_ptr<Buffer>> bufs_;
};

// Creates the CUDA backend or says why not (for GTEST_SKIP).
std::unique_ptr<Backend> cuda_or_reason(std::string* why, const std::string& name = "cuda") {
  std::unique_ptr<Backend> b;
  if (fake() && name == "cuda") {
    Status s = create_backend("cpu-simd", {}, &b);
    if (s.ok()) return std::make_unique<FakeCudaBackend>(std::move(b));
  }
  const Status s = create_backend(name, {}, &b);
  if (!s.ok()) {
    *why = "create_backend(\"" + name + "\"): " + s.message;
    return nullptr;
  }
  return b;
}

std::unique_ptr<Stream> make_stream(Backend& b, int max_tokens, int64_t max_dim, int64_t max_attn_dim = 0) {
  std::unique_ptr<Stream> s;
  StreamParams p;
  p.n_threads = 1;
  p.max_tokens = max_tokens;
  p.max_dim = max_dim;
  p.max_attn_dim = max_attn_dim;
  const Status st = b.create_stream(p, &s);
  EXPECT_TRUE(st.ok()) << b.name() << " create_stream: " << st.message;
  return s;
}

double rms(const std::vector<float>& v) {
  double r = 0;
  for (float x : v) r += double(x) * x;
  return v.empty() ? 0.0 : std::sqrt(r / double(v.size()));
}

class CudaTest : public testing::Test {
 protected:
  static constexpr int kMaxT = 256;
  static constexpr int64_t kMaxDim = 131072;  // argmax over a 128256 vocab
  void SetUp() override {
    std::string why;
    cu_ = cuda_or_reason(&why);
    if (!cu_) GTEST_SKIP() << why;
    ref_ = make("cpu-ref");
    ASSERT_TRUE(ref_);
    cs_ = make_stream(*cu_, kMaxT, kMaxDim, 32 * 128);
    rs_ = make_stream(*ref_, kMaxT, kMaxDim);
    ASSERT_TRUE(cs_ && rs_);
    dev_ = std::make_unique<Dev>(*cu_, *cs_);
  }
  void TearDown() override {
    if (cs_) {
      cs_->synchronize();
      const Status e = cs_->error();
      EXPECT_TRUE(e.ok()) << "stream error: " << e.message;
    }
  }
  // Uploads a host weight to the device (must succeed).
  Weight up(const TestWeight& tw) {
    Weight d;
    const Status s = cu_->upload(tw.w(), &d);
    EXPECT_TRUE(s.ok()) << "upload " << dname(tw.w().dtype) << "/" << skname(tw.w().scale_kind) << " "
                        << tw.w().rows << "x" << tw.w().cols << ": " << s.message;
    return d;
  }
  std::unique_ptr<Backend> cu_, ref_;
  std::unique_ptr<Stream> cs_, rs_;
  std::unique_ptr<Dev> dev_;
};

// ---- backend facts and registry --------------------------------------------------
TEST(CudaRegistry, DeviceIndexOutOfRangeNamesTheCount) {
  if (fake()) GTEST_SKIP() << "F8_CUDA_TEST_FAKE: the registry has no fake";
  std::string why;
  auto b = cuda_or_reason(&why);
  if (!b) GTEST_SKIP() << why;
  bool listed = false;
  for (const auto& n : backend_names()) listed |= n == "cuda";
  EXPECT_TRUE(listed) << "backend_names() lacks \"cuda\"";
  int count = 1;  // cuda:0 works; find the first index that does not
  while (count < 64) {
    std::unique_ptr<Backend> x;
    if (!create_backend("cuda:" + std::to_string(count), {}, &x).ok()) break;
    ++count;
  }
  std::unique_ptr<Backend> x;
  const Status s = create_backend("cuda:99", {}, &x);
  EXPECT_EQ(s.code, Code::InvalidArgument) << s.message;
  EXPECT_NE(s.message.find(std::to_string(count)), std::string::npos)
      << "message should name the device count " << count << ": " << s.message;
  EXPECT_FALSE(x);
  for (const char* bad : {"cuda:", "cuda:-1", "cuda:x", "cuda:0x"}) {
    const Status e = create_backend(bad, {}, &x);
    EXPECT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.code, Code::InvalidArgument) << bad << ": " << e.message;
  }
  std::unique_ptr<Backend> c0;
  EXPECT_TRUE(create_backend("cuda:0", {}, &c0).ok());
}

TEST_F(CudaTest, BackendFacts) {
  EXPECT_STREQ(cu_->name(), "cuda");
  EXPECT_FALSE(cu_->description().empty());
  std::printf("[ info ] %s\n", cu_->description().c_str());
  EXPECT_FALSE(cu_->host_memory());
  EXPECT_TRUE(cu_->quantizes_activations());
  EXPECT_FALSE(ref_->quantizes_activations());
  size_t free_b = 0, total_b = 0;
  cu_->memory(&free_b, &total_b);
  EXPECT_GT(total_b, size_t{1} << 30);
  EXPECT_LE(free_b, total_b);
  EXPECT_GT(free_b, 0u);
  // upload_bytes covers at least the data; uploading takes about that much.
  const auto tw = make_weight(1024, 2048, DType::E4M3, ScaleKind::Channel, 5);
  const size_t need = cu_->upload_bytes(tw.w());
  EXPECT_GE(need, size_t{1024} * 2048);
  EXPECT_LE(need, size_t{1024} * 2048 * 2 + (size_t{4} << 20)) << "upload_bytes looks inflated";
  // An absurd allocation fails cleanly with OutOfMemory, and the stream stays usable.
  std::unique_ptr<Buffer> huge;
  const Status s = cu_->alloc(size_t{1} << 50, &huge);
  EXPECT_EQ(s.code, Code::OutOfMemory) << s.message;
  EXPECT_FALSE(huge);
  // Round trip through device memory.
  const auto v = randn(1000, 3);
  float* d = dev_->put(v);
  EXPECT_EQ(dev_->get(d, v.size()), v);
  EXPECT_TRUE(cs_->error().ok()) << cs_->error().message;
}

// ---- gemm ------------------------------------------------------------------------
struct GemmStats {
  double worst_nmse = 0;
  std::string worst_what;
  int n = 0;
  void add(double e, const std::string& what) {
    ++n;
    if (e > worst_nmse) worst_nmse = e, worst_what = what;
  }
  void print(const char* name) const {
    std::printf("[ info ] %s: %d gemms, worst NMSE %.3g (%s)\n", name, n, worst_nmse, worst_what.c_str());
  }
};

class CudaGemm : public CudaTest {
 protected:
  // x[T, K] with a few outliers and (T >= 3) an all-zero row: dynamic
  // activation scales then differ per token and hit the `tiny` floor.
  static std::vector<float> act(int T, int64_t K, uint32_t seed) {
    auto x = randn(static_cast<size_t>(T * K), seed);
    std::mt19937 rng(seed ^ 0x5bd1e995u);
    for (int t = 0; t < T; ++t) x[t * K + rng() % K] *= 40.0f;
    if (T >= 3)
      for (int64_t k = 0; k < K; ++k) x[1 * K + k] = 0.0f;
    return x;
  }
  // Runs cuda gemm (opts co) and cpu-ref gemm (opts ro) on the same x and compares.
  void check(const TestWeight& tw, const Weight& dw, int T, const GemmOpts& co, const GemmOpts& ro,
             const std::string& what, GemmStats* st) {
    const Weight& w = tw.w();
    const auto x = act(T, w.cols, 1000 + T + uint32_t(w.cols));
    std::vector<float> yr(size_t(T) * w.rows);
    rs_->gemm(x.data(), T, w, yr.data(), ro);
    const float* dx = dev_->put(x);
    float* dy = dev_->put(std::vector<float>(size_t(T) * w.rows, -1.0f));
    cs_->gemm(dx, T, dw, dy, co);
    const auto yc = dev_->get(dy, yr.size());
    const double tol = gemm_tol();
    const double e = nmse(yc, yr);
    if (st) st->add(e, what);
    EXPECT_LT(e, 1e-10 * tol * tol) << what;
    const double r = rms(yr);
    expect_close(yc, yr, static_cast<float>(1e-4 * tol * r + 1e-30), static_cast<float>(1e-4 * tol), what);
  }
  // The opts cpu-ref needs to mean what the GPU does with `act`.
  static GemmOpts ref_opts(DType dt, GemmOpts o) {
    if (is_fp8(dt) && o.act == ActQuant::None) o.act = ActQuant::DynamicToken;
    return o;
  }
  static std::vector<int> t_list() {
    if (quick()) return {1, 5, 16, 65, 200};
    return {1, 2, 3, 4, 5, 6, 7, 8, 16, 33, 64, 65, 200};
  }
};

TEST_F(CudaGemm, EveryDtypeScaleKindShapeAndT) {
  const DType dts[] = {DType::E4M3, DType::E5M2, DType::BF16, DType::F16, DType::F32};
  const ScaleKind sks[] = {ScaleKind::None, ScaleKind::Tensor, ScaleKind::Channel, ScaleKind::Block};
  // odd K/N (K = 200 is not a multiple of 16: no cuBLASLt), aligned shapes
  // (cuBLASLt at large T), N = 1, blocks that do not divide the matrix.
  std::vector<std::pair<int64_t, int64_t>> shapes = {{77, 200}, {256, 512}, {129, 257}, {1, 64}, {384, 1024}};
  if (quick()) shapes = {{77, 200}, {256, 512}};
  GemmStats st;
  uint32_t seed = 1;
  for (DType dt : dts)
    for (ScaleKind sk : sks)
      for (auto [n, k] : shapes) {
        const auto tw = make_weight(n, k, dt, sk, seed++);
        const Weight dw = up(tw);
        if (HasFailure()) return;
        for (int T : t_list()) {
          const std::string what = dname(dt) + "/" + skname(sk) + " N=" + std::to_string(n) +
                                   " K=" + std::to_string(k) + " T=" + std::to_string(T);
          check(tw, dw, T, {}, ref_opts(dt, {}), what, &st);
        }
      }
  st.print("gemm sweep");
}

// ActQuant::DynamicToken and ::Static asked for explicitly (Static with an
// input_scale that underestimates the max: must clip like the CPU, not NaN).
TEST_F(CudaGemm, ExplicitDynamicAndStaticActivationScales) {
  GemmStats st;
  for (DType dt : {DType::E4M3, DType::E5M2})
    for (ScaleKind sk : {ScaleKind::Tensor, ScaleKind::Channel, ScaleKind::Block})
      for (auto [n, k] : {std::pair<int64_t, int64_t>{77, 200}, {256, 512}}) {
        auto tw = make_weight(n, k, dt, sk, 300 + uint32_t(n));
        tw.view.input_scale = 0.004f;
        const Weight dw = up(tw);
        if (HasFailure()) return;
        for (int T : {1, 3, 8, 16, 65, 200}) {
          const std::string base = dname(dt) + "/" + skname(sk) + " N=" + std::to_string(n) + " T=" + std::to_string(T);
          GemmOpts o;
          o.act = ActQuant::DynamicToken;
          check(tw, dw, T, o, o, "dynamic " + base, &st);
          o.act = ActQuant::Static;
          check(tw, dw, T, o, o, "static " + base, &st);
        }
      }
  // F16/BF16/F32 weights stay weight-only whatever act says (on both).
  for (DType dt : {DType::BF16, DType::F16, DType::F32}) {
    auto tw = make_weight(77, 200, dt, ScaleKind::Channel, 400);
    const Weight dw = up(tw);
    for (int T : {1, 65}) {
      GemmOpts o;
      o.act = ActQuant::DynamicToken;
      check(tw, dw, T, o, o, "weight-only " + dname(dt) + " T=" + std::to_string(T), &st);
    }
  }
  st.print("act scales");
}

TEST_F(CudaGemm, Bias) {
  GemmStats st;
  const int64_t N = 264, K = 512;
  for (DType dt : {DType::E4M3, DType::BF16})
    for (ScaleKind sk : {ScaleKind::Tensor, ScaleKind::Channel}) {
      const auto tw = make_weight(N, K, dt, sk, 17);
      const Weight dw = up(tw);
      const auto bf = randn(N, 4);
      std::vector<uint16_t> bb(N), bh(N);
      for (int64_t i = 0; i < N; ++i) {
        bb[i] = to_bf16(bf[i]);
        bh[i] = ggf8::e5m2_to_f16(ggf8::e5m2_from_f32(bf[i]));  // an F16 value
      }
      const float* dbf = dev_->put(bf);
      const uint16_t* dbb = dev_->put(bb);
      const uint16_t* dbh = dev_->put(bh);
      struct B {
        const void* host;
        const void* dev;
        DType dt;
      } biases[] = {{bf.data(), dbf, DType::F32}, {bb.data(), dbb, DType::BF16}, {bh.data(), dbh, DType::F16}};
      for (const B& b : biases)
        for (int T : {1, 4, 8, 65, 200}) {
          GemmOpts co, ro;
          co.bias = {b.dev, b.dt};
          ro.bias = {b.host, b.dt};
          ro = ref_opts(dt, ro);
          check(tw, dw, T, co, ro, dname(b.dt) + " bias on " + dname(dt) + "/" + skname(sk) + " T=" + std::to_string(T),
                &st);
        }
    }
  st.print("bias");
}

TEST_F(CudaGemm, GemmMultiMatchesGemmPerJob) {
  const int64_t K = 576;
  const auto w0 = make_weight(576, K, DType::E4M3, ScaleKind::Channel, 71);
  const auto w1 = make_weight(192, K, DType::BF16, ScaleKind::None, 72);
  const auto w2 = make_weight(130, K, DType::E4M3, ScaleKind::Block, 73);
  const auto w3 = make_weight(77, K, DType::E5M2, ScaleKind::Tensor, 74);
  const TestWeight* tws[4] = {&w0, &w1, &w2, &w3};
  Weight dws[4];
  for (int i = 0; i < 4; ++i) dws[i] = up(*tws[i]);
  const auto bias = randn(576, 75);
  const float* dbias = dev_->put(bias);
  const double tol = gemm_tol();
  for (int T : {1, 3, 8, 16, 65, 200}) {
    const auto x = act(T, K, 76 + T);
    const float* dx = dev_->put(x);
    Stream::GemmJob jobs[4];
    float* dy[4];
    std::vector<float> yr[4];
    for (int i = 0; i < 4; ++i) {
      const int64_t N = tws[i]->w().rows;
      GemmOpts co, ro;
      if (i == 0) co.bias = {dbias, DType::F32}, ro.bias = {bias.data(), DType::F32};
      ro = ref_opts(tws[i]->w().dtype, ro);
      yr[i].assign(size_t(T) * N, 0.0f);
      rs_->gemm(x.data(), T, tws[i]->w(), yr[i].data(), ro);
      dy[i] = dev_->put(std::vector<float>(size_t(T) * N, -1.0f));
      jobs[i] = {&dws[i], dy[i], co};
    }
    cs_->gemm_multi(dx, T, jobs, 4);
    for (int i = 0; i < 4; ++i) {
      const auto yc = dev_->get(dy[i], yr[i].size());
      const std::string what = "gemm_multi job " + std::to_string(i) + " T=" + std::to_string(T);
      EXPECT_LT(nmse(yc, yr[i]), 1e-10 * tol * tol) << what;
      expect_close(yc, yr[i], static_cast<float>(1e-4 * tol * rms(yr[i]) + 1e-30), static_cast<float>(1e-4 * tol), what);
    }
  }
}

// Block scales: 128x128 works (also where blocks do not divide the matrix);
// any other block shape is refused at upload with Unsupported.
TEST_F(CudaGemm, BlockShapes) {
  for (auto [br, bc] : {std::pair<uint32_t, uint32_t>{3, 5}, {64, 64}, {128, 64}, {32, 128}, {1, 128}}) {
    const auto tw = make_weight(130, 300, DType::E4M3, ScaleKind::Block, 5, br, bc);
    Weight d;
    const Status s = cu_->upload(tw.w(), &d);
    EXPECT_EQ(s.code, Code::Unsupported) << "block " << br << "x" << bc << ": " << s.message;
    EXPECT_FALSE(s.message.empty());
  }
  GemmStats st;
  for (auto [n, k] : {std::pair<int64_t, int64_t>{300, 130}, {129, 129}, {1, 1000}}) {
    const auto tw = make_weight(n, k, DType::E4M3, ScaleKind::Block, 6);
    const Weight dw = up(tw);
    for (int T : {1, 7, 65, 200})
      check(tw, dw, T, {}, ref_opts(DType::E4M3, {}),
            "block128 N=" + std::to_string(n) + " K=" + std::to_string(k) + " T=" + std::to_string(T), &st);
  }
}

// A row-parallel shard: columns 64..64+K of a wider matrix (row_stride), and
// a column-parallel shard: rows 32.. with the scale pointer advanced.
TEST_F(CudaGemm, RowStrideAndRowRangeSlices) {
  GemmStats st;
  auto full = make_weight(96, 576, DType::E4M3, ScaleKind::Channel, 77);
  TestWeight cols = full;
  cols.view.data = cols.bytes.data() + 64;
  cols.view.scale = cols.scale.data();
  cols.view.cols = 256;
  cols.view.row_stride = 576;
  TestWeight rows = full;
  rows.view.data = rows.bytes.data() + 32 * 576;
  rows.view.scale = rows.scale.data() + 32;
  rows.view.rows = 64;
  for (const TestWeight* tw : {&cols, &rows}) {
    Weight d;
    const Status s = cu_->upload(tw->w(), &d);
    ASSERT_TRUE(s.ok()) << "upload of a slice: " << s.message;
    for (int T : {1, 8, 65})
      check(*tw, d, T, {}, ref_opts(DType::E4M3, {}),
            std::string(tw == &cols ? "row_stride slice" : "row range slice") + " T=" + std::to_string(T), &st);
  }
}

// Every E4M3 code, weight by weight: decoding on the device is exact.
TEST_F(CudaGemm, EveryE4M3CodeDecodesExactly) {
  std::vector<uint8_t> codes;
  for (int c = 0; c < 256; ++c)
    if ((c & 0x7F) != 0x7F) codes.push_back(static_cast<uint8_t>(c));
  const int64_t N = static_cast<int64_t>(codes.size()), K = 128;
  TestWeight tw;
  tw.bytes.resize(size_t(N * K));
  for (int64_t r = 0; r < N; ++r) std::fill(tw.bytes.begin() + r * K, tw.bytes.begin() + (r + 1) * K, codes[r]);
  tw.scale = {1.0f};
  tw.view.dtype = DType::E4M3;
  tw.view.rows = N;
  tw.view.cols = K;
  tw.view.scale_kind = ScaleKind::Tensor;
  tw.view.data = tw.bytes.data();
  tw.view.scale = tw.scale.data();
  const Weight dw = up(tw);
  for (int T : {1, 8, 200}) {
    // x = 1.0 quantizes exactly (sx = 1/448, xq = 448): y = K * 448 * w * sx = K * w.
    const std::vector<float> x(size_t(T) * K, 1.0f);
    const float* dx = dev_->put(x);
    float* dy = dev_->alloc<float>(size_t(T) * N);
    cs_->gemm(dx, T, dw, dy, {});
    const auto y = dev_->get(dy, size_t(T) * N);
    for (int t = 0; t < T; ++t)
      for (int64_t r = 0; r < N; ++r) {
        const float want = float(K) * ggf8::e4m3_to_f32(codes[r]);
        ASSERT_NEAR(y[t * N + r], want, std::fabs(want) * 1e-6f)
            << "code 0x" << std::hex << int(codes[r]) << std::dec << " T=" << T;
      }
  }
}

// ---- elementwise ops --------------------------------------------------------------
TEST_F(CudaTest, Embed) {
  struct E {
    DType dt;
    ScaleKind sk;
  } cases[] = {{DType::E4M3, ScaleKind::Block}, {DType::E4M3, ScaleKind::Channel}, {DType::E5M2, ScaleKind::Tensor},
               {DType::BF16, ScaleKind::None},  {DType::F16, ScaleKind::None},     {DType::F32, ScaleKind::None}};
  for (const E& c : cases) {
    const int64_t V = 300, D = 200;
    const auto tab = make_weight(V, D, c.dt, c.sk, 21);
    const Weight dtab = up(tab);
    for (int T : {1, 5, 200}) {
      std::vector<int32_t> ids(T);
      for (int t = 0; t < T; ++t) ids[t] = (t * 131 + 7) % V;
      ids[0] = 0;
      if (T > 1) ids[T - 1] = int32_t(V - 1);
      std::vector<float> a(size_t(T) * D);
      rs_->embed(tab.w(), ids.data(), T, a.data());
      float* d = dev_->alloc<float>(a.size());
      cs_->embed(dtab, dev_->put(ids), T, d);
      expect_close(dev_->get(d, a.size()), a, 0, 1e-6f, "embed " + dname(c.dt) + "/" + skname(c.sk));
    }
  }
}

TEST_F(CudaTest, Rmsnorm) {
  for (DType dt : {DType::F32, DType::BF16, DType::F16})
    for (int dim : {77, 576, 4096})
      for (int T : {1, 8, 65, 200}) {
        const auto wv = make_weight(1, dim, dt, ScaleKind::None, 31);
        const Weight dw = up(wv);
        const auto x = randn(size_t(T) * dim, 32 + T, 3.0f);
        std::vector<float> a(x.size());
        rs_->rmsnorm(x.data(), wv.w(), 1e-5f, T, dim, a.data());
        const std::string what = "rmsnorm " + dname(dt) + " dim=" + std::to_string(dim) + " T=" + std::to_string(T);
        float* dx = dev_->put(x);
        float* dout = dev_->alloc<float>(x.size());
        cs_->rmsnorm(dx, dw, 1e-5f, T, dim, dout);
        expect_close(dev_->get(dout, a.size()), a, 1e-6f, 1e-5f, what);
        cs_->rmsnorm(dx, dw, 1e-5f, T, dim, dx);  // in place
        expect_close(dev_->get(dx, a.size()), a, 1e-6f, 1e-5f, what + " in place");
      }
}

TEST_F(CudaTest, Rope) {
  for (RopeScaling sc : {RopeScaling::None, RopeScaling::Linear, RopeScaling::Llama3, RopeScaling::Yarn})
    for (int hd : {64, 128})
      for (int n_rot : {0, 32}) {
        RopeParams p;
        p.head_dim = hd;
        p.n_rot = n_rot;
        p.freq_base = sc == RopeScaling::None ? 10000.0f : 500000.0f;
        p.scaling = sc;
        p.factor = sc == RopeScaling::Linear ? 4.0f : 8.0f;
        p.orig_ctx = 8192;
        if (sc == RopeScaling::Yarn) {  // gpt-oss's: no truncation, cos/sin x its attention factor
          p.factor = 32.0f;
          p.orig_ctx = 4096;
          p.truncate = 0;
          p.attn_factor = 1.3465736f;
        }
        for (int T : {1, 3, 65}) {
          const int H = 9;
          auto x = randn(size_t(T) * H * hd, 41 + T);
          std::vector<int32_t> pos(T);
          for (int t = 0; t < T; ++t) pos[t] = t * 37;
          pos[0] = T > 1 ? 100000 : 4095;
          if (T > 2) pos[1] = 0;
          auto a = x;
          rs_->rope(a.data(), T, H, pos.data(), p);
          float* dx = dev_->put(x);
          cs_->rope(dx, T, H, dev_->put(pos), p);
          expect_close(dev_->get(dx, a.size()), a, 2e-6f, 1e-5f,
                       "rope scaling=" + std::to_string(int(sc)) + " head_dim=" + std::to_string(hd) +
                           " n_rot=" + std::to_string(n_rot) + " T=" + std::to_string(T));
        }
      }
}

TEST_F(CudaTest, SwigluAddGetRowsArgmax) {
  for (int64_t n : {int64_t{13}, int64_t{1536 * 65}, int64_t{200003}}) {
    const auto g = randn(n, 51, 4.0f), u = randn(n, 52);
    std::vector<float> a(n);
    rs_->swiglu(g.data(), u.data(), n, a.data());
    float* dg = dev_->put(g);
    float* du = dev_->put(u);
    float* dout = dev_->alloc<float>(n);
    cs_->swiglu(dg, du, n, dout);
    expect_close(dev_->get(dout, n), a, 1e-6f, 1e-5f, "swiglu n=" + std::to_string(n));
    cs_->swiglu(dg, du, n, dg);  // out aliases gate
    expect_close(dev_->get(dg, n), a, 1e-6f, 1e-5f, "swiglu in place n=" + std::to_string(n));
    auto xa = g;
    rs_->add(xa.data(), u.data(), n);
    float* dx = dev_->put(g);
    cs_->add(dx, du, n);
    expect_close(dev_->get(dx, n), xa, 0, 0, "add n=" + std::to_string(n));
  }
  // argmax over vocab-sized rows, ties resolved to the first index.
  for (int n : {1001, 49152, 128256})
    for (int T : {1, 8, 65}) {
      auto lg = randn(size_t(T) * n, 61 + T);
      for (int t = 0; t < T; ++t) {
        const int i1 = (t * 7919) % n, i2 = (i1 + 1 + t * 13) % n;
        lg[size_t(t) * n + i1] = 9.0f;  // tie: the lower index must win
        lg[size_t(t) * n + i2] = 9.0f;
        if (t % 3 == 2) lg[size_t(t) * n + n - 1] = 10.0f;  // the last element
      }
      std::vector<int32_t> ia(T);
      rs_->argmax(lg.data(), T, n, ia.data());
      int32_t* dout = dev_->alloc<int32_t>(T);
      cs_->argmax(dev_->put(lg), T, n, dout);
      EXPECT_EQ(dev_->get(dout, T), ia) << "argmax n=" << n << " T=" << T;
    }
  const auto lg = randn(200 * 1001, 62);
  std::vector<int32_t> idx = {199, 0, 7, 7, 150};
  std::vector<float> ra(idx.size() * 1001);
  rs_->get_rows(lg.data(), idx.data(), int32_t(idx.size()), 1001, ra.data());
  float* dout = dev_->alloc<float>(ra.size());
  cs_->get_rows(dev_->put(lg), dev_->put(idx), int32_t(idx.size()), 1001, dout);
  EXPECT_EQ(dev_->get(dout, ra.size()), ra);
}

// ---- KV cache + attention ---------------------------------------------------------------
struct AttnShape {
  int n_heads, n_kv_heads, head_dim;
};

KVCacheParams kvp(DType dt, int cells, const AttnShape& a, int layers = 2) {
  KVCacheParams p;
  p.n_layers = layers;
  p.n_cells = cells;
  p.n_kv_heads = a.n_kv_heads;
  p.head_dim = a.head_dim;
  p.dtype = dt;
  if (is_fp8(dt))
    for (int l = 0; l < layers; ++l) p.k_scale.push_back(0.02f + 0.01f * l), p.v_scale.push_back(0.01f + 0.005f * l);
  return p;
}

// One cache per backend, filled the same way; cells come from each cache.
struct KvPair {
  std::unique_ptr<KVCache> ref, cu;
};

class CudaKv : public CudaTest {
 protected:
  KvPair make_pair(const KVCacheParams& p) {
    KvPair k;
    Status a = ref_->create_kv_cache(p, &k.ref);
    Status b = cu_->create_kv_cache(p, &k.cu);
    EXPECT_TRUE(a.ok()) << a.message;
    EXPECT_TRUE(b.ok()) << "cuda create_kv_cache " << dname(p.dtype) << ": " << b.message;
    if (k.cu) {
      EXPECT_GT(k.cu->bytes(), 0u);
    }
    return k;
  }
  // Allocates cells for (seq, pos) on both caches, stores random K/V for every layer.
  void store(KvPair& k, const std::vector<int32_t>& seq, const std::vector<int32_t>& pos, uint32_t seed) {
    const int n = int(seq.size());
    const KVCacheParams& p = k.ref->params();
    const int KD = p.n_kv_heads * p.head_dim;
    std::vector<int32_t> cr(n), cc(n);
    ASSERT_TRUE(k.ref->alloc_cells(n, seq.data(), pos.data(), cr.data()).ok());
    ASSERT_TRUE(k.cu->alloc_cells(n, seq.data(), pos.data(), cc.data()).ok());
    cs_->kv_sync(*k.cu);
    const int32_t* dcells = dev_->put(cc);
    for (int layer = 0; layer < p.n_layers; ++layer) {
      const auto kk = randn(size_t(n) * KD, seed + 100 * layer, 2.0f), vv = randn(size_t(n) * KD, seed + 100 * layer + 1);
      rs_->kv_store(*k.ref, layer, kk.data(), vv.data(), cr.data(), n);
      cs_->kv_store(*k.cu, layer, dev_->put(kk), dev_->put(vv), dcells, n);
    }
  }
  // Attention of query tokens (qseq, qpos) on every layer, compared.
  void attend(KvPair& k, const AttnShape& a, const std::vector<int32_t>& qseq, const std::vector<int32_t>& qpos,
              uint32_t seed, const std::string& what, float atol = 2e-5f, float rtol = 2e-4f,
              const AttnBatch* extra = nullptr, const std::vector<float>* sinks = nullptr) {
    const int T = int(qseq.size());
    const auto q = randn(size_t(T) * a.n_heads * a.head_dim, seed);
    AttnBatch ab;
    if (extra) ab = *extra;  // fp8_fmha, window, softcap
    ab.n_tokens = T;
    ab.n_heads = a.n_heads;
    ab.scale = 1.0f / std::sqrt(float(a.head_dim));
    cs_->kv_sync(*k.cu);
    const float* dq = dev_->put(q);
    const int32_t* ds = dev_->put(qseq);
    const int32_t* dp = dev_->put(qpos);
    const float* dsk = sinks ? dev_->put(*sinks) : nullptr;
    for (int layer = 0; layer < k.ref->params().n_layers; ++layer) {
      std::vector<float> r(q.size());
      ab.seq = qseq.data();
      ab.pos = qpos.data();
      ab.sinks = sinks ? sinks->data() : nullptr;
      rs_->attention(*k.ref, layer, q.data(), ab, r.data());
      float* dout = dev_->put(std::vector<float>(q.size(), -7.0f));
      ab.seq = ds;
      ab.pos = dp;
      ab.sinks = dsk;
      cs_->attention(*k.cu, layer, dq, ab, dout);
      expect_close(dev_->get(dout, q.size()), r, atol, rtol, what + " layer " + std::to_string(layer));
    }
  }
};

// Three interleaved sequences, a fork sharing cells (seq_cp), a causal block,
// an empty sequence (zeros), then seq_rm + new tokens into freed cells.
TEST_F(CudaKv, SeveralSequencesSharedCellsMaskedEveryDtype) {
  const AttnShape shapes[] = {{9, 3, 64}, {32, 8, 128}, {6, 2, 64}};
  for (DType dt : {DType::E4M3, DType::E5M2, DType::BF16, DType::F16, DType::F32})
    for (const AttnShape& a : shapes) {
      const std::string base = dname(dt) + " H=" + std::to_string(a.n_heads) + "/" + std::to_string(a.n_kv_heads) +
                               " D=" + std::to_string(a.head_dim);
      KvPair k = make_pair(kvp(dt, 128, a));
      if (HasFailure()) return;
      std::vector<int32_t> seq, pos;
      const int lens[3] = {9, 5, 12};
      for (int p = 0; p < 12; ++p)
        for (int s = 0; s < 3; ++s)
          if (p < lens[s]) seq.push_back(s), pos.push_back(p);
      store(k, seq, pos, 100);
      k.ref->seq_cp(2, 3, 0, 6);  // seq 3 = a fork of seq 2's first 6 tokens
      k.cu->seq_cp(2, 3, 0, 6);
      // decode tokens of seqs 0, 1, 3, a causal block of seq 2, and seq 5 (empty: zeros)
      attend(k, a, {0, 1, 3, 2, 2, 2, 5}, {9, 5, 6, 3, 7, 11, 0}, 300, base);
      // the empty sequence alone must give exact zeros
      {
        std::vector<int32_t> es = {5}, ep = {0};
        AttnBatch ab;
        ab.n_tokens = 1;
        ab.seq = dev_->put(es);
        ab.pos = dev_->put(ep);
        ab.n_heads = a.n_heads;
        ab.scale = 0.1f;
        cs_->kv_sync(*k.cu);
        float* dz = dev_->put(std::vector<float>(size_t(a.n_heads) * a.head_dim, 1.0f));
        cs_->attention(*k.cu, 0, dev_->put(randn(size_t(a.n_heads) * a.head_dim, 9)), ab, dz);
        for (float f : dev_->get(dz, size_t(a.n_heads) * a.head_dim)) ASSERT_EQ(f, 0.0f) << base << " empty seq";
      }
      // truncate seq 2 at 4 (seq 3 keeps its shared cells), drop seq 1, add new tokens
      k.ref->seq_rm(2, 4, -1);
      k.cu->seq_rm(2, 4, -1);
      k.ref->seq_rm(1, 0, -1);
      k.cu->seq_rm(1, 0, -1);
      EXPECT_EQ(k.cu->n_used(), k.ref->n_used()) << base;
      EXPECT_EQ(k.cu->seq_pos_max(2), 3) << base;
      store(k, {2, 2, 2, 1, 4}, {4, 5, 6, 0, 0}, 500);
      attend(k, a, {2, 3, 1, 4, 0}, {6, 6, 0, 0, 9}, 301, base + " after seq_rm");
    }
}

// Per-token KV scales (KVCacheParams::token_scales, the CPU's fp8 default):
// the store kernel writes the same codes and exponents as cpu-ref (compared
// through attention, which reads both), over decode, a causal block, a fork
// and a window. Rows of very
// different sizes per token and head, as kv_scale.h is for.
TEST_F(CudaKv, TokenScalesMatchRef) {
  for (const AttnShape& a : {AttnShape{9, 3, 64}, AttnShape{32, 8, 128}, AttnShape{6, 2, 40}}) {
    KVCacheParams p = kvp(DType::E4M3, 256, a);
    p.k_scale.clear();
    p.v_scale.clear();
    p.token_scales = true;
    const std::string base = "token scales D=" + std::to_string(a.head_dim);
    KvPair k = make_pair(p);
    if (HasFailure()) return;
    EXPECT_EQ(k.cu->bytes(), k.ref->bytes()) << base;
    std::vector<int32_t> seq, pos;
    for (int q = 0; q < 70; ++q)
      for (int s = 0; s < 3; ++s) seq.push_back(s), pos.push_back(q);
    const int n = int(seq.size()), KD = a.n_kv_heads * a.head_dim;
    std::vector<int32_t> cr(n), cc(n);
    ASSERT_TRUE(k.ref->alloc_cells(n, seq.data(), pos.data(), cr.data()).ok());
    ASSERT_TRUE(k.cu->alloc_cells(n, seq.data(), pos.data(), cc.data()).ok());
    cs_->kv_sync(*k.cu);
    for (int layer = 0; layer < p.n_layers; ++layer) {
      auto kk = randn(size_t(n) * KD, 40 + layer, 2.0f), vv = randn(size_t(n) * KD, 50 + layer);
      for (size_t i = 0; i < kk.size(); ++i) {
        const int r = int(i / a.head_dim);
        kk[i] *= std::ldexp(1.0f, (r * 5) % 13 - 6);
        vv[i] *= std::ldexp(1.0f, (r * 3) % 11 - 5);
      }
      rs_->kv_store(*k.ref, layer, kk.data(), vv.data(), cr.data(), n);
      cs_->kv_store(*k.cu, layer, dev_->put(kk), dev_->put(vv), dev_->put(cc), n);
    }
    k.ref->seq_cp(2, 3, 0, 30);
    k.cu->seq_cp(2, 3, 0, 30);
    attend(k, a, {0, 1, 3, 2, 2, 2, 5}, {69, 40, 29, 3, 64, 69, 0}, 60, base, 1e-4f, 5e-4f);
    AttnBatch w;
    w.window = 17;
    attend(k, a, {0, 1, 2}, {69, 66, 20}, 61, base + " window", 1e-4f, 5e-4f, &w);
  }
}

// A causal prefill block of 65 and 200 tokens on an empty sequence next to
// other sequences (the prefill attention path).
TEST_F(CudaKv, CausalPrefillBlocks) {
  for (DType dt : {DType::E4M3, DType::BF16, DType::F32})
    for (const AttnShape& a : {AttnShape{9, 3, 64}, AttnShape{32, 8, 128}})
      for (int T : {16, 65, 200}) {
        const std::string base = "prefill " + dname(dt) + " D=" + std::to_string(a.head_dim) + " T=" + std::to_string(T);
        KvPair k = make_pair(kvp(dt, 512, a, 1));
        if (HasFailure()) return;
        std::vector<int32_t> seq, pos;
        for (int p = 0; p < 40; ++p) seq.push_back(0), pos.push_back(p);  // another sequence
        store(k, seq, pos, 700);
        seq.assign(T, 1);
        pos.resize(T);
        for (int t = 0; t < T; ++t) pos[t] = t;
        store(k, seq, pos, 800);
        attend(k, a, seq, pos, 900 + T, base);
      }
}

// FP8 FMHA (kernels/fmha_fp8.cu) against its CPU emulation on cpu-ref:
// chunked prefill of two sequences in one batch (the first 64-row tile
// mixes them), a fork sharing pages, GQA, head dims 64/128/256, a window
// and a softcap. The emulation sums in double and uses std::exp2; the GPU
// sums in FP32 MMAs and uses exp2f: an exp2 next to an E4M3 boundary may
// move one P code, so the tolerance is that of one P step in a few cells.
TEST_F(CudaKv, Fp8FmhaMatchesEmulation) {
  for (const AttnShape& a : {AttnShape{32, 8, 128}, AttnShape{9, 3, 64}, AttnShape{8, 2, 256}})
    for (int T : {65, 130, 300}) {
      const std::string base = "fmha D=" + std::to_string(a.head_dim) + " T=" + std::to_string(T);
      KvPair k = make_pair(kvp(DType::E4M3, 1200, a, 1));
      if (HasFailure()) return;
      std::vector<int32_t> seq, pos;
      for (int p = 0; p < 400; ++p) {
        seq.push_back(0), pos.push_back(p);
        if (p < 150) seq.push_back(1), pos.push_back(p);
      }
      store(k, seq, pos, 1100);
      k.ref->seq_cp(0, 2, 0, 200);
      k.cu->seq_cp(0, 2, 0, 200);
      std::vector<int32_t> qs, qp;
      for (int t = 0; t < T; ++t) {
        if (t % 3 == 2) qs.push_back(1), qp.push_back(100 + (t % 50));
        else qs.push_back(t % 3 ? 2 : 0), qp.push_back(t % 3 ? 199 - (t % 60) : 399 - (t % 200));
      }
      for (int32_t window : {0, 50})
        for (float cap : {0.0f, 20.0f}) {
          AttnBatch ex;
          ex.fp8_fmha = true;
          ex.window = window;
          ex.softcap = cap;
          attend(k, a, qs, qp, 1200 + T, base + " window " + std::to_string(window) + " cap " + std::to_string(cap),
                 3e-3f, 3e-2f, &ex);
        }
    }
}

// gpt-oss attention sinks (a logit per head in the softmax denominator): the
// flash-decoding kernel with one split and with several (the merge kernel
// folds the sink), and FP8 FMHA against its emulation, with a window.
TEST_F(CudaKv, AttentionSinks) {
  const AttnShape a{8, 2, 64};
  std::vector<float> sinks = {0.5f, -3.0f, 2.0f, 0.0f, 1.0f, 8.0f, -1.0f, 4.0f};
  KvPair k = make_pair(kvp(DType::E4M3, 2400, a, 1));
  if (HasFailure()) return;
  std::vector<int32_t> seq, pos;
  for (int p = 0; p < 2000; ++p) seq.push_back(0), pos.push_back(p);
  store(k, seq, pos, 1500);
  // decode: one token (many splits over 2000 cells) and a small batch
  attend(k, a, {0}, {1999}, 1600, "sinks decode", 2e-5f, 2e-4f, nullptr, &sinks);
  attend(k, a, {0, 0, 0}, {5, 700, 1999}, 1601, "sinks batch", 2e-5f, 2e-4f, nullptr, &sinks);
  for (int32_t window : {0, 128}) {
    AttnBatch ex;
    ex.window = window;
    attend(k, a, {0, 0}, {1500, 1999}, 1602, "sinks window " + std::to_string(window), 2e-5f, 2e-4f, &ex, &sinks);
    std::vector<int32_t> qs(130, 0), qp(130);
    for (int t = 0; t < 130; ++t) qp[size_t(t)] = 1870 + t;
    ex.fp8_fmha = true;
    attend(k, a, qs, qp, 1603, "sinks fmha window " + std::to_string(window), 3e-3f, 3e-2f, &ex, &sinks);
  }
}

// Long contexts: the split-context (flash-decoding) merge, batch of decodes.
TEST_F(CudaKv, LongContextDecode) {
  const int ctx_len = quick() ? 700 : 3000;
  for (DType dt : {DType::E4M3, DType::F16})
    for (const AttnShape& a : {AttnShape{32, 8, 128}, AttnShape{9, 3, 64}}) {
      KvPair k = make_pair(kvp(dt, 2 * ctx_len + 16, a, 1));
      if (HasFailure()) return;
      std::vector<int32_t> seq, pos;
      for (int p = 0; p < ctx_len; ++p) {
        seq.push_back(0), pos.push_back(p);
        if (p < ctx_len / 3) seq.push_back(1), pos.push_back(p);
      }
      store(k, seq, pos, 1000);
      attend(k, a, {0, 1, 0}, {ctx_len - 1, ctx_len / 3 - 1, ctx_len / 2}, 1001,
             "long " + dname(dt) + " D=" + std::to_string(a.head_dim));
    }
}

// FP8 cache bytes equal the scalar codec: with one visible cell, attention
// returns V exactly as stored (decode(q) * v_scale).
TEST_F(CudaKv, SingleCellReturnsStoredV) {
  const AttnShape a{2, 2, 64};
  KvPair k = make_pair(kvp(DType::E4M3, 4, a, 1));
  if (HasFailure()) return;
  std::vector<int32_t> s = {0}, p = {0}, cell(1);
  ASSERT_TRUE(k.cu->alloc_cells(1, s.data(), p.data(), cell.data()).ok());
  cs_->kv_sync(*k.cu);
  const auto kk = randn(128, 1), vv = randn(128, 2);
  cs_->kv_store(*k.cu, 0, dev_->put(kk), dev_->put(vv), dev_->put(cell), 1);
  AttnBatch ab;
  ab.n_tokens = 1;
  ab.seq = dev_->put(s);
  ab.pos = dev_->put(p);
  ab.n_heads = 2;
  ab.scale = 0.1f;
  float* dout = dev_->alloc<float>(128);
  cs_->attention(*k.cu, 0, dev_->put(randn(128, 3)), ab, dout);
  const auto out = dev_->get(dout, 128);
  const float vs = k.cu->params().v_scale[0];
  for (int i = 0; i < 128; ++i) ASSERT_EQ(out[i], ggf8::e4m3_to_f32(ggf8::e4m3_from_f32(vv[i] / vs)) * vs) << i;
}

// ---- CUDA graphs ------------------------------------------------------------------------
// A miniature decode step: rmsnorm -> qkv gemm_multi -> rope -> kv_store ->
// attention -> o gemm -> add -> swiglu MLP -> lm head -> argmax. Recorded once
// per key (T), replayed on new inputs while the cache grows; each replay must
// equal an eager run of the same step on a second stream and cache.
class CudaGraph : public CudaTest {
 protected:
  static constexpr int D = 256, H = 4, KVH = 2, HD = 64, F = 512, V = 1000;
  struct Model {
    TestWeight norm, wq, wk, wv, wo, wg, wu, wd, head;
    Weight dnorm, dwq, dwk, dwv, dwo, dwg, dwu, dwd, dhead;
  };
  struct Bufs {  // device buffers of one stream (fixed addresses: graph inputs)
    float *x, *h, *q, *k, *v, *att, *g, *u, *lg;
    int32_t *pos, *seq, *cells, *tok;
  };
  void build(Model* m) {
    m->norm = make_weight(1, D, DType::BF16, ScaleKind::None, 1);
    m->wq = make_weight(H * HD, D, DType::E4M3, ScaleKind::Channel, 2);
    m->wk = make_weight(KVH * HD, D, DType::E4M3, ScaleKind::Channel, 3);
    m->wv = make_weight(KVH * HD, D, DType::E4M3, ScaleKind::Channel, 4);
    m->wo = make_weight(D, H * HD, DType::E4M3, ScaleKind::Tensor, 5);
    m->wg = make_weight(F, D, DType::E4M3, ScaleKind::Block, 6);
    m->wu = make_weight(F, D, DType::E4M3, ScaleKind::Block, 7);
    m->wd = make_weight(D, F, DType::E4M3, ScaleKind::Channel, 8);
    m->head = make_weight(V, D, DType::BF16, ScaleKind::None, 9);
    // keep activations O(1): scale the FP8 weights' scales down
    for (TestWeight* w : {&m->wq, &m->wk, &m->wv, &m->wo, &m->wg, &m->wu, &m->wd})
      for (float& s : w->scale) s *= 0.05f;
    m->dnorm = up(m->norm), m->dwq = up(m->wq), m->dwk = up(m->wk), m->dwv = up(m->wv), m->dwo = up(m->wo);
    m->dwg = up(m->wg), m->dwu = up(m->wu), m->dwd = up(m->wd), m->dhead = up(m->head);
  }
  Bufs bufs(Dev& d, int maxT) {
    Bufs b;
    b.x = d.alloc<float>(size_t(maxT) * D), b.h = d.alloc<float>(size_t(maxT) * D);
    b.q = d.alloc<float>(size_t(maxT) * H * HD), b.k = d.alloc<float>(size_t(maxT) * KVH * HD);
    b.v = d.alloc<float>(size_t(maxT) * KVH * HD), b.att = d.alloc<float>(size_t(maxT) * H * HD);
    b.g = d.alloc<float>(size_t(maxT) * F), b.u = d.alloc<float>(size_t(maxT) * F), b.lg = d.alloc<float>(size_t(maxT) * V);
    b.pos = d.alloc<int32_t>(maxT), b.seq = d.alloc<int32_t>(maxT), b.cells = d.alloc<int32_t>(maxT);
    b.tok = d.alloc<int32_t>(maxT);
    return b;
  }
  // act: what gemm is asked for (the GPU quantizes FP8 activations anyway;
  // cpu-ref is given DynamicToken to mean the same).
  void step(Stream& s, KVCache& c, const Model& m, const Bufs& b, int T, ActQuant act = ActQuant::None) {
    GemmOpts o;
    o.act = act;
    RopeParams rp;
    rp.head_dim = HD;
    rp.freq_base = 500000.0f;
    rp.scaling = RopeScaling::Llama3;
    rp.factor = 8.0f;
    s.rmsnorm(b.x, m.dnorm, 1e-5f, T, D, b.h);
    Stream::GemmJob qkv[3] = {{&m.dwq, b.q, o}, {&m.dwk, b.k, o}, {&m.dwv, b.v, o}};
    s.gemm_multi(b.h, T, qkv, 3);
    s.rope(b.q, T, H, b.pos, rp);
    s.rope(b.k, T, KVH, b.pos, rp);
    s.kv_store(c, 0, b.k, b.v, b.cells, T);
    AttnBatch ab;
    ab.n_tokens = T;
    ab.seq = b.seq;
    ab.pos = b.pos;
    ab.n_heads = H;
    ab.scale = 1.0f / std::sqrt(float(HD));
    s.attention(c, 0, b.q, ab, b.att);
    s.gemm(b.att, T, m.dwo, b.h, o);
    s.add(b.x, b.h, int64_t(T) * D);
    s.rmsnorm(b.x, m.dnorm, 1e-5f, T, D, b.h);
    Stream::GemmJob gu[2] = {{&m.dwg, b.g, o}, {&m.dwu, b.u, o}};
    s.gemm_multi(b.h, T, gu, 2);
    s.swiglu(b.g, b.u, int64_t(T) * F, b.g);
    s.gemm(b.g, T, m.dwd, b.h, o);
    s.add(b.x, b.h, int64_t(T) * D);
    s.gemm(b.x, T, m.dhead, b.lg, o);
    s.argmax(b.lg, T, V, b.tok);
  }
};

TEST_F(CudaGraph, ReplayEqualsEagerWhileTheCacheGrows) {
  Model m;
  build(&m);
  if (HasFailure()) return;
  const int kMaxSteps = quick() ? 6 : 40;
  auto se = make_stream(*cu_, 8, 4096, H * HD);  // eager
  ASSERT_TRUE(se);
  Dev de(*cu_, *se);
  KVCacheParams kp = kvp(DType::E4M3, 1024, {H, KVH, HD}, 1);
  std::unique_ptr<KVCache> cg, ce;
  ASSERT_TRUE(cu_->create_kv_cache(kp, &cg).ok());
  ASSERT_TRUE(cu_->create_kv_cache(kp, &ce).ok());
  const Bufs bg = bufs(*dev_, 8), be = bufs(de, 8);
  // key 3: a batched decode of 3 sequences; key 1: one sequence alone (seq 7).
  int steps_recorded = 0, steps_replayed = 0;
  for (int it = 0; it < kMaxSteps; ++it) {
    for (int T : {3, 1}) {
      std::vector<int32_t> seq(T), pos(T), cg_cells(T), ce_cells(T);
      for (int t = 0; t < T; ++t) {
        seq[t] = T == 3 ? t : 7;
        pos[t] = it;
      }
      ASSERT_TRUE(cg->alloc_cells(T, seq.data(), pos.data(), cg_cells.data()).ok());
      ASSERT_TRUE(ce->alloc_cells(T, seq.data(), pos.data(), ce_cells.data()).ok());
      const auto x = randn(size_t(T) * D, 5000 + 17 * it + T);
      // graph stream: inputs into the fixed buffers, then replay or record
      cs_->kv_sync(*cg);
      dev_->set(bg.x, x), dev_->set(bg.pos, pos), dev_->set(bg.seq, seq), dev_->set(bg.cells, cg_cells);
      const uint64_t key = uint64_t(T);
      if (cs_->graph_replay(key)) {
        ++steps_replayed;
      } else {
        ASSERT_EQ(it, 0) << "graph_replay(" << key << ") returned false after recording";
        ASSERT_TRUE(cs_->graph_begin(key)) << "graph_begin(" << key << ") did not start recording";
        step(*cs_, *cg, m, bg, T);
        const Status st = cs_->graph_end();
        ASSERT_TRUE(st.ok()) << "graph_end: " << st.message;
        ++steps_recorded;
      }
      // eager stream: the same step
      se->kv_sync(*ce);
      de.set(be.x, x), de.set(be.pos, pos), de.set(be.seq, seq), de.set(be.cells, ce_cells);
      step(*se, *ce, m, be, T);
      const auto lg_g = dev_->get(bg.lg, size_t(T) * V), lg_e = de.get(be.lg, size_t(T) * V);
      const auto x_g = dev_->get(bg.x, size_t(T) * D), x_e = de.get(be.x, size_t(T) * D);
      const std::string what = "step " + std::to_string(it) + " T=" + std::to_string(T);
      expect_close(lg_g, lg_e, 1e-6f, 1e-6f, "logits " + what);
      expect_close(x_g, x_e, 1e-6f, 1e-6f, "residual " + what);
      EXPECT_EQ(dev_->get(bg.tok, T), de.get(be.tok, T)) << "argmax " << what;
      if (HasFailure()) return;
    }
  }
  EXPECT_EQ(steps_recorded, 2);
  EXPECT_EQ(steps_replayed, 2 * (kMaxSteps - 1));
  EXPECT_FALSE(cs_->graph_replay(5)) << "nothing was recorded for key 5";
  EXPECT_TRUE(se->error().ok()) << se->error().message;
  EXPECT_EQ(cg->n_used(), kMaxSteps * 4);
}

// The eager step itself against cpu-ref (so the graph test compares against
// something right): the same miniature model, prefill of 9 tokens then decodes.
TEST_F(CudaGraph, EagerStepMatchesCpuRef) {
  Model m;
  build(&m);
  if (HasFailure()) return;
  KVCacheParams kp = kvp(DType::BF16, 64, {H, KVH, HD}, 1);
  std::unique_ptr<KVCache> cc, rc;
  ASSERT_TRUE(cu_->create_kv_cache(kp, &cc).ok());
  ASSERT_TRUE(ref_->create_kv_cache(kp, &rc).ok());
  const Bufs bc = bufs(*dev_, 16);
  // host "device" buffers for cpu-ref (its memory is host memory)
  struct HostBufs {
    std::vector<float> x, h, q, k, v, att, g, u, lg;
    std::vector<int32_t> pos, seq, cells, tok;
  } hb;
  const int maxT = 16;
  hb.x.resize(maxT * D), hb.h.resize(maxT * D), hb.q.resize(maxT * H * HD), hb.k.resize(maxT * KVH * HD);
  hb.v.resize(maxT * KVH * HD), hb.att.resize(maxT * H * HD), hb.g.resize(maxT * F), hb.u.resize(maxT * F);
  hb.lg.resize(maxT * V), hb.pos.resize(maxT), hb.seq.resize(maxT), hb.cells.resize(maxT), hb.tok.resize(maxT);
  const Bufs br = {hb.x.data(), hb.h.data(), hb.q.data(), hb.k.data(), hb.v.data(), hb.att.data(), hb.g.data(),
                   hb.u.data(), hb.lg.data(), hb.pos.data(), hb.seq.data(), hb.cells.data(), hb.tok.data()};
  Model mr = m;  // cpu-ref uses the host views
  mr.dnorm = m.norm.w(), mr.dwq = m.wq.w(), mr.dwk = m.wk.w(), mr.dwv = m.wv.w(), mr.dwo = m.wo.w();
  mr.dwg = m.wg.w(), mr.dwu = m.wu.w(), mr.dwd = m.wd.w(), mr.dhead = m.head.w();
  int p0 = 0;
  for (int T : {9, 1, 1, 1}) {
    std::vector<int32_t> seq(T, 0), pos(T), cells(T), rcells(T);
    for (int t = 0; t < T; ++t) pos[t] = p0 + t;
    p0 += T;
    ASSERT_TRUE(cc->alloc_cells(T, seq.data(), pos.data(), cells.data()).ok());
    ASSERT_TRUE(rc->alloc_cells(T, seq.data(), pos.data(), rcells.data()).ok());
    const auto x = randn(size_t(T) * D, 77 + T + p0);
    cs_->kv_sync(*cc);
    dev_->set(bc.x, x), dev_->set(bc.pos, pos), dev_->set(bc.seq, seq), dev_->set(bc.cells, cells);
    step(*cs_, *cc, m, bc, T);
    std::copy(x.begin(), x.end(), hb.x.begin());
    std::copy(pos.begin(), pos.end(), hb.pos.begin());
    std::copy(seq.begin(), seq.end(), hb.seq.begin());
    std::copy(rcells.begin(), rcells.end(), hb.cells.begin());
    step(*rs_, *rc, mr, br, T, ActQuant::DynamicToken);
    std::vector<float> xr(hb.x.begin(), hb.x.begin() + size_t(T) * D);
    const auto xc = dev_->get(bc.x, size_t(T) * D);
    // Same quantization on both; only accumulation order differs, which can
    // flip an occasional E4M3 rounding of a later activation.
    EXPECT_LT(nmse(xc, xr), 1e-5) << "residual T=" << T;
    std::vector<float> lr(hb.lg.begin(), hb.lg.begin() + size_t(T) * V);
    EXPECT_LT(nmse(dev_->get(bc.lg, size_t(T) * V), lr), 1e-5) << "logits T=" << T;
  }
}

}  // namespace
