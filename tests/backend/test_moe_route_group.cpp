// test_moe_route_group.cpp — the DeepSeek-V3 "noaux_tc" router
// (MoeGating::SigmoidGroupTopK, backend/moe_route.cpp): against
// transformers' own DeepseekV3TopkRouter on stored logits
// (tests/goldens/moe/route_noaux_tc.json, scripts/gen_route_goldens.py: the
// V3 shape, the shrunk corpus shape, no renormalization, a single group, a
// bias that outweighs the scores, a zero bias), then the rules the golden
// cannot pin down: ties (to the lower expert, the lower group), a masked
// group's best expert never chosen, the bias deciding only the choice, the
// scale, refusals of malformed routes, and every CPU backend's moe_route op
// equal to moe_route_token with a per-layer bias.
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "backend/moe_route.h"
#include "backend_test_util.h"

using namespace f8test;

namespace {

MoeRoute group_route(int32_t E, int32_t ng, int32_t tg, int32_t k, bool norm, float scale, const float* bias) {
  MoeRoute r;
  r.gating = MoeGating::SigmoidGroupTopK;
  r.n_expert = E;
  r.k = k;
  r.norm_topk = norm;
  r.n_group = ng;
  r.topk_group = tg;
  r.scale = scale;
  r.score_bias = bias;
  return r;
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
// The logit whose sigmoid is (about) p.
float logit(float p) { return std::log(p / (1.0f - p)); }

}  // namespace

TEST(MoeRouteGroup, MatchesTransformersDeepseekV3TopkRouter) {
  std::ifstream f(std::string(F8_SOURCE_DIR) + "/tests/goldens/moe/route_noaux_tc.json");
  ASSERT_TRUE(f) << "missing golden (scripts/gen_route_goldens.py)";
  const nlohmann::json g = nlohmann::json::parse(f);
  int tokens = 0;
  for (const auto& c : g["cases"]) {
    const int32_t E = c["n_expert"], k = c["k"];
    std::vector<float> bias;
    for (double b : c["bias"]) bias.push_back(float(b));
    const MoeRoute r = group_route(E, c["n_group"], c["topk_group"], k, c["norm_topk_prob"],
                                   float(double(c["routed_scaling_factor"])), bias.data());
    ASSERT_TRUE(check_moe_route(r).ok()) << c["name"];
    for (const auto& t : c["tokens"]) {
      std::vector<float> lg;
      for (double x : t["logits"]) lg.push_back(float(x));
      std::vector<int32_t> ids(static_cast<size_t>(k));
      std::vector<float> w(static_cast<size_t>(k));
      moe_route_token(lg.data(), r, ids.data(), w.data());
      std::map<int32_t, float> want, got;
      for (size_t j = 0; j < size_t(k); ++j) {
        want[t["ids"][j].get<int32_t>()] = float(t["weights"][j].get<double>());
        got[ids[j]] = w[j];
      }
      ASSERT_EQ(got.size(), size_t(k)) << "duplicate expert";
      std::set<int32_t> ws, gs;
      for (auto& [i, x] : want) ws.insert(i);
      for (auto& [i, x] : got) gs.insert(i);
      ASSERT_EQ(gs, ws) << c["name"] << " token " << tokens;
      for (auto& [i, x] : want)  // sigmoid / sum order: a few ulp
        EXPECT_NEAR(got[i], x, 2e-6f * std::fabs(x) + 1e-9f) << c["name"] << " expert " << i;
      // listed by descending biased score
      for (size_t j = 1; j < size_t(k); ++j)
        EXPECT_GE(sigmoid(lg[size_t(ids[j - 1])]) + bias[size_t(ids[j - 1])],
                  sigmoid(lg[size_t(ids[j])]) + bias[size_t(ids[j])]);
      ++tokens;
    }
  }
  EXPECT_GE(tokens, 100);
}

// Within a group: equal biased scores go to the lower id. Between groups:
// equal group scores keep the lower group.
TEST(MoeRouteGroup, TiesGoToTheLowerExpertAndGroup) {
  // 8 experts, 4 groups of 2, keep 2 groups, k = 2.
  std::vector<float> lg(8, logit(0.1f));
  lg[2] = lg[3] = logit(0.9f);  // group 1: 0.9 + 0.9
  lg[6] = lg[7] = logit(0.9f);  // group 3: the same group score: group 1 wins the tie...
  lg[0] = logit(0.95f);         // group 0: 0.95 + 0.1 < 1.8
  // ... and group 0 (1.05) beats groups 2 (0.2): kept groups are 1 and 3.
  const MoeRoute r = group_route(8, 4, 2, 2, false, 1.0f, nullptr);
  int32_t ids[2];
  float w[2];
  moe_route_token(lg.data(), r, ids, w);
  // experts 2, 3, 6, 7 all score 0.9: the two lowest ids
  EXPECT_EQ(ids[0], 2);
  EXPECT_EQ(ids[1], 3);
  // k = 4 takes all four, lower id first among equals
  const MoeRoute r4 = group_route(8, 4, 2, 4, false, 1.0f, nullptr);
  int32_t ids4[4];
  float w4[4];
  moe_route_token(lg.data(), r4, ids4, w4);
  EXPECT_EQ(std::vector<int32_t>(ids4, ids4 + 4), (std::vector<int32_t>{2, 3, 6, 7}));
  // keep 1 group: groups 1 and 3 tie, group 1 (the lower) is kept
  const MoeRoute r1 = group_route(8, 4, 1, 2, false, 1.0f, nullptr);
  moe_route_token(lg.data(), r1, ids, w);
  EXPECT_EQ(ids[0], 2);
  EXPECT_EQ(ids[1], 3);
}

// The best single expert sits in a group whose second best is poor: the
// group loses, and its expert is never chosen even though its score is the
// highest of all.
TEST(MoeRouteGroup, AMaskedGroupsBestExpertIsNotChosen) {
  std::vector<float> lg = {logit(0.99f), logit(0.01f),   // group 0: 1.00
                           logit(0.60f), logit(0.55f),   // group 1: 1.15
                           logit(0.58f), logit(0.50f),   // group 2: 1.08
                           logit(0.20f), logit(0.10f)};  // group 3: 0.30
  const MoeRoute r = group_route(8, 4, 2, 2, true, 1.0f, nullptr);
  int32_t ids[2];
  float w[2];
  moe_route_token(lg.data(), r, ids, w);
  for (int32_t i : ids) EXPECT_NE(i, 0) << "expert 0's group is not among the best two";
  EXPECT_EQ(ids[0], 2);
  // top-k inside groups 1 and 2: 0.60 then 0.58
  EXPECT_EQ(ids[1], 4);
  // a single group (n_group 1): plain top-k, expert 0 wins
  const MoeRoute r1 = group_route(8, 1, 1, 2, true, 1.0f, nullptr);
  moe_route_token(lg.data(), r1, ids, w);
  EXPECT_EQ(ids[0], 0);
}

// The bias changes which experts are chosen but not their weights: those
// are the unbiased sigmoid scores (normalized, then scaled).
TEST(MoeRouteGroup, BiasChoosesWeightsStayUnbiased) {
  const std::vector<float> lg = {logit(0.9f), logit(0.8f), logit(0.3f), logit(0.2f)};
  const std::vector<float> bias = {0.0f, 0.0f, 1.0f, 0.0f};  // expert 2: 0.3 + 1 = 1.3
  const MoeRoute r = group_route(4, 1, 1, 2, false, 2.5f, bias.data());
  int32_t ids[2];
  float w[2];
  moe_route_token(lg.data(), r, ids, w);
  EXPECT_EQ(ids[0], 2);
  EXPECT_EQ(ids[1], 0);
  EXPECT_EQ(w[0], sigmoid(lg[2]) * 2.5f);
  EXPECT_EQ(w[1], sigmoid(lg[0]) * 2.5f);
  // norm_topk: w / (sum + 1e-20) * scale, the sum in list order
  const MoeRoute rn = group_route(4, 1, 1, 2, true, 2.5f, bias.data());
  moe_route_token(lg.data(), rn, ids, w);
  const float s0 = sigmoid(lg[2]), s1 = sigmoid(lg[0]), den = (s0 + s1) + 1e-20f;
  EXPECT_EQ(w[0], s0 / den * 2.5f);
  EXPECT_EQ(w[1], s1 / den * 2.5f);
  EXPECT_NEAR(w[0] + w[1], 2.5f, 1e-6f);
}

TEST(MoeRouteGroup, MalformedRoutesAreRefused) {
  auto msg = [](MoeRoute r) {
    Status s = check_moe_route(r);
    return s.ok() ? std::string() : s.message;
  };
  EXPECT_EQ(msg(group_route(256, 8, 4, 8, true, 2.5f, nullptr)), "");
  EXPECT_NE(msg(group_route(10, 4, 2, 2, true, 1.0f, nullptr)).find("equal groups"), std::string::npos);
  EXPECT_NE(msg(group_route(8, 8, 2, 2, true, 1.0f, nullptr)).find(">= 2 experts"), std::string::npos);
  EXPECT_NE(msg(group_route(8, 4, 5, 2, true, 1.0f, nullptr)).find("topk_group"), std::string::npos);
  EXPECT_NE(msg(group_route(8, 4, 0, 2, true, 1.0f, nullptr)).find("topk_group"), std::string::npos);
  EXPECT_NE(msg(group_route(8, 4, 1, 3, true, 1.0f, nullptr)).find("exceeds"), std::string::npos);
  EXPECT_NE(msg(group_route(8, 4, 2, 2, true, 0.0f, nullptr)).find("scale"), std::string::npos);
  EXPECT_NE(msg(group_route(8, 4, 2, 2, true, NAN, nullptr)).find("scale"), std::string::npos);
  EXPECT_NE(msg(group_route(8, 0, 1, 2, true, 1.0f, nullptr)).find("groups"), std::string::npos);
}

// The moe_route op of every CPU backend: T tokens routed as moe_route_token
// routes each, bit for bit (the op is the shared arithmetic, token by token).
TEST(MoeRouteGroup, BackendOpsEqualTheHostArithmetic) {
  const int32_t E = 64, T = 37, k = 6;
  const std::vector<float> lg = randn(size_t(T) * E, 77, 2.0f);
  const std::vector<float> bias = randn(E, 78, 0.1f);
  const MoeRoute r = group_route(E, 8, 3, k, true, 2.5f, bias.data());
  std::vector<int32_t> want(size_t(T) * k);
  std::vector<float> ww(size_t(T) * k);
  for (int32_t t = 0; t < T; ++t)
    moe_route_token(lg.data() + size_t(t) * E, r, want.data() + size_t(t) * k, ww.data() + size_t(t) * k);
  for (const char* name : {"cpu-ref", "cpu-simd"}) {
    auto be = make(name);
    auto s = stream(*be, 2, T, E);
    std::vector<int32_t> ids(want.size());
    std::vector<float> w(ww.size());
    s->moe_route(lg.data(), T, r, ids.data(), w.data());
    EXPECT_EQ(ids, want) << name;
    EXPECT_EQ(std::memcmp(w.data(), ww.data(), w.size() * 4), 0) << name;
  }
}
