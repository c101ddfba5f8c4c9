// Safetensors reader: a valid file parses; every malformed header or layout
// is rejected with an error naming the file and (where there is one) the tensor.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "convert/safetensors.h"
#include "st_builder.h"

using namespace f8conv;
using namespace f8test;
namespace fs = std::filesystem;

namespace {

StEntry bytes_tensor(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape, size_t n) {
  StEntry e{name, dtype, std::move(shape), std::vector<uint8_t>(n)};
  for (size_t i = 0; i < n; ++i) e.bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  return e;
}

ggf8::Status parse(const std::vector<uint8_t>& img, std::unique_ptr<StFile>* f = nullptr) {
  std::unique_ptr<StFile> tmp;
  return StFile::parse(img.data(), img.size(), "t.safetensors", f ? f : &tmp);
}

void expect_reject(const std::vector<uint8_t>& img, ggf8::Code code, const std::string& needle) {
  std::unique_ptr<StFile> f;
  ggf8::Status s = parse(img, &f);
  ASSERT_FALSE(s.ok()) << "accepted; expected " << needle;
  EXPECT_EQ(s.code, code) << s.message;
  EXPECT_NE(s.message.find("t.safetensors"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find(needle), std::string::npos) << s.message;
  EXPECT_EQ(s.message.find('\n'), std::string::npos) << "one line: " << s.message;
}

std::string hdr(const std::string& tensors) { return "{" + tensors + "}"; }

}  // namespace

TEST(Safetensors, ParsesValidFile) {
  auto img = st_image({bytes_tensor("a", "F32", {2, 3}, 24), bytes_tensor("b", "BF16", {4}, 8),
                       bytes_tensor("s", "F32", {}, 4), bytes_tensor("z", "F16", {0, 5}, 0)},
                      "{\"format\":\"pt\"}");
  std::unique_ptr<StFile> f;
  ASSERT_TRUE(parse(img, &f).ok());
  ASSERT_EQ(f->tensors().size(), 4u);
  const StTensor* a = f->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, StDType::F32);
  EXPECT_EQ(a->shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(a->count(), 6u);
  EXPECT_EQ(a->data[0], 1);
  EXPECT_EQ(f->find("s")->count(), 1u);  // scalar
  EXPECT_EQ(f->find("z")->nbytes, 0u);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->find("missing"), nullptr);
}

TEST(Safetensors, RejectsTooSmallAndBadLength) {
  expect_reject({1, 2, 3}, ggf8::Code::Truncated, "smaller than the 8-byte");
  std::vector<uint8_t> big(16, 0);
  big[0] = 0x01;
  big[4] = 0x10;  // > 100 MB
  expect_reject(big, ggf8::Code::BadCount, "100000000");
  auto v = raw_header_image("{\"a\":1}", {});
  v[0] = 200;  // claims 200 header bytes; the file has 7
  expect_reject(v, ggf8::Code::Truncated, "past the end");
}

TEST(Safetensors, RejectsBadJson) {
  expect_reject(raw_header_image("[1,2]", {}), ggf8::Code::BadString, "does not start with '{'");
  expect_reject(raw_header_image("{\"a\":", {}), ggf8::Code::BadString, "invalid JSON");
  expect_reject(raw_header_image(std::string("{\"\xff\xfe\":{}}"), {}), ggf8::Code::BadString, "invalid JSON");
  // Duplicate keys at the top level and nested.
  std::string t = "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}";
  expect_reject(raw_header_image(hdr(t + "," + t), {7}), ggf8::Code::BadString, "duplicate key \"a\"");
  expect_reject(raw_header_image(hdr("\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}," + t), {7}),
                ggf8::Code::BadString, "duplicate key \"k\"");
  expect_reject(raw_header_image(hdr("\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}"), {7}),
                ggf8::Code::BadString, "duplicate key \"dtype\"");
  expect_reject(raw_header_image(hdr("\"__metadata__\":{\"k\":1}"), {}), ggf8::Code::BadType, "__metadata__");
}

