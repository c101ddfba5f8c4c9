// test_kv_token_scales.cpp — the per-token, per-KV-head scales of the E4M3
// cache (kernels/kv_scale.h, the --kv-type fp8 default): the BF16 scale rule
// against a brute-force search, exact decoding, what kv_store writes (every CPU backend and
// ISA the same bytes: each head's codes = e4m3(x / s) with its own s),
// exact decoding through attention, the bytes a cell takes, and the
// parameters it refuses. Attention against cpu-ref is in test_backend_kv.cpp
// (TokenScalesSimdMatchesRef); the CUDA kernels' replays in
// test_cuda_attn_math.cpp / test_cuda_attn_det.cpp.
#include <cfloat>
#include <cstring>

#include "backend/cpu/cpu_common.h"
#include "backend_test_util.h"
#include "kernels/kv_scale.h"

using namespace f8test;
namespace kvs = f8k::kvs;

namespace {

constexpr int kHeads = 3, kD = 64;

KVCacheParams token_params(int cells) {
  KVCacheParams p;
  p.n_layers = 2;
  p.n_cells = cells;
  p.n_kv_heads = kHeads;
  p.head_dim = kD;
  p.dtype = DType::E4M3;
  p.token_scales = true;
  return p;
}

// The BF16 scale by the rule's definition, in double: the smallest BF16
// value >= fl32(amax / 448), clamped to [2^-117, 2^127] (search over the
// 2^15 positive BF16 values in order).
uint16_t brute_scale(float amax, float qmax = 448.0f) {
  if (!(amax > 0)) return kvs::kScaleMinBits;
  const double q = double(amax / qmax);
  for (uint32_t b = kvs::kScaleMinBits; b <= kvs::kScaleMaxBits; ++b)
    if (double(kvs::scale_value(uint16_t(b))) >= q) return uint16_t(b);
  return kvs::kScaleMaxBits;
}

TEST(KvTokenScales, ScaleRuleMatchesSearch) {
  std::vector<float> xs = {0.0f, FLT_MIN, FLT_MIN / 8, 1e-45f, 1.0f, 448.0f, 448.0001f, 447.9999f, 896.0f,
                           224.0f, 224.00002f, 3.5f, 1.75f, 1.7500001f, FLT_MAX, 1e30f, 1e-30f};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  std::uniform_int_distribution<int> ex(-140, 127);
  for (int i = 0; i < 20000; ++i) xs.push_back(std::ldexp(mant(rng), ex(rng)));
  for (int k = -120; k <= 120; ++k) {  // the binade edges of 448 * 2^k
    const float b = std::ldexp(448.0f, k);
    xs.push_back(b);
    xs.push_back(std::nextafter(b, 0.0f));
    xs.push_back(std::nextafter(b, INFINITY));
  }
  for (float a : xs) {
    if (!(a > 0) || !std::isfinite(a)) continue;
    const uint16_t s = kvs::scale_for_amax(a);
    ASSERT_EQ(s, brute_scale(a)) << a;
    const float sv = kvs::scale_value(s);
    // The row's largest value codes at most at 448 (the scale rounds up) and
    // within 2^-7 of it unless the clamp at 2^-117 holds it below.
    if (a / 448.0f > std::ldexp(1.0f, -117) && a / 448.0f <= kvs::scale_value(kvs::kScaleMaxBits)) {
      ASSERT_LE(double(a) / sv, 448.0 * (1 + 1e-7)) << a;
      ASSERT_GE(double(a) / sv, 448.0 * (1 - 1.0 / 128)) << a;
    }
  }
  EXPECT_EQ(kvs::scale_for_amax(0.0f), kvs::kScaleMinBits);
  EXPECT_EQ(kvs::scale_value(kvs::kScaleMinBits), std::ldexp(1.0f, -117));
  EXPECT_EQ(kvs::scale_value(kvs::kScaleMaxBits), std::ldexp(1.140625f, 119));
  EXPECT_EQ(kvs::scale_for_amax(448.0f), 0x3F80);  // exactly 1
  EXPECT_EQ(kvs::finite_abs(-3.0f), 3.0f);
  EXPECT_EQ(kvs::finite_abs(INFINITY), 0.0f);
  EXPECT_EQ(kvs::finite_abs(NAN), 0.0f);
}

// Every E4M3 code times every BF16 scale of the clamped range is exact in
// F32 (4 x 8 significant bits, never below 2^-126, never above FLT_MAX): the
// decode has no rounding, so any order of decode and multiply gives these
// bits.
TEST(KvTokenScales, DecodeIsExact) {
  EXPECT_TRUE(std::isfinite(448.0f * kvs::scale_value(kvs::kScaleMaxBits)));
  EXPECT_FALSE(std::isfinite(448.0f * kvs::scale_value(kvs::kScaleMaxBits + 1)));
  for (uint32_t sb = kvs::kScaleMinBits; sb <= kvs::kScaleMaxBits; sb += (sb + 37 > kvs::kScaleMaxBits ? 1 : 37)) {
    const double s = kvs::scale_value(uint16_t(sb));
    for (int c = 0; c < 256; ++c) {
      const float v = ggf8::e4m3_to_f32(uint8_t(c));
      if (!std::isfinite(v)) continue;
      const float got = v * float(s);
      ASSERT_EQ(double(got), double(v) * s) << c << " " << sb;
    }
  }
}

// INT8 codes: round to nearest, ties to even, +-127, NaN 0.
TEST(KvTokenScales, Int8CodesRoundToNearestEven) {
  const std::vector<std::pair<float, int>> fixed = {
      {0.0f, 0},     {-0.0f, 0},    {0.5f, 0},      {-0.5f, 0},      {1.5f, 2},     {2.5f, 2},
      {-2.5f, -2},   {0.49999997f, 0}, {126.5f, 126}, {-126.5f, -126}, {126.51f, 127}, {127.4f, 127},
      {1e30f, 127},  {-1e30f, -127}, {INFINITY, 127}, {-INFINITY, -127}, {NAN, 0},     {3.7f, 4}};
  for (auto [x, want] : fixed) EXPECT_EQ(int(kvs::i8_from_f32(x)), want) << x;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-127.0f, 127.0f);
  for (int i = 0; i < 100000; ++i) {
    const float x = u(rng);
    ASSERT_EQ(int(kvs::i8_from_f32(x)), int(std::nearbyint(x))) << x;  // the default mode: nearest, ties even
  }
  // amax / 127 rounded up: the row's largest value codes at 127 (rarely 126).
  for (int i = 0; i < 10000; ++i) {
    const float a = std::ldexp(1.0f + float(i) / 10000, i % 60 - 30);
    const uint16_t s = kvs::scale_for_amax(a, kvs::kI8Max);
    ASSERT_EQ(s, brute_scale(a, 127.0f)) << a;
    ASSERT_GE(int(kvs::i8_from_f32(a / kvs::scale_value(s))), 126) << a;
  }
}

