// test_backend_ops.cpp — every cpu/simd op against cpu/ref (the oracle), on
// every ISA this CPU supports, with 1..4 threads, odd shapes (K not a
// multiple of 32, N = 1), every weight dtype and scale kind.
#include <cstdlib>
#include <algorithm>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "backend/cpu/simd/kernels.h"
#include "backend_test_util.h"

using namespace f8test;

namespace {

struct Cfg {
  std::string isa;
  int threads;
};
std::vector<Cfg> configs() {
  std::vector<Cfg> c;
  for (const auto& isa : cpu_isas())
    for (int t : {1, 2, 3, 4}) c.push_back({isa, t});
  return c;
}
std::string cfg_name(const testing::TestParamInfo<Cfg>& i) {
  return i.param.isa + "_t" + std::to_string(i.param.threads);
}

class OpsTest : public testing::TestWithParam<Cfg> {
 protected:
  void SetUp() override {
    ref_ = make("cpu-ref");
    simd_ = make("cpu-simd", GetParam().isa);
    ASSERT_TRUE(ref_ && simd_);
    rs_ = stream(*ref_, 1, 8, 4096);
    ss_ = stream(*simd_, GetParam().threads, 8, 4096);
  }
  // Runs gemm on both and compares (NMSE and per-element tolerance).
  void check_gemm(const TestWeight& tw, int T, GemmOpts o, const std::string& what) {
    const Weight& w = tw.w();
    const auto x = randn(static_cast<size_t>(T * w.cols), 99 + T);
    std::vector<float> yr(T * w.rows), ys(T * w.rows, -1.0f);
    rs_->gemm(x.data(), T, w, yr.data(), o);
    ss_->gemm(x.data(), T, w, ys.data(), o);
    double rms = 0;
    for (float v : yr) rms += double(v) * v;
    rms = std::sqrt(rms / yr.size());
    EXPECT_LT(nmse(ys, yr), 1e-9) << what;
    expect_close(ys, yr, static_cast<float>(1e-4 * rms + 1e-30), 1e-4f, what);
  }
  std::unique_ptr<Backend> ref_, simd_;
  std::unique_ptr<Stream> rs_, ss_;
};

const char* sk_name(ScaleKind k) { return ggf8::scale_kind_name(k); }

TEST_P(OpsTest, GemmEveryDtypeScaleShape) {
  const DType dts[] = {DType::E4M3, DType::E5M2, DType::BF16, DType::F16, DType::F32};
  const ScaleKind sks[] = {ScaleKind::None, ScaleKind::Tensor, ScaleKind::Channel, ScaleKind::Block};
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {1, 37}, {5, 8}, {13, 100}, {70, 300}, {129, 257}, {40, 576}};
  uint32_t seed = 1;
  for (DType dt : dts)
    for (ScaleKind sk : sks)
      for (auto [n, k] : shapes)
        for (int T : {1, 2, 5, 13}) {  // 13: the panel path, 6 + 6 + 1 tokens
          const auto tw = make_weight(n, k, dt, sk, seed++);
          check_gemm(tw, T, {}, std::string(ggf8::dtype_name(dt)) + "/" + sk_name(sk) + " N=" + std::to_string(n) +
                                    " K=" + std::to_string(k) + " T=" + std::to_string(T));
        }
}

// The T <= 4 E4M3 paths decode with integer ops into FP32 denormal-range
// patterns (value * 2^-120) on x * 2^64: every finite code, subnormals
// included, must come out exact, and a thread with MXCSR.DAZ set (a host
// app built with -ffast-math) must take the F16C route and still be exact.
TEST_P(OpsTest, GemvEveryE4M3CodeExactWithAndWithoutDAZ) {
  for (int T : {1, 2, 3, 4, 6, 8})  // T = 2..8: the small-T paths decode the same way
    for (int64_t K : {64, 67}) {  // 67: the scalar tail too
      std::vector<uint8_t> codes;
      for (int c = 0; c < 256; ++c)
        if ((c & 0x7F) != 0x7F) codes.push_back(static_cast<uint8_t>(c));
      const int64_t N = static_cast<int64_t>(codes.size());
      std::vector<uint8_t> bytes(N * K);
      for (int64_t r = 0; r < N; ++r) std::fill(bytes.begin() + r * K, bytes.begin() + (r + 1) * K, codes[r]);
      Weight w;
      w.dtype = DType::E4M3;
      w.rows = N;
      w.cols = K;
      w.scale_kind = ScaleKind::None;
      w.data = bytes.data();
      const std::vector<float> x(T * K, 1.0f);
      for (bool daz : {false, true}) {
        std::vector<float> y(T * N, -1.0f);
#if defined(__x86_64__)
        const unsigned saved = _mm_getcsr();
        if (daz) _mm_setcsr(saved | 0x0040);
#else
        if (daz) continue;
#endif
        // One thread: the caller's MXCSR is the one the kernel sees.
        auto s1 = stream(*simd_, 1, 8, 4096);
        s1->gemm(x.data(), T, w, y.data(), {});
#if defined(__x86_64__)
        _mm_setcsr(saved);
#endif
        for (int t = 0; t < T; ++t)
          for (int64_t r = 0; r < N; ++r)
            ASSERT_EQ(y[t * N + r], static_cast<float>(K) * ggf8::e4m3_to_f32(codes[r]))
                << "code 0x" << std::hex << int(codes[r]) << std::dec << " T=" << T << " K=" << K
                << (daz ? " with DAZ" : "");
      }
    }
}

