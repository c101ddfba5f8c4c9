// sampler_handle.h — struct f8_sampler, shared by api_sampling.cpp and
// api_speculative.cpp.
#pragma once

#include <cstdint>
#include <memory>

#include "f8.h"
#include "sampling/grammar_vocab.h"
#include "sampling/sampler.h"

struct f8_sampler {
  f8::sampling::Sampler impl;
  uint64_t seed;
  std::unique_ptr<f8::sampling::GrammarConstraint> grammar;  // null: unconstrained
  bool sampled = false;                                       // last_logprobs has data
};
