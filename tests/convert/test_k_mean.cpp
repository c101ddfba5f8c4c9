// The K means `f8 convert` stores for K centering (quant.kv.k_mean,
// convert/k_mean.h): they are the bits the runtime would measure at start-up
// from the same file, the runtime reads them instead of measuring, the
// tensors are untouched, and a malformed value fails the load naming the key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "convert/converter.h"
#include "ggf8/keys.h"
#include "model/k_center.h"
#include "model/model.h"
#include "st_builder.h"

using namespace f8conv;
using namespace f8test;
namespace fs = std::filesystem;

namespace {

class KMean : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() /
           ("f8kmean_" + std::to_string(getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    dir = root + "/model";
    fs::create_directories(dir);
    TinyModel m;
    m.write(dir);
  }
  void TearDown() override { fs::remove_all(root); }

  ggf8::Status convert(const std::string& out, ConvertOptions o, ConvertReport* rep) {
    o.model_dir = dir;
    o.output = out;
    o.threads = 2;
    return convert_checkpoint(o, rep);
  }
  static std::unique_ptr<ggf8::File> open(const std::string& p) {
    std::unique_ptr<ggf8::File> f;
    ggf8::Status s = ggf8::File::open(p, &f);
    EXPECT_TRUE(s.ok()) << s.message;
    return f;
  }

  std::string root, dir;
};

std::vector<float> stored(const ggf8::File& f) {
  std::vector<float> v;
  const ggf8::Value* x = f.find(ggf8::keys::kQuantKvKMean);
  EXPECT_NE(x, nullptr);
  if (x) EXPECT_TRUE(x->to_f32_vector(&v));
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_F(KMean, StoredMeansAreTheBitsTheRuntimeMeasures) {
  ConvertReport ra, rb;
  ConvertOptions skip;
  skip.store_k_mean = false;
  ASSERT_TRUE(convert(root + "/a.f8", {}, &ra).ok());
  ASSERT_TRUE(convert(root + "/b.f8", skip, &rb).ok());
  EXPECT_TRUE(ra.k_mean.stored);
  EXPECT_TRUE(ra.k_mean.failed.empty()) << ra.k_mean.failed;
  EXPECT_EQ(ra.k_mean.tokens, f8model::kCenterCalibrationTokens);
  EXPECT_FALSE(rb.k_mean.stored);
  auto a = open(root + "/a.f8"), b = open(root + "/b.f8");
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->verify().ok());
  EXPECT_EQ(b->find(ggf8::keys::kQuantKvKMean), nullptr);
  uint64_t n = 0;
  ASSERT_TRUE(a->get_u64(ggf8::keys::kQuantKvKMeanTokens, &n).ok());
  EXPECT_EQ(n, f8model::kCenterCalibrationTokens);
  // The tensors are the same bytes at the same offsets.
  ASSERT_EQ(a->tensors().size(), b->tensors().size());
  for (size_t i = 0; i < a->tensors().size(); ++i) {
    const ggf8::TensorInfo &ta = a->tensors()[i], &tb = b->tensors()[i];
    ASSERT_EQ(ta.name, tb.name);
    EXPECT_EQ(ta.offset, tb.offset) << ta.name;
    ASSERT_EQ(ta.nbytes, tb.nbytes) << ta.name;
    EXPECT_EQ(std::memcmp(a->data(ta), b->data(tb), ta.nbytes), 0) << ta.name;
  }
  const std::vector<float> sa = stored(*a);
  ASSERT_EQ(sa.size(), 2u * 2u * 16u);  // layers x KV heads x head_dim
  bool nonzero = false;
  for (float x : sa) nonzero |= x != 0.0f;
  EXPECT_TRUE(nonzero);

  // What a process measures from the file without stored means (1 and 3
  // threads: the forward pass gives the same bits on any thread count).
  for (int32_t threads : {1, 3}) {
    std::unique_ptr<f8model::Model> mb;
    ASSERT_TRUE(f8model::Model::load(*b, {}, &mb).ok());
    std::vector<float> got;
    EXPECT_FALSE(mb->k_center(&got));  // nothing stored: the runtime measures
    ASSERT_TRUE(f8model::measure_k_center(*mb, nullptr, threads, &got).ok());
    EXPECT_TRUE(same_bits(got, sa)) << threads << " threads";
  }
  // The file with them: the model has them from the load, nothing to measure.
  std::unique_ptr<f8model::Model> ma;
  ASSERT_TRUE(f8model::Model::load(*a, {}, &ma).ok());
  std::vector<float> got;
  ASSERT_TRUE(ma->k_center(&got));
  EXPECT_TRUE(same_bits(got, sa));
}

TEST_F(KMean, StoredValuesAreWhatTheRuntimeUses) {
  // A file whose stored means differ from what a measurement would give:
  // the model reports the stored ones (the C API then never measures).
  ConvertOptions o;
  o.store_k_mean = false;
  std::vector<float> mine(2 * 2 * 16);
  for (size_t i = 0; i < mine.size(); ++i) mine[i] = float(i) * 0.25f - 3.0f;
  o.extra_metadata.push_back({ggf8::keys::kQuantKvKMean, ggf8::Value::array_f32(mine)});
  ConvertReport r;
  ASSERT_TRUE(convert(root + "/m.f8", o, &r).ok());
  auto f = open(root + "/m.f8");
  std::unique_ptr<f8model::Model> m;
  ASSERT_TRUE(f8model::Model::load(*f, {}, &m).ok());
  std::vector<float> got;
  ASSERT_TRUE(m->k_center(&got));
  EXPECT_TRUE(same_bits(got, mine));
}

TEST_F(KMean, MalformedStoredMeansFailTheLoadNamingTheKey) {
  struct Case {
    ggf8::Value v;
    const char* needle;
  };
  std::vector<float> nan_at_5(64, 0.5f);
  nan_at_5[5] = NAN;
  const std::vector<Case> cases = {
      {ggf8::Value::array_f32({1.0f, 2.0f, 3.0f}), "expected 64 values (2 layers x 2 KV heads x 16), has 3"},
      {ggf8::Value::array_f32(nan_at_5), "value 5 is not finite"},
      {ggf8::Value::str("zero"), "expected an array of f32"},
      {ggf8::Value::array_i32(std::vector<int32_t>(64, 0)), "expected an array of f32"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    ConvertOptions o;
    o.store_k_mean = false;
    o.extra_metadata.push_back({ggf8::keys::kQuantKvKMean, cases[i].v});
    const std::string out = root + "/bad" + std::to_string(i) + ".f8";
    ConvertReport r;
    ASSERT_TRUE(convert(out, o, &r).ok());
    auto f = open(out);
    std::unique_ptr<f8model::Model> m;
    f8model::Status s = f8model::Model::load(*f, {}, &m);
    ASSERT_FALSE(s.ok()) << i;
    EXPECT_EQ(s.code, f8model::Code::Format) << i;
    EXPECT_NE(s.message.find(out + ": metadata 'quant.kv.k_mean': "), std::string::npos) << s.message;
    EXPECT_NE(s.message.find(cases[i].needle), std::string::npos) << s.message;
  }
}

TEST(KCenterRule, NotForLatentOrSoftCappedAttention) {
  f8model::HParams hp;
  EXPECT_TRUE(f8model::k_center_applies(hp));
  hp.attn_softcap = 50.0f;
  EXPECT_FALSE(f8model::k_center_applies(hp));
  hp.attn_softcap = 0.0f;
  hp.mla_kv_lora = 512;
  EXPECT_FALSE(f8model::k_center_applies(hp));
}
