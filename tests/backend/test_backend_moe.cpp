// test_backend_moe.cpp — the MoE ops (backend.h: moe_route, moe_ffn,
// sigmoid_scale_rows): the router's arithmetic on hand-made logits (ties,
// norm_topk both ways, top-k then softmax), the expert grouping, and
// cpu/simd's grouped experts against cpu/ref's one-token-at-a-time oracle on
// every ISA and thread count, every weight dtype / scale kind, biases and
// both activations; a token's output bit-identical alone and in a batch.
#include <algorithm>
#include <numeric>

#include "backend/moe_route.h"
#include "backend_test_util.h"

using namespace f8test;

namespace {

// E experts' [rows, cols] matrices stacked the way GGF8 2.0 stores them.
struct Stack {
  std::vector<uint8_t> bytes;
  std::vector<float> scale;
  Weight view;
};
Stack make_stack(int32_t E, int64_t rows, int64_t cols, DType dt, ScaleKind sk, uint32_t seed, uint32_t br = 16,
                 uint32_t bc = 32) {
  Stack s;
  int64_t per_scale = 0;
  for (int32_t e = 0; e < E; ++e) {
    TestWeight tw = make_weight(rows, cols, dt, sk, seed + 101 * e, br, bc);
    s.bytes.insert(s.bytes.end(), tw.bytes.begin(), tw.bytes.end());
    if (sk == ScaleKind::Tensor) {
      if (e == 0) s.scale = tw.scale;  // one scale for the whole stack
    } else {
      per_scale = int64_t(tw.scale.size());
      s.scale.insert(s.scale.end(), tw.scale.begin(), tw.scale.end());
    }
    if (e == 0) s.view = tw.view;
  }
  s.view.data = s.bytes.data();
  s.view.scale = s.scale.empty() ? nullptr : s.scale.data();
  s.view.n_mats = E;
  s.view.mat_stride = rows * cols;
  s.view.mat_scale_stride = per_scale;
  return s;
}

struct Layer {
  Stack gate, up, down;
  std::vector<float> gb, ub, db;
  MoeExperts ex;
};
Layer make_layer(int32_t E, int64_t H, int64_t F, DType dt, ScaleKind sk, MoeAct act, bool biases, uint32_t seed) {
  Layer L;
  L.gate = make_stack(E, F, H, dt, sk, seed);
  L.up = make_stack(E, F, H, dt, sk, seed + 1);
  L.down = make_stack(E, H, F, dt, sk, seed + 2);
  L.ex.gate = L.gate.view;
  L.ex.up = L.up.view;
  L.ex.down = L.down.view;
  L.ex.act = act;
  if (biases) {
    L.gb = randn(size_t(E * F), seed + 3, 0.5f);
    L.ub = randn(size_t(E * F), seed + 4, 0.5f);
    L.db = randn(size_t(E * H), seed + 5, 0.5f);
    L.ex.gate_b = {L.gb.data(), DType::F32};
    L.ex.up_b = {L.ub.data(), DType::F32};
    L.ex.down_b = {L.db.data(), DType::F32};
  }
  return L;
}

// Routes T random tokens: logits with a few exact ties, so ties are exercised.
void route(Stream& s, int32_t T, const MoeRoute& r, std::vector<int32_t>* ids, std::vector<float>* w, uint32_t seed) {
  std::vector<float> lg = randn(size_t(T) * r.n_expert, seed);
  for (int32_t t = 0; t < T; t += 3) lg[size_t(t) * r.n_expert + r.n_expert - 1] = lg[size_t(t) * r.n_expert];
  ids->assign(size_t(T) * r.k, -1);
  w->assign(size_t(T) * r.k, 0.0f);
  s.moe_route(lg.data(), T, r, ids->data(), w->data());
}

}  // namespace

