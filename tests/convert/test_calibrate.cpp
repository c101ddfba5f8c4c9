// Calibration building blocks: the |x| histogram's amax and percentiles
// (model/act_stats.h), bits per weight of the --auto-format candidates and
// the greedy damage-saved-per-bit choice (convert/auto_format.h).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "convert/auto_format.h"
#include "model/act_stats.h"

using namespace f8conv;

TEST(AbsHist, AmaxAndPercentiles) {
  f8model::AbsHist h;
  std::vector<float> x;
  for (int i = 1; i <= 10000; ++i) x.push_back((i % 2 ? 1.0f : -1.0f) * float(i) / 1000.0f);  // |x| 0.001..10
  x.push_back(NAN);
  h.add(x.data(), int64_t(x.size()));
  EXPECT_EQ(h.count, 10000u);
  EXPECT_EQ(h.nonfinite, 1u);
  EXPECT_FLOAT_EQ(h.amax, 10.0f);
  EXPECT_FLOAT_EQ(h.percentile(1.0), 10.0f);
  // Upper bin edge: never below the true percentile, within one bin (2^(1/8)) above it.
  for (double p : {0.5, 0.9, 0.99, 0.999}) {
    const double truth = p * 10.0;
    const double got = h.percentile(p);
    EXPECT_GE(got, truth * 0.999) << p;
    EXPECT_LE(got, truth * std::exp2(1.0 / f8model::AbsHist::kPerOctave) * 1.001) << p;
  }
  f8model::AbsHist empty;
  EXPECT_EQ(empty.percentile(0.99), 0.0f);
  // Zeros and huge values land in the end bins, amax stays exact.
  f8model::AbsHist z;
  float v[3] = {0.0f, 1e30f, -3.0f};
  z.add(v, 3);
  EXPECT_FLOAT_EQ(z.amax, 1e30f);
  EXPECT_FLOAT_EQ(z.percentile(0.3), std::ldexp(1.0f, f8model::AbsHist::kMinExp));
}

TEST(ActStats, KvPerHead) {
  f8model::ActStats s;
  s.reset(2, 2, 4);
  std::vector<float> k = {1, -2, 0, 0, 5, 0, 0, -7,   // token 0: head 0 max 2, head 1 max 7
                          0, 3, 0, 0, 0, 0, 1, 0};    // token 1: head 0 max 3, head 1 max 1
  s.add_kv(&s.k_amax, 1, k.data(), 2);
  EXPECT_EQ(s.k_amax, (std::vector<float>{0, 0, 3, 7}));
}

TEST(AutoFormat, Bits) {
  const auto& o = auto_format_options();
  ASSERT_EQ(o.size(), 4u);
  EXPECT_DOUBLE_EQ(option_bits(o[0], 576, 576), 8.0 + 32.0 / 576);        // one scale per row
  EXPECT_DOUBLE_EQ(option_bits(o[1], 256, 256), 8.0 + 32.0 * 4 / 65536);  // 2x2 blocks of 128
  EXPECT_DOUBLE_EQ(option_bits(o[1], 129, 1), 8.0 + 32.0 * 2 / 129);      // partial blocks count
  EXPECT_DOUBLE_EQ(option_bits(o[3], 10, 10), 16.0);
}

TEST(AutoFormat, GreedyBySavedDamagePerBit) {
  // Three equal-size tensors; BF16 has KL 0. Every tensor starts at its
  // cheapest format (e4m3/block); the moves with the most KL saved per bit
  // come first: a -> e4m3/channel (0.002 for 32 bits per row), then c -> bf16
  // (0.031 for ~8 bits per weight); b stays at e4m3/block (already better).
  const uint64_t R = 1024, C = 1024;
  std::vector<TensorSensitivity> t = {
      {"a", R, C, {0.010, 0.012, 0.05, 0}},
      {"b", R, C, {0.002, 0.001, 0.04, 0}},
      {"c", R, C, {0.030, 0.031, 0.09, 0}},
  };
  const auto& opt = auto_format_options();
  const double b_block = option_bits(opt[1], R, C), b_chan = option_bits(opt[0], R, C);
  FormatChoice ch;
  const double budget = (b_chan + b_block + 16.0) / 3 + 1e-9;
  ASSERT_TRUE(choose_formats(t, budget, &ch).ok());
  EXPECT_EQ(ch.option, (std::vector<int>{0, 1, 3}));
  EXPECT_LE(ch.mean_bits, budget);
  EXPECT_NEAR(ch.kl_sum, 0.011, 1e-12);
  EXPECT_NEAR(ch.min_bits, b_block, 1e-12);

  // Not enough for a BF16 tensor: only the cheap scale moves are made.
  ASSERT_TRUE(choose_formats(t, budget - 0.01, &ch).ok());
  EXPECT_EQ(ch.option[2], 0);
  EXPECT_LE(ch.mean_bits, budget - 0.01);

  // Everything fits at 16 bits: all BF16.
  ASSERT_TRUE(choose_formats(t, 16.0, &ch).ok());
  for (int o : ch.option) EXPECT_EQ(o, 3);
  EXPECT_DOUBLE_EQ(ch.kl_sum, 0.0);

  // Below the cheapest mean: one clear error.
  ggf8::Status st = choose_formats(t, 8.0, &ch);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message.find("smallest possible"), std::string::npos) << st.message;
}
