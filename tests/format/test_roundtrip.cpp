// test_roundtrip.cpp — writer -> reader: every value type, arrays, every
// dtype, every scale kind, checksums on/off, alignment variants, streaming in
// pieces, and verify() finding a corrupted byte.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "ggf8/checksum.h"
#include "ggf8/ggf8.h"
#include "ggf8/keys.h"
#include "sample_files.h"

using namespace ggf8;

namespace {

std::unique_ptr<File> open_ok(const std::string& p) {
  std::unique_ptr<File> f;
  Status s = File::open(p, &f);
  EXPECT_TRUE(s.ok()) << s.message;
  return f;
}

}  // namespace

TEST(RoundTrip, FullSampleEveryTypeAndDtype) {
  samples::TempDir dir;
  std::string p = dir.file("full.f8");
  Status s = samples::write_full(p, {});
  ASSERT_TRUE(s.ok()) << s.message;
  auto f = open_ok(p);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->version_major(), 1);
  EXPECT_EQ(f->version_minor(), 0);
  EXPECT_EQ(f->alignment(), 256u);
  EXPECT_EQ(f->data_offset(), 256u);

  // Scalars, through the typed getters and Value.
  std::string str;
  EXPECT_TRUE(f->get_str(keys::kArchitecture, &str).ok());
  EXPECT_EQ(str, "llama");
  EXPECT_TRUE(f->get_str("test.utf8", &str).ok());
  EXPECT_EQ(str, "h\xC3\xA9llo \xE2\x9C\x93");
  uint64_t u = 0;
  EXPECT_TRUE(f->get_u64(keys::kBlockCount, &u).ok());
  EXPECT_EQ(u, 2u);
  EXPECT_TRUE(f->get_u64(keys::kContextLength, &u).ok());  // u32 widens
  EXPECT_EQ(u, 2048u);
  EXPECT_TRUE(f->get_u64("test.u8", &u).ok());
  EXPECT_EQ(u, 200u);
  EXPECT_TRUE(f->get_u64("test.u16", &u).ok());
  EXPECT_EQ(u, 65000u);
  int64_t i = 0;
  EXPECT_TRUE(f->get_i64("test.i8", &i).ok());
  EXPECT_EQ(i, -100);
  EXPECT_TRUE(f->get_i64("test.i16", &i).ok());
  EXPECT_EQ(i, -32000);
  EXPECT_TRUE(f->get_i64("test.i32", &i).ok());
  EXPECT_EQ(i, -7);
  EXPECT_TRUE(f->get_i64("test.i64", &i).ok());
  EXPECT_EQ(i, -(int64_t(1) << 40));
  EXPECT_EQ(f->get_u64("test.i32", &u).code, Code::BadType);  // negative into unsigned
  EXPECT_EQ(f->get_u64("no.such.key", &u).code, Code::NotFound);
  double d = 0;
  EXPECT_TRUE(f->get_f64(keys::kRmsEps, &d).ok());
  EXPECT_FLOAT_EQ(float(d), 1e-5f);
  EXPECT_TRUE(f->get_f64(keys::kRopeFreqBase, &d).ok());
  EXPECT_EQ(d, 10000.0);
  EXPECT_TRUE(f->get_f64(keys::kBlockCount, &d).ok());  // integers read as numbers
  EXPECT_EQ(d, 2.0);
  EXPECT_EQ(f->get_f64(keys::kArchitecture, &d).code, Code::BadType);
  bool b = false;
  EXPECT_TRUE(f->get_bool(keys::kTiedEmbeddings, &b).ok());
  EXPECT_TRUE(b);
  EXPECT_EQ(f->get_str(keys::kBlockCount, &str).code, Code::BadType);

  // Arrays.
  const Value* spm = f->find(keys::kTokSpModel);
  ASSERT_TRUE(spm);
  EXPECT_TRUE(spm->is_array());
  EXPECT_EQ(spm->elem_type(), VType::U8);
  EXPECT_EQ(spm->raw(), samples::pattern(5000, 99));
  const Value* toks = f->find(keys::kTokTokens);
  ASSERT_TRUE(toks && toks->strings());
  ASSERT_EQ(toks->array_size(), 1000u);
  EXPECT_EQ((*toks->strings())[999], "tok999");
  std::vector<int64_t> iv;
  ASSERT_TRUE(f->find(keys::kTokTypes)->to_i64_vector(&iv));
  ASSERT_EQ(iv.size(), 1000u);
  EXPECT_EQ(iv[0], 3);
  EXPECT_EQ(iv[5], 1);
  ASSERT_TRUE(f->find("test.i64s")->to_i64_vector(&iv));
  EXPECT_EQ(iv, (std::vector<int64_t>{-1, 0, int64_t(1) << 50}));
  ASSERT_TRUE(f->find("test.u32s")->to_i64_vector(&iv));
  EXPECT_EQ(iv, (std::vector<int64_t>{1, 2, 3}));
  std::vector<float> fv;
  ASSERT_TRUE(f->find(keys::kQuantStatSqnr)->to_f32_vector(&fv));
  EXPECT_EQ(fv, (std::vector<float>{31.5f, 24.25f, 28.0f}));
  EXPECT_FALSE(toks->to_f32_vector(&fv));
  EXPECT_EQ(f->metadata().size(), 25u);
  EXPECT_EQ(f->metadata()[0].key, keys::kArchitecture);  // insertion order kept

  // Tensors: every dtype, bytes identical, offsets aligned, checksums stored.
  uint32_t seed = 1;
  for (uint32_t k = 0; k < kDTypeCount; ++k) {
    DType dt = DType(k);
    const TensorInfo* t = f->tensor(std::string("all.") + dtype_name(dt));
    ASSERT_TRUE(t);
    EXPECT_EQ(t->dtype, dt);
    EXPECT_EQ(t->dims, (std::vector<uint64_t>{3, 5}));
    EXPECT_EQ(t->count(), 15u);
    EXPECT_EQ(t->nbytes, 15 * dtype_size(dt));
    EXPECT_EQ(t->offset % 256, 0u);
    auto want = samples::pattern(t->nbytes, seed++);
    EXPECT_EQ(std::memcmp(f->data(*t), want.data(), want.size()), 0);
    EXPECT_TRUE(t->has_checksum);
    EXPECT_EQ(t->checksum, xxh64(want.data(), want.size()));
  }
  const TensorInfo* a = f->tensor("blk.0.w");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->scale_kind, ScaleKind::Tensor);
  EXPECT_EQ(a->scale_name, "blk.0.w.scale");
  const TensorInfo* c = f->tensor("blk.2.w");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scale_kind, ScaleKind::Block);
  EXPECT_EQ(c->block_rows, 128u);
  EXPECT_EQ(c->block_cols, 128u);
  EXPECT_EQ(f->tensor("blk.2.w.scale")->dims, (std::vector<uint64_t>{3, 3}));
  auto cb = samples::pattern(300 * 260, seed + 1);  // streamed in 7777-byte pieces
  EXPECT_EQ(std::memcmp(f->data(*c), cb.data(), cb.size()), 0);
  EXPECT_EQ(c->checksum, xxh64(cb.data(), cb.size()));
  EXPECT_EQ(f->tensor("four.d")->dims.size(), 4u);
  EXPECT_EQ(f->tensor("nope"), nullptr);
  EXPECT_EQ(f->tensors().size(), 15u);
  EXPECT_EQ(f->tensors()[0].name, "all.f32");  // directory order = write order

  uint64_t last_done = 0, calls = 0;
  struct P { uint64_t* last; uint64_t* calls; } pr{&last_done, &calls};
  Status v = f->verify(
      [](uint64_t done, uint64_t total, void* u) {
        auto* p = static_cast<P*>(u);
        EXPECT_LE(done, total);
        *p->last = done;
        ++*p->calls;
      },
      &pr);
  EXPECT_TRUE(v.ok()) << v.message;
  EXPECT_GT(calls, 0u);
}