// Rows whose heads differ by 2^40 and tokens by 2^20: every backend/ISA
// writes the same bytes, each head coded with its own scale.
TEST(KvTokenScales, StoreCodesEachHeadWithItsScale) {
  for (DType dt : {DType::E4M3, DType::I8}) {
  SCOPED_TRACE(ggf8::dtype_name(dt));
  const float qmax = dt == DType::I8 ? 127.0f : 448.0f;
  const int n = 6;
  std::vector<float> k = randn(size_t(n) * kHeads * kD, 11), v = randn(k.size(), 12);
  for (size_t i = 0; i < k.size(); ++i) {
    const int t = int(i / (kHeads * kD)), h = int(i / kD) % kHeads;
    k[i] *= std::ldexp(1.0f, 20 * h - 20 + 4 * t);
    v[i] *= std::ldexp(1.0f, -20 * h + 10 - 3 * t);
  }
  k[5] = INFINITY;  // a non-finite value saturates and does not set the scale
  v[7] = NAN;
  std::vector<std::string> names = {"cpu-ref"};
  std::vector<std::string> isas = {"auto"};
  for (const auto& isa : cpu_isas()) names.push_back("cpu-simd"), isas.push_back(isa);
  std::vector<uint8_t> first;
  for (size_t b = 0; b < names.size(); ++b) {
    auto be = make(names[b], isas[b]);
    auto st = stream(*be, 2, 8, 1024);
    std::unique_ptr<KVCache> c;
    KVCacheParams kp = token_params(16);
    kp.dtype = dt;
    ASSERT_TRUE(be->create_kv_cache(kp, &c).ok());
    EXPECT_EQ(c->bytes(), size_t(2) * 2 * 16 * (kHeads * kD + 2 * kHeads));  // 1 + 2/64 bytes per value
    std::vector<int32_t> seq(n, 0), pos(n), cells(n);
    for (int i = 0; i < n; ++i) pos[i] = i;
    ASSERT_TRUE(c->alloc_cells(n, seq.data(), pos.data(), cells.data()).ok());
    st->kv_store(*c, 1, k.data(), v.data(), cells.data(), n);
    auto& cc = static_cast<f8backend::cpu::CpuKVCache&>(*c);
    std::vector<uint8_t> bytes;
    for (int t = 0; t < n; ++t)
      for (int which = 0; which < 2; ++which) {
        const float* x = (which ? v.data() : k.data()) + size_t(t) * kHeads * kD;
        const uint8_t* row = which ? cc.v_row(1, cells[t]) : cc.k_row(1, cells[t]);
        const uint16_t* ts = which ? cc.v_ts(1, cells[t]) : cc.k_ts(1, cells[t]);
        for (int h = 0; h < kHeads; ++h) {
          float amax = 0.0f;
          for (int i = 0; i < kD; ++i) amax = std::max(amax, kvs::finite_abs(x[h * kD + i]));
          ASSERT_EQ(ts[h], brute_scale(amax, qmax)) << names[b] << " t " << t << " h " << h;
          const float s = kvs::scale_value(ts[h]);
          for (int i = 0; i < kD; ++i) {
            const float xi = x[h * kD + i];
            const uint8_t want =
                dt == DType::I8 ? uint8_t(kvs::i8_from_f32(xi / s)) : ggf8::e4m3_from_f32(xi / s);
            ASSERT_EQ(row[h * kD + i], want) << names[b] << " " << isas[b] << " t " << t << " h " << h << " i " << i;
            const float got = dt == DType::I8 ? float(int8_t(row[h * kD + i])) * s
                                              : ggf8::e4m3_to_f32(row[h * kD + i]) * s;
            // Every finite value within E4M3's relative step (or its subnormal
            // step 2^-9 * s) of itself, whatever its head's size; INT8: half
            // a step s.
            if (std::isfinite(xi)) {
              if (dt == DType::I8) ASSERT_LE(std::fabs(got - xi), s * 0.5f * (1 + 1e-6f));
              else ASSERT_LE(std::fabs(got - xi), std::max(std::fabs(xi) / 16, std::ldexp(s, -10)));
            }
          }
          bytes.insert(bytes.end(), row + h * kD, row + h * kD + kD);
          bytes.push_back(uint8_t(ts[h])), bytes.push_back(uint8_t(ts[h] >> 8));
        }
      }
    if (b == 0) first = bytes;
    else EXPECT_EQ(bytes, first) << names[b] << " " << isas[b] << " writes other bytes than cpu-ref";
  }
  }
}

