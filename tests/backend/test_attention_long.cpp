// test_attention_long.cpp — attention over long contexts (issue 27): cpu-simd
// (every ISA this machine runs: the AVX2 block kernels and the portable one)
// against cpu-ref for every cache dtype and scale scheme, GQA ratios 1, 3,
// 4 and 8, head sizes that take the vector tails and the scalar fallback,
// sliding windows, softcap and sinks, several sequences with odd page fills
// in a fragmented pool; and the split of one long sequence across threads
// (position-block items + the fold pass) bit-identical to one item per head
// group (1 thread) and to the same query inside a prefill-sized batch.
#include "attention_long_check.h"

using namespace f8test;

namespace {

TEST(AttentionLong, EveryDtypeAndScaleScheme) {
  for (const auto& isa : cpu_isas())
    for (const Case& c : dtype_cases()) check(isa, c);
}

TEST(AttentionLong, GqaRatiosAndHeadSizes) {
  for (const auto& isa : cpu_isas())
    for (const Case& c : gqa_cases()) check(isa, c);
}

TEST(AttentionLong, WindowsSoftcapSinks) {
  for (const auto& isa : cpu_isas())
    for (const Case& c : window_cases()) check(isa, c);
}

}  // namespace