TEST(Safetensors, RejectsBadEntries) {
  auto one = [](const std::string& entry, std::vector<uint8_t> buf) {
    return raw_header_image(hdr("\"w\":" + entry), buf);
  };
  expect_reject(one("{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}", {0}), ggf8::Code::BadType,
                "tensor \"w\": unknown dtype \"Q4\"");
  expect_reject(one("{\"shape\":[1],\"data_offsets\":[0,1]}", {0}), ggf8::Code::BadType, "tensor \"w\"");
  expect_reject(one("{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}", {0}), ggf8::Code::BadShape,
                "non-negative");
  expect_reject(one("{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]}", {0}), ggf8::Code::BadShape,
                "tensor \"w\"");
  expect_reject(one("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}", {0}), ggf8::Code::BadOffset, "[begin, end]");
  expect_reject(one("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,0]}", {0}), ggf8::Code::BadOffset, "< begin");
  expect_reject(one("{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}", {0, 0}), ggf8::Code::Truncated,
                "past the 2-byte data buffer");
  expect_reject(one("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}", {0, 0, 0, 0}),
                ggf8::Code::BadShape, "byte span 4 != 2 elements x 4 bytes");
  // 2^32 * 2^32 elements: the product overflows.
  expect_reject(one("{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,1]}", {0}),
                ggf8::Code::Overflow, "overflows");
  // 2^62 elements x 8 bytes overflows only at the byte count.
  expect_reject(one("{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,1]}", {0}),
                ggf8::Code::Overflow, "overflows");
}

TEST(Safetensors, RejectsHolesOverlapsAndTrailingBytes) {
  auto ent = [](const char* n, uint64_t b, uint64_t e) {
    return std::string("\"") + n + "\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(e - b) +
           "],\"data_offsets\":[" + std::to_string(b) + "," + std::to_string(e) + "]}";
  };
  std::vector<uint8_t> buf(8, 0);
  expect_reject(raw_header_image(hdr(ent("a", 0, 4) + "," + ent("b", 5, 8)), buf), ggf8::Code::BadOffset,
                "tensor \"b\": data begins at 5 but the previous tensor ends at 4 (hole)");
  expect_reject(raw_header_image(hdr(ent("a", 0, 5) + "," + ent("b", 4, 8)), buf), ggf8::Code::BadOffset, "(overlap)");
  expect_reject(raw_header_image(hdr(ent("a", 1, 8)), buf), ggf8::Code::BadOffset, "tensor \"a\": data begins at 1");
  expect_reject(raw_header_image(hdr(ent("a", 0, 6)), buf), ggf8::Code::BadOffset, "trailing bytes");
  // Out-of-order entries that still tile the buffer are fine.
  std::unique_ptr<StFile> f;
  EXPECT_TRUE(parse(raw_header_image(hdr(ent("b", 4, 8) + "," + ent("a", 0, 4)), buf), &f).ok());
}

TEST(Safetensors, EveryTruncationOfAValidFileIsRejected) {
  auto img = st_image({bytes_tensor("a", "F32", {2, 3}, 24), bytes_tensor("b", "BF16", {4}, 8)});
  for (size_t n = 0; n < img.size(); ++n) {
    std::vector<uint8_t> cut(img.begin(), img.begin() + static_cast<long>(n));
    std::unique_ptr<StFile> f;
    EXPECT_FALSE(StFile::parse(cut.data(), cut.size(), "cut", &f).ok()) << "length " << n;
  }
}

TEST(Safetensors, OpenMapsAFileAndReportsMissingFiles) {
  std::string dir = fs::temp_directory_path() / ("f8st_" + std::to_string(getpid()));
  fs::create_directories(dir);
  write_file(dir + "/x.safetensors", st_image({bytes_tensor("a", "U8", {3}, 3)}));
  std::unique_ptr<StFile> f;
  ASSERT_TRUE(StFile::open(dir + "/x.safetensors", &f).ok());
  EXPECT_EQ(f->find("a")->data[2], 15);
  ggf8::Status s = StFile::open(dir + "/nope.safetensors", &f);
  EXPECT_EQ(s.code, ggf8::Code::NotFound);
  EXPECT_NE(s.message.find("nope.safetensors"), std::string::npos);
  write_file(dir + "/empty.safetensors", std::string());
  s = StFile::open(dir + "/empty.safetensors", &f);
  EXPECT_EQ(s.code, ggf8::Code::Truncated);
  fs::remove_all(dir);
}