// One visible cell: attention returns that cell's V decoded exactly (code * s).
TEST(KvTokenScales, AttentionDecodesExactly) {
  for (const std::string name : {"cpu-ref", "cpu-simd"}) {
    auto be = make(name);
    auto st = stream(*be, 2, 4, 1024);
    std::unique_ptr<KVCache> c;
    ASSERT_TRUE(be->create_kv_cache(token_params(4), &c).ok());
    std::vector<int32_t> s = {0}, p = {0}, cell(1);
    ASSERT_TRUE(c->alloc_cells(1, s.data(), p.data(), cell.data()).ok());
    auto k = randn(kHeads * kD, 1), v = randn(kHeads * kD, 2);
    for (int i = 0; i < kHeads * kD; ++i) v[i] *= std::ldexp(1.0f, 12 * (i / kD) - 12);
    st->kv_store(*c, 0, k.data(), v.data(), cell.data(), 1);
    const auto q = randn(kHeads * kD, 3);
    AttnBatch ab;
    ab.n_tokens = 1;
    ab.seq = s.data();
    ab.pos = p.data();
    ab.n_heads = kHeads;
    ab.scale = 0.125f;
    std::vector<float> out(kHeads * kD);
    st->attention(*c, 0, q.data(), ab, out.data());
    auto& cc = static_cast<f8backend::cpu::CpuKVCache&>(*c);
    for (int i = 0; i < kHeads * kD; ++i)
      ASSERT_EQ(out[i], ggf8::e4m3_to_f32(cc.v_row(0, cell[0])[i]) * kvs::scale_value(cc.v_ts(0, cell[0])[i / kD]))
          << name << " " << i;
  }
}