TEST(MoeRoute, SoftmaxTopKTiesAndNormalization) {
  const float lg[5] = {1.0f, 3.0f, 3.0f, 0.0f, 2.0f};
  MoeRoute r;
  r.n_expert = 5;
  r.k = 2;
  int32_t ids[5];
  float w[5];
  moe_route_token(lg, r, ids, w);
  EXPECT_EQ(ids[0], 1);  // tie between 1 and 2: the lower id first
  EXPECT_EQ(ids[1], 2);
  double s = 0;
  for (float x : lg) s += std::exp(double(x) - 3.0);
  EXPECT_NEAR(w[0], 1.0 / s, 1e-7);  // the softmax over all 5, not renormalized
  EXPECT_NEAR(w[1], 1.0 / s, 1e-7);
  r.norm_topk = true;
  moe_route_token(lg, r, ids, w);
  EXPECT_FLOAT_EQ(w[0], 0.5f);
  EXPECT_FLOAT_EQ(w[1], 0.5f);
  r.k = 3;
  moe_route_token(lg, r, ids, w);
  EXPECT_EQ(ids[2], 4);
  EXPECT_NEAR(w[0] + w[1] + w[2], 1.0f, 1e-6f);
  EXPECT_NEAR(w[2] / w[0], std::exp(-1.0), 1e-6);
  // k = E: every expert, descending.
  r.k = 5;
  moe_route_token(lg, r, ids, w);
  EXPECT_EQ(std::vector<int32_t>(ids, ids + 5), (std::vector<int32_t>{1, 2, 4, 0, 3}));
}

TEST(MoeRoute, TopKSoftmaxIsSoftmaxOverTheK) {
  const float lg[4] = {0.5f, -1.0f, 2.0f, 1.5f};
  MoeRoute r;
  r.gating = MoeGating::TopKSoftmax;
  r.n_expert = 4;
  r.k = 2;
  int32_t ids[2];
  float w[2];
  moe_route_token(lg, r, ids, w);
  EXPECT_EQ(ids[0], 2);
  EXPECT_EQ(ids[1], 3);
  EXPECT_NEAR(w[0], 1.0 / (1.0 + std::exp(-0.5)), 1e-7);
  EXPECT_NEAR(w[1], std::exp(-0.5) / (1.0 + std::exp(-0.5)), 1e-7);
  EXPECT_FALSE(check_moe_route({MoeGating::TopKSoftmax, 4, 5, false}).ok());
  EXPECT_FALSE(check_moe_route({MoeGating::TopKSoftmax, 4, 0, false}).ok());
  EXPECT_TRUE(check_moe_route({MoeGating::TopKSoftmax, 4, 4, false}).ok());
}

TEST(MoeRoute, GroupByExpertIsAStableCountingSort) {
  const int32_t ids[] = {3, 0, 1, 3, 3, 1, 0, 2};  // T = 4, k = 2
  int32_t off[5], order[8], cur[4];
  moe_group_by_expert(ids, 4, 2, 4, off, order, cur);
  EXPECT_EQ(std::vector<int32_t>(off, off + 5), (std::vector<int32_t>{0, 2, 4, 5, 8}));
  EXPECT_EQ(std::vector<int32_t>(order, order + 8), (std::vector<int32_t>{1, 6, 2, 5, 7, 0, 3, 4}));
}

namespace {
struct Cfg {
  std::string isa;
  int threads;
};
class MoeOps : public testing::TestWithParam<Cfg> {};
std::vector<Cfg> configs() {
  std::vector<Cfg> c;
  for (const auto& isa : cpu_isas())
    for (int t : {1, 3}) c.push_back({isa, t});
  return c;
}
}  // namespace