TEST(RoundTrip, AlignmentVariants) {
  for (uint64_t al : {8ull, 64ull, 256ull, 4096ull, 65536ull}) {
    SCOPED_TRACE(al);
    samples::TempDir dir;
    std::string p = dir.file("a.f8");
    ASSERT_TRUE(samples::write_full(p, {.alignment = al}).ok());
    auto f = open_ok(p);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->alignment(), al);
    EXPECT_EQ(f->data_offset(), std::max<uint64_t>(128, al));
    for (const TensorInfo& t : f->tensors()) EXPECT_EQ(t.offset % al, 0u) << t.name;
    EXPECT_TRUE(f->verify().ok());
  }
}

TEST(RoundTrip, BadAlignmentRejectedByWriter) {
  samples::TempDir dir;
  for (uint64_t al : {0ull, 3ull, 4ull, 131072ull, 1ull << 30}) {
    std::unique_ptr<Writer> w;
    WriterOptions o;
    o.alignment = al;
    EXPECT_EQ(Writer::create(dir.file("x.f8"), o, &w).code, Code::BadAlignment) << al;
  }
}

TEST(RoundTrip, NoChecksums) {
  samples::TempDir dir;
  std::string p = dir.file("n.f8");
  ASSERT_TRUE(samples::write_full(p, {.checksums = false}).ok());
  auto f = open_ok(p);
  ASSERT_TRUE(f);
  for (const TensorInfo& t : f->tensors()) {
    EXPECT_FALSE(t.has_checksum);
    EXPECT_EQ(t.checksum, 0u);
  }
  EXPECT_TRUE(f->verify().ok());
}

TEST(RoundTrip, EmptyFileHasNoTensorsOrMetadata) {
  samples::TempDir dir;
  std::string p = dir.file("e.f8");
  std::unique_ptr<Writer> w;
  ASSERT_TRUE(Writer::create(p, {}, &w).ok());
  ASSERT_TRUE(w->finish().ok());
  auto f = open_ok(p);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->tensors().size(), 0u);
  EXPECT_EQ(f->metadata().size(), 0u);
  EXPECT_EQ(f->file_size(), 256u);
}