// K centering at the far end of the position range: positions >=
// kKvCenterMaxPos are stored uncentered (the rotated-mean table is not
// sized by them), and cpu-simd still matches cpu-ref there.
TEST(KvTokenScales, CenteringFarPositions) {
  std::vector<std::vector<float>> outs;
  for (const std::string name : {"cpu-ref", "cpu-simd"}) {
    auto be = make(name);
    auto st = stream(*be, 2, 4, 1024);
    KVCacheParams kp = token_params(8);
    kp.k_center = randn(size_t(2) * kHeads * kD, 9, 2.0f);
    RopeParams r;
    r.head_dim = kD;
    kp.k_center_rope = {r, r};
    std::unique_ptr<KVCache> c;
    ASSERT_TRUE(be->create_kv_cache(kp, &c).ok());
    auto& cc = static_cast<f8backend::cpu::CpuKVCache&>(*c);
    std::vector<int32_t> s = {0, 0, 0}, p = {5, f8backend::kKvCenterMaxPos - 1, (1 << 30) - 1}, cell(3);
    ASSERT_TRUE(c->alloc_cells(3, s.data(), p.data(), cell.data()).ok());
    EXPECT_NE(cc.k_center_row(0, p[1]), nullptr);
    EXPECT_EQ(cc.k_center_row(0, p[2]), nullptr);
    auto k = randn(3 * kHeads * kD, 1), v = randn(3 * kHeads * kD, 2);
    st->kv_store(*c, 0, k.data(), v.data(), cell.data(), 3);
    const auto q = randn(kHeads * kD, 3);
    std::vector<int32_t> qs = {0}, qp = {(1 << 30) - 1};
    AttnBatch ab;
    ab.n_tokens = 1;
    ab.seq = qs.data();
    ab.pos = qp.data();
    ab.n_heads = kHeads;
    ab.scale = 0.125f;
    std::vector<float> out(kHeads * kD);
    st->attention(*c, 0, q.data(), ab, out.data());
    outs.push_back(out);
  }
  expect_close(outs[1], outs[0], 1e-5f, 1e-5f, "cpu-simd vs cpu-ref, far positions");
}

TEST(KvTokenScales, RefusesWhatItCannotStore) {
  auto be = make("cpu");
  std::unique_ptr<KVCache> c;
  for (DType dt : {DType::E5M2, DType::BF16, DType::F16, DType::F32}) {
    KVCacheParams p = token_params(8);
    p.dtype = dt;
    const Status s = be->create_kv_cache(p, &c);
    EXPECT_EQ(s.code, Code::InvalidArgument) << ggf8::dtype_name(dt);
    EXPECT_NE(s.message.find("token_scales"), std::string::npos) << s.message;
  }
  KVCacheParams mla = token_params(8);
  mla.n_kv_heads = 1;
  mla.mla_kv_lora = 32;
  EXPECT_EQ(be->create_kv_cache(mla, &c).code, Code::InvalidArgument);
  KVCacheParams i8 = token_params(8);  // INT8 codes only with per-token scales
  i8.dtype = DType::I8;
  i8.token_scales = false;
  EXPECT_EQ(be->create_kv_cache(i8, &c).code, Code::InvalidArgument);
  KVCacheParams cen = token_params(8);  // K centering: sizes, finite means, a RoPE per layer
  cen.k_center.assign(size_t(2) * kHeads * kD, 0.5f);
  EXPECT_EQ(be->create_kv_cache(cen, &c).code, Code::InvalidArgument);  // no k_center_rope
  RopeParams r;
  r.head_dim = kD;
  cen.k_center_rope = {r, r};
  EXPECT_TRUE(be->create_kv_cache(cen, &c).ok());
  cen.k_center[5] = NAN;
  EXPECT_EQ(be->create_kv_cache(cen, &c).code, Code::InvalidArgument);
  cen.k_center[5] = 0.0f;
  cen.k_center.pop_back();
  EXPECT_EQ(be->create_kv_cache(cen, &c).code, Code::InvalidArgument);
  cen.k_center.push_back(0.0f);
  cen.token_scales = false;
  EXPECT_EQ(be->create_kv_cache(cen, &c).code, Code::InvalidArgument);
}

}  // namespace