// gemm_multi (q/k/v, gate/up in one dispatch) equals one gemm per job on
// the ref backend: mixed dtypes, scale kinds, row counts that are not
// multiples of the 8-row split unit, a bias, every T path; and with an
// emulate-GPU job it falls back to per-job gemms.
TEST_P(OpsTest, GemmMultiMatchesGemmPerJob) {
  const int64_t K = 100;
  const auto w0 = make_weight(37, K, DType::E4M3, ScaleKind::Channel, 71);
  const auto w1 = make_weight(9, K, DType::BF16, ScaleKind::None, 72);
  const auto w2 = make_weight(130, K, DType::E5M2, ScaleKind::Block, 73, 32, 32);
  const auto bias = randn(37, 74);
  for (int T : {1, 3, 7})
    for (bool emulate : {false, true}) {
      const auto x = randn(static_cast<size_t>(T * K), 75 + T);
      GemmOpts o0;
      o0.bias = Bias{bias.data(), DType::F32};
      if (emulate) o0.act = ActQuant::DynamicToken;
      const TestWeight* tws[3] = {&w0, &w1, &w2};
      std::vector<float> ys[3], yr[3];
      Stream::GemmJob jobs[3];
      for (int i = 0; i < 3; ++i) {
        const Weight& w = tws[i]->w();
        ys[i].assign(T * w.rows, -1.0f);
        yr[i].assign(T * w.rows, -2.0f);
        jobs[i] = {&w, ys[i].data(), i == 0 ? o0 : GemmOpts{}};
        rs_->gemm(x.data(), T, w, yr[i].data(), jobs[i].opts);
      }
      ss_->gemm_multi(x.data(), T, jobs, 3);
      for (int i = 0; i < 3; ++i) {
        const std::string what = "job " + std::to_string(i) + " T=" + std::to_string(T) + (emulate ? " emulate" : "");
        EXPECT_LT(nmse(ys[i], yr[i]), 1e-9) << what;
        double rms = 0;
        for (float v : yr[i]) rms += double(v) * v;
        rms = std::sqrt(rms / yr[i].size());
        expect_close(ys[i], yr[i], static_cast<float>(1e-4 * rms + 1e-30), 1e-4f, what);
      }
    }
}

// Batched decode: T = 2..4 takes the small-T register-blocked path on x86
// (5..8 the decoded-scratch tile path), checked on both sides of the cut:
// every T, row counts that leave 1..3 tail
// rows, K with a non-multiple-of-32 tail, blocks that cut the 32-chunks.
TEST_P(OpsTest, GemmSmallTBatchedDecode) {
  const DType dts[] = {DType::E4M3, DType::E5M2, DType::BF16};
  const ScaleKind sks[] = {ScaleKind::None, ScaleKind::Tensor, ScaleKind::Channel, ScaleKind::Block};
  const std::pair<int64_t, int64_t> shapes[] = {{7, 45}, {35, 333}, {18, 64}};
  uint32_t seed = 500;
  for (DType dt : dts)
    for (ScaleKind sk : sks)
      for (auto [n, k] : shapes) {
        const auto tw = make_weight(n, k, dt, sk, seed++);
        for (int T = 2; T <= 8; ++T)
          check_gemm(tw, T, {}, std::string("smallT ") + ggf8::dtype_name(dt) + "/" + sk_name(sk) +
                                    " N=" + std::to_string(n) + " K=" + std::to_string(k) + " T=" + std::to_string(T));
      }
  auto tw = make_weight(37, 211, DType::E4M3, ScaleKind::Block, 9, 3, 5);
  for (int T = 2; T <= 8; ++T) check_gemm(tw, T, {}, "smallT block 3x5 T=" + std::to_string(T));
}