class Sharded : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("f8shard_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    write_file(dir + "/model-00001-of-00002.safetensors",
               st_image({bytes_tensor("a", "U8", {3}, 3), bytes_tensor("b", "U8", {2}, 2)}));
    write_file(dir + "/model-00002-of-00002.safetensors", st_image({bytes_tensor("c", "U8", {1}, 1)}));
  }
  void TearDown() override { fs::remove_all(dir); }
  void index(const std::string& wm) {
    write_file(dir + "/model.safetensors.index.json", "{\"metadata\":{\"total_size\":6},\"weight_map\":{" + wm + "}}");
  }
  ggf8::Status open() {
    std::unique_ptr<Checkpoint> cp;
    return Checkpoint::open_dir(dir, &cp);
  }
  std::string dir;
  const std::string s1 = "\"model-00001-of-00002.safetensors\"", s2 = "\"model-00002-of-00002.safetensors\"";
};

TEST_F(Sharded, ValidIndexOpensAllShardsInOrder) {
  index("\"c\":" + s2 + ",\"a\":" + s1 + ",\"b\":" + s1);
  std::unique_ptr<Checkpoint> cp;
  ASSERT_TRUE(Checkpoint::open_dir(dir, &cp).ok());
  ASSERT_EQ(cp->entries().size(), 3u);
  EXPECT_EQ(cp->entries()[0].tensor->name, "a");
  EXPECT_EQ(cp->entries()[2].tensor->name, "c");
  EXPECT_EQ(cp->total_bytes(), 6u);
  EXPECT_NE(cp->find("b"), nullptr);
}

TEST_F(Sharded, MissingShardFile) {
  index("\"a\":" + s1 + ",\"b\":" + s1 + ",\"c\":\"model-00003-of-00002.safetensors\"");
  ggf8::Status s = open();
  EXPECT_EQ(s.code, ggf8::Code::NotFound);
  EXPECT_NE(s.message.find("model-00003-of-00002.safetensors"), std::string::npos) << s.message;
}

TEST_F(Sharded, TensorListedButMissing) {
  index("\"a\":" + s1 + ",\"b\":" + s1 + ",\"c\":" + s2 + ",\"d\":" + s2);
  ggf8::Status s = open();
  EXPECT_EQ(s.code, ggf8::Code::NotFound);
  EXPECT_NE(s.message.find("\"d\""), std::string::npos) << s.message;
}

TEST_F(Sharded, TensorNotListedOrListedUnderAnotherShard) {
  index("\"a\":" + s1 + ",\"c\":" + s2);
  ggf8::Status s = open();
  EXPECT_EQ(s.code, ggf8::Code::NotFound);
  EXPECT_NE(s.message.find("\"b\" is not listed"), std::string::npos) << s.message;
  index("\"a\":" + s1 + ",\"b\":" + s2 + ",\"c\":" + s2);
  s = open();
  EXPECT_EQ(s.code, ggf8::Code::Duplicate);
  EXPECT_NE(s.message.find("\"b\""), std::string::npos) << s.message;
}

TEST_F(Sharded, TensorInTwoShards) {
  write_file(dir + "/model-00002-of-00002.safetensors",
             st_image({bytes_tensor("c", "U8", {1}, 1), bytes_tensor("a", "U8", {1}, 1)}));
  index("\"a\":" + s1 + ",\"b\":" + s1 + ",\"c\":" + s2);
  ggf8::Status s = open();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message.find("\"a\""), std::string::npos) << s.message;
}

TEST_F(Sharded, PathsOutsideTheDirectoryAndBadJson) {
  index("\"a\":\"../evil.safetensors\"");
  ggf8::Status s = open();
  EXPECT_EQ(s.code, ggf8::Code::InvalidArgument);
  EXPECT_NE(s.message.find("not a plain file name"), std::string::npos) << s.message;
  write_file(dir + "/model.safetensors.index.json", "{\"weight_map\":{\"a\":\"x\",\"a\":\"y\"}}");
  s = open();
  EXPECT_NE(s.message.find("duplicate key \"a\""), std::string::npos) << s.message;
  write_file(dir + "/model.safetensors.index.json", "{\"metadata\":{}}");
  s = open();
  EXPECT_NE(s.message.find("weight_map"), std::string::npos) << s.message;
}

TEST(Checkpoint, EmptyDirectoryNamesWhatIsMissing) {
  std::string dir = fs::temp_directory_path() / ("f8empty_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::unique_ptr<Checkpoint> cp;
  ggf8::Status s = Checkpoint::open_dir(dir, &cp);
  EXPECT_EQ(s.code, ggf8::Code::NotFound);
  EXPECT_NE(s.message.find("no model.safetensors"), std::string::npos);
  fs::remove_all(dir);
}
