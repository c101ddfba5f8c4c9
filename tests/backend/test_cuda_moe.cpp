// test_cuda_moe.cpp — the CUDA backend's mixture-of-experts ops against
// cpu-ref on a GPU (device memory, uploaded stacks): moe_route (ids equal,
// weights within expf's ulps), moe_ffn on E4M3/E5M2 stacks with every scale
// kind and on BF16/F16 stacks, per-expert biases, SwiGLU and SwiGLUOss,
// decode and prefill token counts, tensor-parallel slices of the stacks,
// sigmoid_scale_rows; a token's output bit-identical alone and in a batch
// and from run to run; a CUDA graph of route + experts replayed on new
// inputs == eager; refusals (too many experts, a graph that would have to
// allocate). The CPU replays of the same kernels: test_cuda_moe_layout,
// test_cuda_moe_replay. A separate binary from test_cuda_backend (already
// 1,000 lines); the same conventions.
//
// Without a usable device every test GTEST_SKIPs with the reason.
// Env: F8_CUDA_TEST_QUICK=1 trims the sweeps (compute-sanitizer runs);
//      F8_CUDA_GEMM_TOL=x multiplies the NMSE bounds by x^2;
//      F8_CUDA_TEST_FAKE=1 runs against fake_cuda_shim.h (cpu-simd with the
//      CUDA semantics) to check the tests themselves without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend_test_util.h"
#include "fake_cuda_shim.h"
#include "moe_test_util.h"

using namespace f8test;