TEST_P(OpsTest, GemmOddBlocksAndStride) {
  // blocks that do not divide the dims, non-multiple-of-8 block columns
  for (auto [br, bc] : {std::pair<uint32_t, uint32_t>{3, 5}, {32, 48}, {128, 100}}) {
    auto tw = make_weight(67, 211, DType::E4M3, ScaleKind::Block, 5 + br, br, bc);
    for (int T : {1, 4}) check_gemm(tw, T, {}, "block " + std::to_string(br) + "x" + std::to_string(bc));
  }
  // a column slice (row-parallel shard): cols 64..64+100 of a 30x300 matrix
  auto full = make_weight(30, 300, DType::E4M3, ScaleKind::Channel, 77);
  TestWeight slice = full;
  slice.view.data = full.bytes.data() + 64;
  slice.view.cols = 100;
  slice.view.row_stride = 300;
  for (int T : {1, 3}) check_gemm(slice, T, {}, "row_stride slice");
}

TEST_P(OpsTest, GemmBias) {
  auto tw = make_weight(33, 96, DType::E4M3, ScaleKind::Channel, 3);
  const auto bf = randn(33, 4);
  std::vector<uint16_t> bb(33);
  for (int i = 0; i < 33; ++i) bb[i] = to_bf16(bf[i]);
  GemmOpts o;
  o.bias = {bf.data(), DType::F32};
  check_gemm(tw, 1, o, "f32 bias");
  check_gemm(tw, 3, o, "f32 bias T=3");
  o.bias = {bb.data(), DType::BF16};
  check_gemm(tw, 2, o, "bf16 bias");
}

TEST_P(OpsTest, GemmEmulateGpu) {
  for (DType dt : {DType::E4M3, DType::E5M2})
    for (ScaleKind sk : {ScaleKind::Tensor, ScaleKind::Channel, ScaleKind::Block})
      for (int T : {1, 3, 7}) {
        auto tw = make_weight(50, 200, dt, sk, 11 + T);
        GemmOpts o;
        o.act = ActQuant::DynamicToken;
        check_gemm(tw, T, o, std::string("dynamic ") + ggf8::dtype_name(dt) + "/" + sk_name(sk));
        tw.view.input_scale = 0.004f;  // underestimates the max: must clip, not NaN
        o.act = ActQuant::Static;
        check_gemm(tw, T, o, std::string("static ") + ggf8::dtype_name(dt) + "/" + sk_name(sk));
      }
}