TEST(Verify, CorruptDataByteNamesTheTensor) {
  samples::TempDir dir;
  std::string p = dir.file("c.f8");
  ASSERT_TRUE(samples::write_full(p, {}).ok());
  uint64_t off;
  {
    auto f = open_ok(p);
    ASSERT_TRUE(f);
    off = f->tensor("blk.1.w")->offset + 100;
  }
  int fd = ::open(p.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  uint8_t byte;
  ASSERT_EQ(::pread(fd, &byte, 1, off_t(off)), 1);
  byte ^= 0x10;
  ASSERT_EQ(::pwrite(fd, &byte, 1, off_t(off)), 1);
  ::close(fd);
  auto f = open_ok(p);  // structure is fine: open does not read tensor bytes
  ASSERT_TRUE(f);
  Status s = f->verify();
  EXPECT_EQ(s.code, Code::Checksum);
  EXPECT_NE(s.message.find("'blk.1.w'"), std::string::npos) << s.message;
  EXPECT_EQ(s.message.find("'blk.0.w'"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("1 tensor(s)"), std::string::npos) << s.message;
}

TEST(Reader, OpenErrors) {
  samples::TempDir dir;
  std::unique_ptr<File> f;
  Status s = File::open(dir.file("missing.f8"), &f);
  EXPECT_EQ(s.code, Code::Io);
  EXPECT_NE(s.message.find("missing.f8"), std::string::npos);
  EXPECT_NE(s.message.find("No such file"), std::string::npos) << s.message;
  s = File::open(dir.path(), &f);
  EXPECT_EQ(s.code, Code::Io);
  int fd = ::open(dir.file("empty.f8").c_str(), O_CREAT | O_WRONLY, 0644);
  ::close(fd);
  s = File::open(dir.file("empty.f8"), &f);
  EXPECT_EQ(s.code, Code::Truncated) << s.message;
  EXPECT_EQ(f, nullptr);
}

// MoE expert tensors: a stack [experts, rows, cols] with one set of channel
// or block scales per matrix needs major 2; a file without one stays 1.0.
TEST(RoundTrip, StackedScalesWriteMajor2) {
  samples::TempDir dir;
  const std::string p = dir.file("moe.f8");
  std::unique_ptr<Writer> w;
  ASSERT_TRUE(Writer::create(p, {}, &w).ok());
  std::vector<uint8_t> q(3 * 4 * 8, 0x38);  // E4M3 1.0
  std::vector<float> ch(3 * 4, 2.0f), bl(3 * 2 * 1, 0.5f);
  ASSERT_TRUE(w->add_tensor({"e.ch", DType::E4M3, {3, 4, 8}, ScaleKind::Channel, 0, 0, "e.ch.scale"}, q.data(), q.size()).ok());
  ASSERT_TRUE(w->add_tensor({"e.ch.scale", DType::F32, {3, 4}}, ch.data(), ch.size() * 4).ok());
  ASSERT_TRUE(w->add_tensor({"e.bl", DType::E4M3, {3, 4, 8}, ScaleKind::Block, 2, 8, "e.bl.scale"}, q.data(), q.size()).ok());
  ASSERT_TRUE(w->add_tensor({"e.bl.scale", DType::F32, {3, 2, 1}}, bl.data(), bl.size() * 4).ok());
  ASSERT_TRUE(w->finish().ok());
  auto f = open_ok(p);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->version_major(), 2);
  ASSERT_NE(f->tensor("e.bl"), nullptr);
  EXPECT_EQ(f->tensor("e.bl")->block_rows, 2u);
  // The per-matrix shapes are enforced: [3] is not [3, 4].
  std::unique_ptr<Writer> w2;
  ASSERT_TRUE(Writer::create(dir.file("bad.f8"), {}, &w2).ok());
  ASSERT_TRUE(w2->add_tensor({"e", DType::E4M3, {3, 4, 8}, ScaleKind::Channel, 0, 0, "e.s"}, q.data(), q.size()).ok());
  ASSERT_TRUE(w2->add_tensor({"e.s", DType::F32, {3}}, ch.data(), 12).ok());
  Status st = w2->finish();
  EXPECT_EQ(st.code, Code::BadScale) << st.message;
  EXPECT_NE(st.message.find("[3,4]"), std::string::npos) << st.message;
  // A major-1 file cannot carry them: rewrite the header's major and reopen.
  {
    int fd = ::open(p.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    const uint8_t one[2] = {1, 0};
    ASSERT_EQ(::pwrite(fd, one, 2, 4), 2);
    ::close(fd);
  }
  std::unique_ptr<File> f1;
  st = File::open(p, &f1);
  EXPECT_EQ(st.code, Code::BadScale) << st.message;
  EXPECT_NE(st.message.find("need format major 2"), std::string::npos) << st.message;
}
