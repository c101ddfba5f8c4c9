// test_avx512_attn_emul.cpp — the avx512 tiers' attention block kernels
// (attention_avx512.inc: two keys per zmm, 16 outputs per P.V chain)
// compiled against SIMDe's portable AVX-512 (x86_tables_emul.h), so they
// run on any AVX2 machine: the whole long-context check of
// test_attention_long (cpu-ref, thread split, alone vs batch, every cache
// dtype and scale scheme, GQA, head sizes, windows, softcap, sinks, K
// centering) and bit for bit against the avx2 tier — the 512-bit kernels
// keep the definition's 8-lane order, so the tiers' bits are the same; on
// a CPU with AVX-512 the real avx512 table is held to the same bits.
#include "attention_long_check.h"
#include "x86_tables_emul.h"

using namespace f8test;
namespace sd = f8backend::cpu::simd;

namespace {

// The avx2 table with the emulated 512-bit attention: the only op these
// checks call (kv_store is the backend's own, the same for every table).
const sd::Kernels* emul_table() {
  static const sd::Kernels k = [] {
    sd::Kernels t = *sd::select_kernels("avx2");
    t.isa = "avx512-emul";
    t.attention = sd::avx512_emul::z_attention;
    return t;
  }();
  return &k;
}

// Two rows' 8-code chunks side by side, every code, against the avx2 decoders.
TEST(Avx512AttnEmul, PairDecodersMatchAvx2ForEveryCode) {
  if (!have_avx2() || !sd::select_kernels("avx2")) GTEST_SKIP() << "SIMDe's 512-bit emulation is built on AVX2 here";
  namespace e = sd::avx512_emul;
  std::vector<uint8_t> a(1024), b(1024);
  for (int i = 0; i < 1024; ++i) a[i] = uint8_t(i * 37 + (i >> 8)), b[i] = uint8_t(i * 91 + 7);
  for (int c = 0; c < 32; ++c) {  // 256 one-byte codes per row (x 4 orders), 128 two-byte, 64 floats
    EXPECT_TRUE(e::pair_matches<e::DecE4M3Int>(a.data(), b.data(), c)) << c;
    EXPECT_TRUE(e::pair_matches<e::DecE4M3>(a.data(), b.data(), c)) << c;
    EXPECT_TRUE(e::pair_matches<e::DecE5M2>(a.data(), b.data(), c)) << c;
    EXPECT_TRUE(e::pair_matches<e::DecI8>(a.data(), b.data(), c)) << c;
    EXPECT_TRUE(e::pair_matches<e::DecBF16>(a.data(), b.data(), c)) << c;
    EXPECT_TRUE(e::pair_matches<e::DecF16>(a.data(), b.data(), c)) << c;
    EXPECT_TRUE(e::pair_matches<e::DecF32>(a.data(), b.data(), c)) << c;
  }
  for (int o = 0; o < 512; o += 32) EXPECT_TRUE(e::dec16_matches<e::DecI8>(a.data() + o)) << o;
}

void run_group(const std::vector<Case>& cases) {
  g_emul_table = emul_table();
  for (const Case& c : cases) {
    const Outputs z = check("emul", c), x = outputs("avx2", c);
    EXPECT_EQ(z.decode, x.decode) << c.name() << ": decode, emulated avx512 vs avx2";
    EXPECT_EQ(z.batch, x.batch) << c.name() << ": prefill-sized batch, emulated avx512 vs avx2";
    for (const char* real : {"avx512", "avx512-amx"})  // where the CPU has them: the same bits
      if (sd::select_kernels(real)) {
        const Outputs r = outputs(real, c);
        EXPECT_EQ(r.decode, x.decode) << c.name() << ": decode, " << real << " vs avx2";
        EXPECT_EQ(r.batch, x.batch) << c.name() << ": batch, " << real << " vs avx2";
      }
  }
}

TEST(Avx512AttnEmul, EveryDtypeAndScaleScheme) {
  if (!have_avx2() || !sd::select_kernels("avx2")) GTEST_SKIP() << "SIMDe's 512-bit emulation is built on AVX2 here";
  run_group(dtype_cases());
}
TEST(Avx512AttnEmul, GqaRatiosAndHeadSizes) {
  if (!have_avx2() || !sd::select_kernels("avx2")) GTEST_SKIP() << "SIMDe's 512-bit emulation is built on AVX2 here";
  run_group(gqa_cases());
}
TEST(Avx512AttnEmul, WindowsSoftcapSinks) {
  if (!have_avx2() || !sd::select_kernels("avx2")) GTEST_SKIP() << "SIMDe's 512-bit emulation is built on AVX2 here";
  run_group(window_cases());
}

}  // namespace