namespace {

bool env_on(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::string(v) != "0";
}
bool quick() { return env_on("F8_CUDA_TEST_QUICK"); }
bool fake() { return env_on("F8_CUDA_TEST_FAKE"); }
double tol() {
  const char* t = std::getenv("F8_CUDA_GEMM_TOL");
  const double v = t ? std::atof(t) : 1.0;
  return v > 0 ? v : 1.0;
}
bool is_fp8(DType d) { return d == DType::E4M3 || d == DType::E5M2; }

std::unique_ptr<Backend> cuda_or_reason(std::string* why) {
  std::unique_ptr<Backend> b;
  if (fake()) {
    if (create_backend("cpu-simd", {}, &b).ok()) return std::make_unique<FakeCudaBackend>(std::move(b));
  }
  const Status s = create_backend("cuda", {}, &b);
  if (!s.ok()) {
    *why = "create_backend(\"cuda\"): " + s.message;
    return nullptr;
  }
  return b;
}

// A stream sized for MoE layers up to k = 8 of 128 experts 512 x 512.
std::unique_ptr<Stream> moe_stream(Backend& b, int max_tokens, bool moe_sizes = true) {
  StreamParams p;
  p.max_tokens = max_tokens;
  p.max_dim = 4096;
  if (moe_sizes) {
    p.moe_k = 8;
    p.moe_experts = 128;
    p.moe_ff = 512;
    p.moe_hidden = 512;
  }
  std::unique_ptr<Stream> s;
  const Status st = b.create_stream(p, &s);
  EXPECT_TRUE(st.ok()) << "create_stream: " << st.message;
  return s;
}

// Device memory owned by one test.
class Dev {
 public:
  Dev(Backend& be, Stream& s) : be_(be), s_(s) {}
  template <typename T>
  T* alloc(size_t n) {
    std::unique_ptr<Buffer> b;
    const Status st = be_.alloc(std::max<size_t>(n * sizeof(T), 16), &b);
    if (!st.ok()) throw std::runtime_error("alloc: " + st.message);
    T* p = static_cast<T*>(b->data());
    bufs_.push_back(std::move(b));
    return p;
  }
  template <typename T>
  T* put(const std::vector<T>& v) {
    T* p = alloc<T>(v.size());
    set(p, v);
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

class CudaMoe : public testing::Test {
 protected:
  static constexpr int kMaxT = 256;
  void SetUp() override {
    std::string why;
    cu_ = cuda_or_reason(&why);
    if (!cu_) GTEST_SKIP() << why;
    ref_ = make("cpu-ref");
    ASSERT_TRUE(ref_);
    cs_ = moe_stream(*cu_, kMaxT);
    rs_ = stream(*ref_, 1, kMaxT, 4096);
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
  // Uploads a (possibly sliced) layer as src/model/model.cpp does: the
  // stacks, and the per-expert biases as stacks of one-row vectors.
  MoeExperts upload(const MoeExperts& h) {
    MoeExperts d = h;
    auto up = [&](const Weight& w, Weight* out) {
      const Status s = cu_->upload(w, out);
      EXPECT_TRUE(s.ok()) << "upload " << w.n_mats << "x" << w.rows << "x" << w.cols << ": " << s.message;
    };
    up(h.gate, &d.gate);
    up(h.up, &d.up);
    up(h.down, &d.down);
    const int64_t F = h.gate.rows, H = h.gate.cols, FB = h.fb_stride ? h.fb_stride : F;
    // (the uploaded stack's mat_stride is the device's stride between experts)
    auto bias = [&](const Bias& b, int64_t n, int64_t stride, Bias* out, bool gate_up) {
      if (!b.data) return;
      Weight v, dv;
      v.data = b.data;
      v.dtype = b.dtype;
      v.rows = 1;
      v.cols = n;
      v.n_mats = h.gate.n_mats;
      v.mat_stride = stride;
      up(v, &dv);
      *out = {dv.data, dv.dtype};
      if (gate_up && dv.mat_stride) d.fb_stride = dv.mat_stride;
    };
    bias(h.gate_b, F, FB, &d.gate_b, true);
    bias(h.up_b, F, FB, &d.up_b, true);
    bias(h.down_b, H, H, &d.down_b, false);
    return d;
  }
  // cuda moe_ffn on device copies of x, ids, w.
  std::vector<float> run(Stream& s, Dev& dv, const MoeExperts& d, const std::vector<float>& x, int32_t T,
                         const std::vector<int32_t>& ids, const std::vector<float>& w, int32_t k) {
    const int64_t H = d.gate.cols;
    const float* dx = dv.put(x);
    const int32_t* di = dv.put(ids);
    const float* dw = dv.put(w);
    float* dy = dv.put(std::vector<float>(size_t(T) * H, -1.0f));
    s.moe_ffn(dx, T, d, di, dw, k, dy, ActQuant::DynamicToken);
    return dv.get(dy, size_t(T) * H);
  }
  std::vector<float> ref(const MoeExperts& h, const std::vector<float>& x, int32_t T, const std::vector<int32_t>& ids,
                         const std::vector<float>& w, int32_t k) {
    std::vector<float> y(size_t(T) * h.gate.cols);
    rs_->moe_ffn(x.data(), T, h, ids.data(), w.data(), k, y.data(),
                 is_fp8(h.gate.dtype) ? ActQuant::DynamicToken : ActQuant::None);
    return y;
  }
  std::unique_ptr<Backend> cu_, ref_;
  std::unique_ptr<Stream> cs_, rs_;
  std::unique_ptr<Dev> dev_;
};

struct Worst {
  double e = 0;
  std::string what;
  void add(double x, const std::string& w) {
    if (x > e) e = x, what = w;
  }
};

}  // namespace

TEST_F(CudaMoe, RouteMatchesCpuRef) {
  int n = 0, near_ties = 0;
  for (int32_t E : {8, 60, 128})
    for (int32_t k : {1, 2, 8})
      for (auto gating : {MoeGating::SoftmaxTopK, MoeGating::TopKSoftmax})
        for (bool norm : {false, true})
          for (int32_t T : {1, 5, 64, 200}) {
            if (quick() && T > 5) continue;
            const MoeRoute r{gating, E, k, norm};
            std::vector<float> lg = randn(size_t(T) * E, uint32_t(E * 1000 + k * 10 + T));
            for (int32_t t = 0; t < T; t += 2) lg[size_t(t) * E + 3] = lg[size_t(t) * E + 5];  // exact ties
            std::vector<int32_t> ir(size_t(T * k));
            std::vector<float> wr(size_t(T * k));
            rs_->moe_route(lg.data(), T, r, ir.data(), wr.data());
            const float* dl = dev_->put(lg);
            int32_t* di = dev_->alloc<int32_t>(size_t(T * k));
            float* dw = dev_->alloc<float>(size_t(T * k));
            cs_->moe_route(dl, T, r, di, dw);
            const auto ic = dev_->get(di, ir.size());
            const auto wc = dev_->get(dw, wr.size());
            for (int32_t t = 0; t < T; ++t)
              for (int32_t j = 0; j < k; ++j) {
                const size_t i = size_t(t * k + j);
                if (ic[i] != ir[i]) {
                  // Only a near-tie may order differently (expf vs std::exp): the two
                  // experts' weights must then agree to a few ulps.
                  ++near_ties;
                  EXPECT_NEAR(wc[i], wr[i], 4e-7 * std::fabs(wr[i]) + 1e-30)
                      << "E " << E << " k " << k << " T " << T << " token " << t << " slot " << j << ": expert "
                      << ic[i] << " vs " << ir[i];
                } else {
                  EXPECT_NEAR(wc[i], wr[i], 4e-7 * std::fabs(wr[i]) + 1e-30) << "weight, token " << t;
                }
              }
            ++n;
          }
  std::printf("[ info ] moe_route: %d cases, %d near-tie reorders\n", n, near_ties);
}

TEST_F(CudaMoe, FfnMatchesCpuRefEveryDtypeScaleKindAndT) {
  std::vector<LayerSpec> specs;
  for (DType dt : {DType::E4M3, DType::E5M2})
    for (ScaleKind sk : {ScaleKind::None, ScaleKind::Tensor, ScaleKind::Channel, ScaleKind::Block}) {
      LayerSpec sp;
      sp.dt = dt;
      sp.sk = sk;
      if (sk == ScaleKind::Block) sp.H = 256, sp.F = 200, sp.br = 128, sp.bc = 128;
      sp.biases = sk == ScaleKind::Channel || sk == ScaleKind::Block;
      sp.act = dt == DType::E5M2 ? MoeAct::SwiGLUOss : MoeAct::SwiGLU;
      specs.push_back(sp);
    }
  for (DType dt : {DType::BF16, DType::F16}) {
    LayerSpec sp;
    sp.dt = dt;
    sp.sk = ScaleKind::None;
    sp.biases = dt == DType::BF16;
    specs.push_back(sp);
  }
  LayerSpec wide;  // many experts, k = 8 (Qwen3-MoE-like, smaller)
  wide.E = 64;
  wide.H = 512;
  wide.F = 256;
  specs.push_back(wide);
  Worst worst;
  const double t2 = tol() * tol();
  uint32_t seed = 1;
  for (const LayerSpec& sp : specs) {
    if (quick() && specs.size() > 3 && sp.dt == DType::F16) continue;
    const HostLayer L = make_host_layer(sp, seed += 17);
    const MoeExperts d = upload(L.host);
    if (HasFailure()) return;
    for (int32_t k : {1, 2, 8})
      for (int32_t T : {1, 3, 8, 19, 64, 130}) {
        if (k > sp.E || (quick() && (T == 3 || T == 64))) continue;
        const std::string what = spec_name(sp) + " E " + std::to_string(sp.E) + " k " + std::to_string(k) + " T " +
                                 std::to_string(T);
        std::vector<int32_t> ids;
        std::vector<float> w;
        route_tokens(T, sp.E, k, seed + uint32_t(T), &ids, &w);
        const auto x = randn(size_t(T) * sp.H, seed + 1000 + uint32_t(T), 0.3f);
        const auto want = ref(L.host, x, T, ids, w, k);
        const auto got = run(*cs_, *dev_, d, x, T, ids, w, k);
        const double e = nmse(got, want);
        worst.add(e, what);
        // FP8: tensor-core accumulation order, and a slot's activation may
        // quantize to the neighbouring E4M3 code; 16-bit: FP32 vs double sums.
        EXPECT_LT(e, (is_fp8(sp.dt) ? 1e-5 : 1e-10) * t2) << what;
        if (HasFailure()) return;
      }
  }
  std::printf("[ info ] moe_ffn vs cpu-ref: worst NMSE %.3g (%s)\n", worst.e, worst.what.c_str());
}

// A token's output: the same bits alone as in a batch, and from run to run.
TEST_F(CudaMoe, FfnIsBatchInvariantAndDeterministic) {
  for (DType dt : {DType::E4M3, DType::BF16}) {
    LayerSpec sp;
    sp.E = 16;
    sp.dt = dt;
    sp.sk = dt == DType::E4M3 ? ScaleKind::Channel : ScaleKind::None;
    sp.biases = true;
    const HostLayer L = make_host_layer(sp, 55);
    const MoeExperts d = upload(L.host);
    const int32_t T = 70, k = 4;  // a batch: tiles of 8 slots or more
    std::vector<int32_t> ids;
    std::vector<float> w;
    route_tokens(T, sp.E, k, 56, &ids, &w);
    const auto x = randn(size_t(T) * sp.H, 57, 0.3f);
    const auto y = run(*cs_, *dev_, d, x, T, ids, w, k);
    const auto y2 = run(*cs_, *dev_, d, x, T, ids, w, k);
    EXPECT_EQ(0, std::memcmp(y.data(), y2.data(), y.size() * 4)) << "two runs differ";
    // (the fake's cpu-simd gemm is not batch-invariant yet: that is checked on the GPU only)
    for (int32_t t = 0; t < T && !fake(); t += 9) {
      const std::vector<float> xt(x.begin() + t * sp.H, x.begin() + (t + 1) * sp.H);
      const std::vector<int32_t> it(ids.begin() + t * k, ids.begin() + (t + 1) * k);
      const std::vector<float> wt(w.begin() + t * k, w.begin() + (t + 1) * k);
      const auto y1 = run(*cs_, *dev_, d, xt, 1, it, wt, k);
      EXPECT_EQ(0, std::memcmp(y1.data(), y.data() + size_t(t) * sp.H, size_t(sp.H) * 4))
          << ggf8::dtype_name(dt) << " token " << t << " alone differs from the batch";
    }
  }
}

TEST_F(CudaMoe, SigmoidScaleRows) {
  const int32_t T = 7, dim = 1000;
  const auto x = randn(size_t(T) * dim, 3), g = randn(size_t(T), 4, 3.0f);
  auto xr = x;
  rs_->sigmoid_scale_rows(xr.data(), g.data(), T, dim);
  float* dx = dev_->put(x);
  const float* dg = dev_->put(g);
  cs_->sigmoid_scale_rows(dx, dg, T, dim);
  expect_close(dev_->get(dx, x.size()), xr, 1e-7f, 1e-6f, "sigmoid_scale_rows");
}

// The decode step's MoE part recorded once and replayed on new inputs.
TEST_F(CudaMoe, GraphReplayEqualsEager) {
  LayerSpec sp;
  sp.E = 32;
  sp.biases = true;
  sp.act = MoeAct::SwiGLUOss;
  const HostLayer L = make_host_layer(sp, 91);
  const MoeExperts d = upload(L.host);
  const int32_t T = 4, k = 4;
  const MoeRoute r{MoeGating::TopKSoftmax, sp.E, k, false};
  auto se = moe_stream(*cu_, 8);
  ASSERT_TRUE(se);
  Dev de(*cu_, *se);
  struct Bufs {
    float *x, *lg, *w, *y;
    int32_t* ids;
  };
  auto bufs = [&](Dev& dv) {
    return Bufs{dv.alloc<float>(size_t(T) * sp.H), dv.alloc<float>(size_t(T) * sp.E), dv.alloc<float>(size_t(T * k)),
                dv.alloc<float>(size_t(T) * sp.H), dv.alloc<int32_t>(size_t(T * k))};
  };
  const Bufs bg = bufs(*dev_), be = bufs(de);
  auto step = [&](Stream& s, const Bufs& b) {
    s.moe_route(b.lg, T, r, b.ids, b.w);
    s.moe_ffn(b.x, T, d, b.ids, b.w, k, b.y, ActQuant::DynamicToken);
  };
  for (int it = 0; it < (quick() ? 3 : 8); ++it) {
    const auto x = randn(size_t(T) * sp.H, 100 + it, 0.3f), lg = randn(size_t(T) * sp.E, 200 + it);
    dev_->set(bg.x, x), dev_->set(bg.lg, lg);
    if (!cs_->graph_replay(7)) {
      ASSERT_EQ(it, 0) << "graph_replay returned false after recording";
      ASSERT_TRUE(cs_->graph_begin(7));
      step(*cs_, bg);
      const Status st = cs_->graph_end();
      ASSERT_TRUE(st.ok()) << "graph_end: " << st.message;
    }
    de.set(be.x, x), de.set(be.lg, lg);
    step(*se, be);
    const auto yg = dev_->get(bg.y, size_t(T) * sp.H), ye = de.get(be.y, size_t(T) * sp.H);
    EXPECT_EQ(0, std::memcmp(yg.data(), ye.data(), yg.size() * 4)) << "step " << it;
    EXPECT_EQ(dev_->get(bg.ids, size_t(T * k)), de.get(be.ids, size_t(T * k))) << "step " << it;
    // and against cpu-ref, from the same routing
    const auto ids = de.get(be.ids, size_t(T * k));
    const auto w = de.get(be.w, size_t(T * k));
    EXPECT_LT(nmse(ye, ref(L.host, x, T, ids, w, k)), 1e-5 * tol() * tol()) << "step " << it;
  }
  EXPECT_TRUE(se->error().ok()) << se->error().message;
}

// Tensor parallel (src/model/tp.cpp): every expert's gate/up rows
// [f0, f0 + F/2) and down columns, the full stack's strides kept.
TEST_F(CudaMoe, TensorParallelSliceOfTheStacks) {
  for (ScaleKind sk : {ScaleKind::Channel, ScaleKind::Block}) {
    LayerSpec sp;
    sp.E = 8;
    sp.H = 256;
    sp.F = 512;
    sp.sk = sk;
    sp.br = sp.bc = 128;
    sp.biases = true;
    const HostLayer L = make_host_layer(sp, 300 + int(sk));
    for (int32_t rank = 0; rank < 2; ++rank) {
      const int64_t f0 = rank * sp.F / 2, fn = sp.F / 2;
      MoeExperts h = L.host;
      auto rows = [&](Weight w) {
        w.data = static_cast<const uint8_t*>(w.data) + f0 * w.stride();
        w.row_stride = w.stride();
        w.rows = fn;
        if (sk == ScaleKind::Channel) w.scale += f0;
        if (sk == ScaleKind::Block) {
          w.scale_cols = (w.cols + w.block_cols - 1) / w.block_cols;
          w.scale += (f0 / w.block_rows) * w.scale_cols;
        }
        return w;
      };
      auto cols = [&](Weight w) {
        if (sk == ScaleKind::Block) {
          w.scale_cols = (w.cols + w.block_cols - 1) / w.block_cols;
          w.scale += f0 / w.block_cols;
        }
        w.data = static_cast<const uint8_t*>(w.data) + f0;
        w.row_stride = w.stride();
        w.cols = fn;
        return w;
      };
      h.gate = rows(h.gate);
      h.up = rows(h.up);
      h.down = cols(h.down);
      h.gate_b = {L.gb.data() + f0, DType::F32};
      h.up_b = {L.ub.data() + f0, DType::F32};
      h.fb_stride = sp.F;
      if (rank) h.down_b = {};
      const MoeExperts d = upload(h);
      const int32_t T = 9, k = 2;
      std::vector<int32_t> ids;
      std::vector<float> w;
      route_tokens(T, sp.E, k, 301, &ids, &w);
      const auto x = randn(size_t(T) * sp.H, 302, 0.3f);
      EXPECT_LT(nmse(run(*cs_, *dev_, d, x, T, ids, w, k), ref(h, x, T, ids, w, k)), 1e-5 * tol() * tol())
          << ggf8::scale_kind_name(sk) << " rank " << rank;
    }
  }
}

TEST_F(CudaMoe, RefusesWhatItCannotRun) {
  if (fake()) GTEST_SKIP() << "F8_CUDA_TEST_FAKE: the CUDA backend's own limits";
  // More experts than the route/group kernels take.
  const HostLayer big = make_host_layer([] {
    LayerSpec s;
    s.E = 1025;
    s.H = 64;
    s.F = 16;
    return s;
  }(), 7);
  Weight out;
  const Status s = cu_->upload(big.host.gate, &out);
  EXPECT_EQ(s.code, Code::Unsupported) << s.message;
  EXPECT_NE(s.message.find("1024"), std::string::npos) << s.message;
  // A stream without MoE sizes: allocates at its first moe_ffn outside a
  // graph, but a first call inside a recording fails with a clear error.
  LayerSpec sp;
  const HostLayer L = make_host_layer(sp, 8);
  const MoeExperts d = upload(L.host);
  std::vector<int32_t> ids;
  std::vector<float> w;
  route_tokens(3, sp.E, 2, 9, &ids, &w);
  const auto x = randn(size_t(3) * sp.H, 10, 0.3f);
  {
    auto s1 = moe_stream(*cu_, 8, false);
    Dev d1(*cu_, *s1);
    EXPECT_LT(nmse(run(*s1, d1, d, x, 3, ids, w, 2), ref(L.host, x, 3, ids, w, 2)), 1e-5 * tol() * tol());
    EXPECT_TRUE(s1->error().ok()) << s1->error().message;
  }
  {
    auto s2 = moe_stream(*cu_, 8, false);
    Dev d2(*cu_, *s2);
    const float* dx = d2.put(x);
    const int32_t* di = d2.put(ids);
    const float* dw = d2.put(w);
    float* dy = d2.alloc<float>(size_t(3) * sp.H);
    if (s2->graph_begin(1)) {
      s2->moe_ffn(dx, 3, d, di, dw, 2, dy, ActQuant::DynamicToken);
      const Status e = s2->graph_end();
      EXPECT_FALSE(e.ok());
      EXPECT_NE(e.message.find("moe_ffn"), std::string::npos) << e.message;
    }
  }
}