TEST_P(MoeOps, GroupedExpertsMatchTheOracle) {
  auto ref = make("cpu-ref");
  auto simd = make("cpu-simd", GetParam().isa);
  const int32_t E = 6, H = 72, F = 40;  // odd shapes: K not a multiple of 32
  auto rs = stream(*ref, 1, 24, 4096);
  auto ss = stream(*simd, GetParam().threads, 24, 4096);
  struct Case {
    DType dt;
    ScaleKind sk;
    MoeAct act;
    bool biases;
    ActQuant aq;
  };
  const Case cases[] = {
      {DType::E4M3, ScaleKind::Channel, MoeAct::SwiGLU, false, ActQuant::None},
      {DType::E4M3, ScaleKind::Block, MoeAct::SwiGLUOss, true, ActQuant::None},
      {DType::E4M3, ScaleKind::Tensor, MoeAct::SwiGLU, false, ActQuant::DynamicToken},
      {DType::BF16, ScaleKind::None, MoeAct::SwiGLU, true, ActQuant::None},
      {DType::F32, ScaleKind::None, MoeAct::SwiGLUOss, false, ActQuant::None},
  };
  uint32_t seed = 7;
  for (const Case& c : cases)
    for (int32_t k : {1, 2, 3})
      for (int32_t T : {1, 5, 19}) {
        const std::string what = std::string(ggf8::dtype_name(c.dt)) + "/" + ggf8::scale_kind_name(c.sk) + " act " +
                                 std::to_string(int(c.act)) + " k " + std::to_string(k) + " T " + std::to_string(T) +
                                 (c.aq != ActQuant::None ? " emulate-gpu" : "");
        SCOPED_TRACE(what);
        Layer L = make_layer(E, H, F, c.dt, c.sk, c.act, c.biases, seed += 11);
        MoeRoute r{MoeGating::SoftmaxTopK, E, k, true};
        std::vector<int32_t> ids, ids2;
        std::vector<float> w, w2;
        route(*rs, T, r, &ids, &w, seed);
        route(*ss, T, r, &ids2, &w2, seed);
        ASSERT_EQ(ids, ids2);
        ASSERT_EQ(w, w2);  // the same host arithmetic on both
        const auto x = randn(size_t(T) * H, seed + 1, 0.3f);
        std::vector<float> yr(size_t(T) * H), ys(size_t(T) * H, -1.0f);
        rs->moe_ffn(x.data(), T, L.ex, ids.data(), w.data(), k, yr.data(), c.aq);
        ss->moe_ffn(x.data(), T, L.ex, ids.data(), w.data(), k, ys.data(), c.aq);
        double rms = 0;
        for (float v : yr) rms += double(v) * v;
        rms = std::sqrt(rms / yr.size());
        // Emulating the GPU, an activation near an E4M3 rounding boundary may
        // round the other way after a different summation order.
        const double lim = c.aq != ActQuant::None ? 1e-4 : 1e-9;
        EXPECT_LT(nmse(ys, yr), lim);
        if (c.aq == ActQuant::None) expect_close(ys, yr, float(2e-4 * rms), 2e-4f, what);
      }
}

// A token's output does not depend on the other tokens of the call (nor on
// how many there are): each one alone gives the same bits as in the batch.
TEST_P(MoeOps, GroupedExpertsAreBatchInvariant) {
  auto simd = make("cpu-simd", GetParam().isa);
  const int32_t E = 8, H = 96, F = 64, T = 21;
  auto ss = stream(*simd, GetParam().threads, T, 4096);
  for (DType dt : {DType::E4M3, DType::BF16})
    for (int32_t k : {1, 3}) {
      SCOPED_TRACE(std::string(ggf8::dtype_name(dt)) + " k " + std::to_string(k));
      Layer L = make_layer(E, H, F, dt, dt == DType::E4M3 ? ScaleKind::Channel : ScaleKind::None, MoeAct::SwiGLU,
                           false, 5 + k);
      MoeRoute r{MoeGating::SoftmaxTopK, E, k, true};
      std::vector<int32_t> ids;
      std::vector<float> w;
      route(*ss, T, r, &ids, &w, 77);
      const auto x = randn(size_t(T) * H, 78, 0.3f);
      std::vector<float> ys(size_t(T) * H);
      ss->moe_ffn(x.data(), T, L.ex, ids.data(), w.data(), k, ys.data(), ActQuant::None);
      for (int32_t t = 0; t < T; ++t) {
        std::vector<float> y1(H);
        ss->moe_ffn(x.data() + size_t(t) * H, 1, L.ex, ids.data() + size_t(t) * k, w.data() + size_t(t) * k, k,
                    y1.data(), ActQuant::None);
        EXPECT_EQ(0, std::memcmp(y1.data(), ys.data() + size_t(t) * H, size_t(H) * 4)) << "token " << t;
      }
    }
}

TEST_P(MoeOps, SigmoidScaleRows) {
  auto ref = make("cpu-ref");
  auto simd = make("cpu-simd", GetParam().isa);
  auto rs = stream(*ref, 1, 8, 4096);
  auto ss = stream(*simd, GetParam().threads, 8, 4096);
  auto x = randn(5 * 33, 3), g = randn(5, 4, 3.0f);
  auto xs = x;
  rs->sigmoid_scale_rows(x.data(), g.data(), 5, 33);
  ss->sigmoid_scale_rows(xs.data(), g.data(), 5, 33);
  expect_close(xs, x, 1e-7f, 1e-6f, "sigmoid_scale_rows");
  EXPECT_NEAR(x[0] / randn(5 * 33, 3)[0], 1.0 / (1.0 + std::exp(-double(g[0]))), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(All, MoeOps, testing::ValuesIn(configs()),
                         [](const testing::TestParamInfo<Cfg>& i) {
                           return i.param.isa + "_t" + std::to_string(i.param.threads);
                         });