TEST_P(OpsTest, EmbedRmsnormRopeElementwise) {
  // embed: E4M3 block-scaled and BF16 tables
  for (DType dt : {DType::E4M3, DType::BF16}) {
    auto tab = make_weight(50, 72, dt, dt == DType::E4M3 ? ScaleKind::Block : ScaleKind::None, 21, 16, 32);
    std::vector<int32_t> ids = {0, 49, 7, 7, 23};
    std::vector<float> a(5 * 72), b(5 * 72);
    rs_->embed(tab.w(), ids.data(), 5, a.data());
    ss_->embed(tab.w(), ids.data(), 5, b.data());
    expect_close(b, a, 0, 1e-6f, "embed");
  }
  // rmsnorm with F32 and BF16 weights, dim not a multiple of 8
  for (DType dt : {DType::F32, DType::BF16}) {
    const int T = 4, dim = 77;
    auto wv = make_weight(1, dim, dt, ScaleKind::None, 31);
    const auto x = randn(T * dim, 32, 3.0f);
    std::vector<float> a(T * dim), b(T * dim);
    rs_->rmsnorm(x.data(), wv.w(), 1e-5f, T, dim, a.data());
    ss_->rmsnorm(x.data(), wv.w(), 1e-5f, T, dim, b.data());
    expect_close(b, a, 1e-6f, 1e-5f, "rmsnorm");
  }
  // rope, four scalings, partial rotary dims
  for (RopeScaling sc : {RopeScaling::None, RopeScaling::Linear, RopeScaling::Llama3, RopeScaling::Yarn}) {
    RopeParams p;
    p.head_dim = 64;
    p.n_rot = sc == RopeScaling::Linear ? 32 : 0;
    p.freq_base = 500000.0f;
    p.scaling = sc;
    p.factor = 8.0f;
    p.orig_ctx = 8192;
    if (sc == RopeScaling::Yarn) p.truncate = 0, p.attn_factor = 1.3465736f;  // gpt-oss's setting
    const int T = 3, H = 5;
    auto x = randn(T * H * 64, 41);
    std::vector<int32_t> pos = {0, 17, 100000};
    auto a = x, b = x;
    rs_->rope(a.data(), T, H, pos.data(), p);
    ss_->rope(b.data(), T, H, pos.data(), p);
    expect_close(b, a, 1e-6f, 1e-6f, "rope");
    if (sc == RopeScaling::Yarn) {  // position 0 rotates nothing: only the attention factor scales it
      for (int i = 0; i < H * 64; ++i) {
        EXPECT_EQ(a[i], x[i] * 1.3465736f) << i;
      }
    }
  }
  // swiglu, add (above and below the parallel threshold), get_rows, argmax
  for (int64_t n : {int64_t{13}, int64_t{200003}}) {
    const auto g = randn(n, 51, 4.0f), u = randn(n, 52);
    std::vector<float> a(n), b(n);
    rs_->swiglu(g.data(), u.data(), n, a.data());
    ss_->swiglu(g.data(), u.data(), n, b.data());
    expect_close(b, a, 1e-6f, 1e-5f, "swiglu");
    rs_->geglu(g.data(), u.data(), n, a.data());
    ss_->geglu(g.data(), u.data(), n, b.data());
    expect_close(b, a, 0, 0, "geglu");  // the same scalar formula
    for (int64_t i = 0; i < std::min<int64_t>(n, 64); ++i) {  // against gelu_pytorch_tanh in double
      const double x = g[i];
      const double want = 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))) * u[i];
      EXPECT_NEAR(a[i], want, 1e-6 * (1.0 + std::fabs(want))) << "geglu " << i;
    }
    auto sa = g, sb = g;
    rs_->scale(sa.data(), n, 8.0f);
    ss_->scale(sb.data(), n, 8.0f);
    expect_close(sb, sa, 0, 0, "scale");
    EXPECT_EQ(sa[0], g[0] * 8.0f);
    auto xa = g, xb = g;
    rs_->add(xa.data(), u.data(), n);
    ss_->add(xb.data(), u.data(), n);
    expect_close(xb, xa, 0, 0, "add");
  }
  const auto lg = randn(3 * 1001, 61);
  std::vector<int32_t> ia(3), ib(3), idx = {2, 0};
  rs_->argmax(lg.data(), 3, 1001, ia.data());
  ss_->argmax(lg.data(), 3, 1001, ib.data());
  EXPECT_EQ(ia, ib);
  std::vector<float> ra(2 * 1001), rb(2 * 1001);
  rs_->get_rows(lg.data(), idx.data(), 2, 1001, ra.data());
  ss_->get_rows(lg.data(), idx.data(), 2, 1001, rb.data());
  EXPECT_EQ(ra, rb);
  EXPECT_EQ(rb[0], lg[2 * 1001]);
}

INSTANTIATE_TEST_SUITE_P(Isa, OpsTest, testing::ValuesIn(configs()), cfg_name);

