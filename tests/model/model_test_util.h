// model_test_util.h — helpers the model tests share: fixed pseudo-random
// token ids, a one-sequence prefill with logits for every entry, context
// creation.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <numeric>
#include <vector>

#include "model/context.h"

namespace f8test {

// n ids in [0, vocab), a fixed function of (i, seed).
inline std::vector<int32_t> tokens(int n, int vocab, int seed) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (i * 7 + seed * 13 + (i * i) % 5) % vocab;
  return t;
}

// Decodes `toks` for seq at positions p0.. with logits for every entry.
inline f8model::Status prefill(f8model::Context& c, const std::vector<int32_t>& toks, int seq = 0, int p0 = 0) {
  const int n = int(toks.size());
  std::vector<int32_t> pos(n), sq(n, seq);
  std::vector<int8_t> lg(n, 1);
  std::iota(pos.begin(), pos.end(), p0);
  return c.decode({n, toks.data(), pos.data(), sq.data(), lg.data()});
}

// A context of `model` with params cp; a failure is a test failure (and null).
inline std::unique_ptr<f8model::Context> create_context(f8model::Model& model, const f8model::ContextParams& cp) {
  std::unique_ptr<f8model::Context> c;
  f8model::Status st = f8model::Context::create(model, cp, &c);
  EXPECT_TRUE(st.ok()) << st.message;
  return c;
}

}  // namespace f8test