// The emulate-GPU activation quantizer and the FP8 row encoder of every ISA
// table are bit-exact with the scalar codec (ggf8/fp8.h).
TEST(Kernels, QuantizeAndEncodeBitExact) {
  std::vector<float> x = randn(4099, 7, 30.0f);
  const float specials[] = {0.0f, -0.0f, 448.0f, -448.0f, 464.0f, 464.0001f, 1e30f, -INFINITY, INFINITY, NAN,
                            0.0009765625f, 0.00097656f, 0.0029296875f, 1e-40f, 0.015625f, 0.0146484375f};
  for (size_t i = 0; i < sizeof specials / sizeof *specials; ++i) x[i * 7] = specials[i];
  for (const auto& isa : cpu_isas()) {
    const auto* k = f8backend::cpu::simd::select_kernels(isa);
    ASSERT_NE(k, nullptr) << isa;
    for (float st : {0.0f, 0.05f, 1.0f}) {
      for (int64_t K : {int64_t{1}, int64_t{9}, int64_t{4099}}) {
        std::vector<float> xq(K);
        const float sx = k->quantize_row(x.data(), K, st, xq.data());
        float amax = 0;
        for (int64_t i = 0; i < K; ++i) amax = std::max(amax, std::fabs(x[i]));  // NaN ignored like max()
        const float want_sx = st > 0 ? st : std::max(amax / 448.0f, kActScaleTiny);
        EXPECT_EQ(sx, want_sx) << isa;
        for (int64_t i = 0; i < K; ++i) {
          const float want = ggf8::e4m3_to_f32(ggf8::e4m3_from_f32(x[i] / sx));
          uint32_t a, b;
          std::memcpy(&a, &xq[i], 4);
          std::memcpy(&b, &want, 4);
          if (std::isnan(want)) EXPECT_TRUE(std::isnan(xq[i])) << isa << " i=" << i;
          else EXPECT_EQ(a, b) << isa << " i=" << i << " x=" << x[i];
        }
      }
    }
    for (float s : {1.0f, 0.01f, 3.5f}) {
      std::vector<uint8_t> got(x.size());
      k->encode_row(x.data(), x.size(), DType::E4M3, s, got.data());
      for (size_t i = 0; i < x.size(); ++i)
        ASSERT_EQ(got[i], ggf8::e4m3_from_f32(x[i] / s)) << isa << " i=" << i << " x=" << x[i];
    }
  }
}

TEST(Registry, NamesAndErrors) {
  std::unique_ptr<Backend> b;
  EXPECT_EQ(create_backend("nope", {}, &b).code, Code::InvalidArgument);
  BackendParams p;
  p.isa = "sse9";
  EXPECT_EQ(create_backend("cpu", p, &b).code, Code::InvalidArgument);
  ASSERT_TRUE(create_backend("cpu", {}, &b).ok());
  std::unique_ptr<Stream> s;
  StreamParams sp;
  sp.n_threads = 0;
  EXPECT_EQ(b->create_stream(sp, &s).code, Code::InvalidArgument);
  Weight w;
  Weight out;
  EXPECT_FALSE(b->upload(w, &out).ok());  // no data
  EXPECT_FALSE(cpu_isas().empty());
  EXPECT_EQ(cpu_isas().back(), "generic");
}

// "auto" runs the best tier the CPU has (CPUID read here independently of
// isa.cpp): on an AVX2-only CPU (Zen 2/3) that is the avx2 tier. The
// backend's description names it; F8_CPU_ISA caps it at a lower tier;
// a tier that is not batch-invariant names the one deterministic streams run.
TEST(Registry, TierDispatchAndCap) {
  namespace sd = f8backend::cpu::simd;
  const std::vector<std::string> isas = cpu_isas();
  ASSERT_FALSE(isas.empty());
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (avx2 && !avx512) {
    EXPECT_EQ(isas.front(), "avx2");
  }
  if (avx512) {
    EXPECT_TRUE(isas.front() == "avx512" || isas.front() == "avx512-amx") << isas.front();
  }
  if (!avx2) {
    EXPECT_EQ(isas.front(), "generic");
  }
#endif
  ::unsetenv("F8_CPU_ISA");
  const sd::Kernels* k = sd::select_kernels("auto");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(std::string(k->isa), isas.front());
  std::unique_ptr<Backend> b;
  ASSERT_TRUE(create_backend("cpu", {}, &b).ok());
  EXPECT_NE(b->description().find("(" + isas.front() + ")"), std::string::npos) << b->description();
  for (const std::string& isa : isas) {  // capped at each tier the CPU has: that tier
    ::setenv("F8_CPU_ISA", isa.c_str(), 1);
    k = sd::select_kernels("auto");
    ASSERT_NE(k, nullptr) << isa;
    EXPECT_EQ(std::string(k->isa), isa);
    if (k->deterministic) {
      EXPECT_STREQ(k->deterministic->isa, "avx512") << isa;
    }
  }
  ::setenv("F8_CPU_ISA", "avx512-amx", 1);  // the top: whatever is best
  EXPECT_EQ(std::string(sd::select_kernels("auto")->isa), isas.front());
  ::setenv("F8_CPU_ISA", "sse9", 1);
  EXPECT_EQ(sd::select_kernels("auto"), nullptr);
  const Status st = create_backend("cpu", {}, &b);
  EXPECT_EQ(st.code, Code::InvalidArgument);
  EXPECT_NE(st.message.find("F8_CPU_ISA"), std::string::npos) << st.message;
  ::unsetenv("F8_CPU_ISA");
}

}  // namespace
