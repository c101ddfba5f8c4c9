// test_malformed.cpp — the malformed-file corpus: one mutation of a small
// valid image per fault class, each of which must be rejected by File::parse
// with its SPECIFIC code and a message naming the field; plus truncation at
// every byte and single-byte corruption of the header and trailer (no
// crash, and every truncation rejected). Runs under ASan+UBSan too
// (scripts/test_sanitize.sh).
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ggf8/ggf8.h"
#include "raw_image.h"
#include "sample_files.h"

using namespace ggf8;
using rawimg::Image;
using rawimg::Layout;

namespace {

struct Fault {
  const char* name;
  Code code;
  const char* needle;  // must appear in the message (the field)
  // Builds the faulty image: either mutates the model (before encoding) or
  // patches bytes after encoding.
  std::function<void(Image&)> model;
  std::function<void(std::vector<uint8_t>&, const Layout&)> bytes;
};

constexpr uint64_t kMax = ~uint64_t(0);

// Offsets inside directory entry of tensor `i` of the base image, after the
// name: dtype at +4+len, ndim at +8+len, dims at +12+len.
size_t tfield(const Image& im, const Layout& l, size_t i, size_t after_name) {
  return l.tensor_at[i] + 4 + im.tensors[i].name.size() + after_name;
}

std::vector<Fault> faults() {
  using V = std::vector<uint8_t>;
  const Image base = rawimg::base_image();
  auto hdr = [](size_t off, uint64_t v, int width = 8) {
    return [=](V& b, const Layout&) {
      if (width == 8) rawimg::patch64(b, off, v);
      else if (width == 4) rawimg::patch32(b, off, uint32_t(v));
      else rawimg::patch16(b, off, uint16_t(v));
    };
  };
  auto t0 = [](std::function<void(rawimg::Tensor&)> f) {
    return [=](Image& im) { f(im.tensors[0]); };
  };
  std::vector<Fault> F = {
      // ---- header ----
      {"bad magic", Code::BadMagic, "magic", nullptr, [](V& b, const Layout&) { b[0] = 'X'; }},
      {"gguf magic", Code::BadMagic, "magic", nullptr,
       [](V& b, const Layout&) { std::memcpy(b.data(), "GGUF", 4); }},
      {"major 3", Code::BadVersion, "version_major", nullptr, hdr(rawimg::kMajor, 3, 2)},
      {"major 0", Code::BadVersion, "version_major", nullptr, hdr(rawimg::kMajor, 0, 2)},
      {"big-endian marker", Code::BadEndian, "endian", nullptr, hdr(rawimg::kEndian, 0x04030201u, 4)},
      {"alignment 0", Code::BadAlignment, "alignment", nullptr, hdr(rawimg::kAlign, 0)},
      {"alignment 3", Code::BadAlignment, "alignment", nullptr, hdr(rawimg::kAlign, 3)},
      {"alignment 4 (< 8)", Code::BadAlignment, "alignment", nullptr, hdr(rawimg::kAlign, 4)},
      {"alignment 2^30", Code::BadAlignment, "alignment", nullptr, hdr(rawimg::kAlign, 1ull << 30)},
      {"alignment 2^64-1", Code::BadAlignment, "alignment", nullptr, hdr(rawimg::kAlign, kMax)},
      {"file_size larger than file", Code::Truncated, "file_size", nullptr,
       [](V& b, const Layout&) { rawimg::patch64(b, rawimg::kFileSize, b.size() + 1); }},
      {"trailing bytes", Code::BadOffset, "file_size", nullptr,
       [](V& b, const Layout&) { b.push_back(0); }},
      {"file shorter than header", Code::Truncated, "header", nullptr,
       [](V& b, const Layout&) { b.resize(100); }},
      {"data_offset misaligned", Code::BadAlignment, "data_offset", nullptr, hdr(rawimg::kDataOff, 136)},
      {"data_offset inside header", Code::BadOffset, "data_offset", nullptr, hdr(rawimg::kDataOff, 64)},
      {"data_offset past EOF", Code::BadOffset, "data_offset", nullptr, hdr(rawimg::kDataOff, 1ull << 40)},
      {"data_size wraps", Code::Overflow, "data_size", nullptr, hdr(rawimg::kDataSize, kMax)},
      {"data section past EOF", Code::BadOffset, "data_size", nullptr, hdr(rawimg::kDataSize, 1ull << 20)},
      {"metadata overlaps data", Code::BadOffset, "metadata_offset", nullptr,
       [](V& b, const Layout& l) { rawimg::patch64(b, rawimg::kMetaOff, l.meta_off - 8); }},
      {"metadata_size wraps", Code::Overflow, "metadata_size", nullptr, hdr(rawimg::kMetaSize, kMax)},
      {"metadata past EOF", Code::BadOffset, "metadata_size", nullptr, hdr(rawimg::kMetaSize, 1ull << 20)},
      {"directory_offset past EOF", Code::BadOffset, "directory_offset", nullptr,
       hdr(rawimg::kDirOff, 1ull << 40)},
      {"directory_size wraps", Code::Overflow, "directory_size", nullptr, hdr(rawimg::kDirSize, kMax)},
      {"directory short of EOF", Code::BadOffset, "directory_size", nullptr,
       [](V& b, const Layout&) {
         rawimg::patch64(b, rawimg::kDirSize, rawimg::read64(b, rawimg::kDirSize) - 1);
       }},
      {"metadata_count 2^64-1", Code::BadCount, "metadata_count", nullptr, hdr(rawimg::kMetaCount, kMax)},
      {"metadata_count too small", Code::BadCount, "metadata_count", nullptr, hdr(rawimg::kMetaCount, 2)},
      {"tensor_count 2^64-1", Code::BadCount, "tensor_count", nullptr, hdr(rawimg::kTensorCount, kMax)},
      {"tensor_count 2^32", Code::BadCount, "tensor_count", nullptr, hdr(rawimg::kTensorCount, 1ull << 32)},
      {"tensor_count too small", Code::BadCount, "tensor_count", nullptr, hdr(rawimg::kTensorCount, 2)},
      {"metadata_count too large (runs out)", Code::Truncated, "metadata[3]", nullptr,
       hdr(rawimg::kMetaCount, 4)},
      // ---- metadata ----
      {"key length 0", Code::BadString, "metadata[0] key", [](Image& im) { im.kvs[0].key = ""; }, nullptr},
      {"key length 256", Code::BadString, "metadata[0] key",
       [](Image& im) { im.kvs[0].key = std::string(256, 'k'); }, nullptr},
      {"key length 2^32-1", Code::BadString, "metadata[0] key length", nullptr,
       [](V& b, const Layout& l) { rawimg::patch32(b, l.kv_at[0], 0xFFFFFFFFu); }},
      {"key past end of section", Code::BadString, "metadata[2] key length", nullptr,
       [](V& b, const Layout& l) { rawimg::patch32(b, l.kv_at[2], 250); }},
      {"key not UTF-8", Code::BadString, "metadata[1] key",
       [](Image& im) { im.kvs[1].key = "llm.\xFF"; }, nullptr},
      {"duplicate key", Code::Duplicate, "general.name",
       [](Image& im) { im.kvs[1].key = "general.name"; }, nullptr},
      {"unknown value type 13", Code::BadType, "metadata 'llm.block_count' type",
       [](Image& im) { im.kvs[1].vtype = 13; }, nullptr},
      {"value type 2^32-1", Code::BadType, "type", [](Image& im) { im.kvs[1].vtype = 0xFFFFFFFFu; },
       nullptr},
      {"nested array", Code::BadType, "element type",
       [](Image& im) {
         im.kvs[2].payload.clear();
         rawimg::put32(im.kvs[2].payload, 12);
         rawimg::put64(im.kvs[2].payload, 0);
       },
       nullptr},
      {"array element type unknown", Code::BadType, "element type",
       [](Image& im) { rawimg::patch32(im.kvs[2].payload, 0, 99); }, nullptr},
      {"array count 2^64-1", Code::BadCount, "tokenizer.tokens' count",
       [](Image& im) { rawimg::patch64(im.kvs[2].payload, 4, kMax); }, nullptr},
      {"u32 array count past end", Code::BadCount, "count",
       [](Image& im) {
         im.kvs[2].payload.clear();
         rawimg::put32(im.kvs[2].payload, 4);
         rawimg::put64(im.kvs[2].payload, 1ull << 61);  // x4 bytes wraps to 0
       },
       nullptr},
      {"string length 2^64-1", Code::BadString, "metadata 'general.name' length",
       [](Image& im) { rawimg::patch64(im.kvs[0].payload, 0, kMax); }, nullptr},
      {"string length > 1 GiB", Code::BadString, "1 GiB",
       [](Image& im) { rawimg::patch64(im.kvs[0].payload, 0, (1ull << 30) + 1); }, nullptr},
      {"string past end of section", Code::BadString, "general.name' length",
       [](Image& im) { rawimg::patch64(im.kvs[0].payload, 0, 5000); }, nullptr},
      {"array string past end", Code::BadString, "tokenizer.tokens'[2] length",
       [](Image& im) { rawimg::patch64(im.kvs[2].payload, 4 + 8 + 9 + 9, 4000); }, nullptr},
      {"bool not 0/1", Code::BadType, "bool",
       [](Image& im) { im.kvs[1].vtype = 10; im.kvs[1].payload = {2}; }, nullptr},
      {"scalar past end", Code::Truncated, "llm.block_count",
       [](Image& im) { im.kvs[1].vtype = 6; im.kvs.resize(2); }, nullptr},
      // ---- tensor directory ----
      {"tensor name empty", Code::BadString, "tensor[2] name",
       [](Image& im) { im.tensors[2].name = ""; }, nullptr},
      {"tensor name 256 bytes", Code::BadString, "tensor[2] name",
       [](Image& im) { im.tensors[2].name = std::string(256, 'n'); }, nullptr},
      {"tensor name overlong UTF-8", Code::BadString, "tensor[2] name",
       [](Image& im) { im.tensors[2].name = "n\xC0\x80"; }, nullptr},
      {"tensor name surrogate", Code::BadString, "tensor[2] name",
       [](Image& im) { im.tensors[2].name = "n\xED\xA0\x80"; }, nullptr},
      {"tensor name truncated UTF-8", Code::BadString, "tensor[2] name",
       [](Image& im) { im.tensors[2].name = "n\xE2\x9C"; }, nullptr},
      {"duplicate tensor name", Code::Duplicate, "duplicate tensor name 'w'",
       [](Image& im) { im.tensors[2].name = "w"; }, nullptr},
      {"unknown dtype 8", Code::BadType, "tensor 'norm' dtype", [](Image& im) { im.tensors[2].dtype = 8; },
       nullptr},
      {"dtype 2^32-1", Code::BadType, "dtype", [](Image& im) { im.tensors[2].dtype = 0xFFFFFFFFu; }, nullptr},
      {"ndim 0", Code::BadShape, "tensor 'norm' ndim", [](Image& im) { im.tensors[2].ndim_override = 0; },
       nullptr},
      {"ndim 5", Code::BadShape, "ndim",
       [](Image& im) { im.tensors[2].dims = {1, 1, 1, 1, 8}; }, nullptr},
      {"ndim 2^32-1", Code::BadShape, "ndim",
       [](Image& im) { im.tensors[2].ndim_override = 0xFFFFFFFFll; }, nullptr},
      {"zero dim", Code::BadShape, "dims[1]", [](Image& im) { im.tensors[0].dims = {4, 0}; }, nullptr},
      {"dims product overflows to 0", Code::BadShape, "dims[1]",
       [](Image& im) { im.tensors[2].dims = {1ull << 32, 1ull << 32}; }, nullptr},
      {"dims product overflows to small", Code::BadShape, "dims[1]",
       [](Image& im) { im.tensors[2].dims = {(1ull << 63) + 1, 2}; }, nullptr},  // = 2 mod 2^64
      {"dims x dtype overflows", Code::BadShape, "dims",
       [](Image& im) { im.tensors[2].dims = {1ull << 62}; im.tensors[2].nbytes = 0; }, nullptr},
      {"nbytes mismatch", Code::BadShape, "tensor 'norm' nbytes",
       [](Image& im) { im.tensors[2].nbytes = 28; }, nullptr},
      {"offset past EOF", Code::BadOffset, "tensor 'norm' offset",
       [](Image& im) { im.tensors[2].offset = 1ull << 40; }, nullptr},
      {"offset before data section", Code::BadOffset, "tensor 'w' offset",
       t0([](rawimg::Tensor& t) { t.absolute = true; t.offset = 0; }), nullptr},
      {"offset misaligned", Code::BadAlignment, "tensor 'norm' offset",
       [](Image& im) { im.tensors[2].offset = 136; }, nullptr},
      {"offset + nbytes wraps", Code::Overflow, "tensor 'norm' offset",
       [](Image& im) {
         auto& t = im.tensors[2];
         t.absolute = true; t.offset = kMax - 63; t.dims = {32}; t.nbytes = 128;
       },
       nullptr},
      {"data ends past section", Code::BadOffset, "tensor 'norm' offset",
       [](Image& im) { im.tensors[2].offset = 192; }, nullptr},
      {"overlapping tensors", Code::BadOffset, "overlap",
       [](Image& im) { im.tensors[2].offset = 0; }, nullptr},
      {"unknown scale kind 4", Code::BadScale, "tensor 'w' scale_kind",
       t0([](rawimg::Tensor& t) { t.scale_kind = 4; }), nullptr},
      {"missing scale tensor", Code::BadScale, "'w.scale' is not in the file",
       [](Image& im) { im.tensors[1].name = "other"; }, nullptr},
      {"scale tensor wrong dtype", Code::BadScale, "must be f32",
       [](Image& im) { im.tensors[1].dtype = 6; im.tensors[1].nbytes = 4; }, nullptr},
      {"tensor scale shape not [1]", Code::BadScale, "shape [1]",
       t0([](rawimg::Tensor& t) { t.scale_kind = 1; }), nullptr},
      {"channel scale shape not [rows]", Code::BadScale, "shape [4]",
       [](Image& im) { im.tensors[1].dims = {8}; im.tensors[1].nbytes = 32; im.tensors[1].offset = 64; },
       nullptr},
      {"block scale shape wrong", Code::BadScale, "shape [2,1]",
       t0([](rawimg::Tensor& t) { t.scale_kind = 3; t.block_rows = 2; t.block_cols = 8; }), nullptr},
      {"block scale on 1-D tensor", Code::BadScale, "2-D",
       [](Image& im) {
         im.tensors[2].scale_kind = 3; im.tensors[2].block_rows = 1; im.tensors[2].block_cols = 1;
         im.tensors[2].scale_name = "w.scale";
       },
       nullptr},
      {"block shape zero", Code::BadScale, "block_rows",
       t0([](rawimg::Tensor& t) { t.scale_kind = 3; t.block_rows = 0; t.block_cols = 8; }), nullptr},
      {"block shape set for channel", Code::BadScale, "block_rows",
       t0([](rawimg::Tensor& t) { t.block_rows = 128; }), nullptr},
      {"scale name with kind none", Code::BadScale, "scale_name",
       t0([](rawimg::Tensor& t) { t.scale_kind = 0; }), nullptr},
      {"no scale name for kind channel", Code::BadScale, "scale_name",
       t0([](rawimg::Tensor& t) { t.scale_name = ""; }), nullptr},
      {"tensor is its own scale", Code::BadScale, "own scale",
       [](Image& im) {
         im.tensors[1].scale_kind = 1;
         im.tensors[1].scale_name = "w.scale";
         im.tensors[1].dims = {1}; im.tensors[1].nbytes = 4;
         im.tensors[0].scale_kind = 1;
       },
       nullptr},
      {"unknown tensor flag bits", Code::BadType, "flags", [](Image& im) { im.tensors[2].flags = 6; },
       nullptr},
      {"directory entry cut short", Code::Truncated, "tensor 'norm' checksum", nullptr,
       [](V& b, const Layout&) {
         b.resize(b.size() - 4);
         rawimg::patch64(b, rawimg::kFileSize, b.size());
         rawimg::patch64(b, rawimg::kDirSize, rawimg::read64(b, rawimg::kDirSize) - 4);
       }},
      {"scale name not UTF-8", Code::BadString, "scale_name",
       t0([](rawimg::Tensor& t) { t.scale_name = "w.\x80"; }), nullptr},
  };
  (void)base;
  (void)tfield;
  return F;
}

std::vector<uint8_t> build(const Fault& f) {
  Image im = rawimg::base_image();
  if (f.model) f.model(im);
  Layout l;
  std::vector<uint8_t> b = rawimg::encode(im, &l);
  if (f.bytes) f.bytes(b, l);
  return b;
}

}  // namespace

TEST(Malformed, BaseImageIsValid) {
  auto b = rawimg::encode(rawimg::base_image());
  std::unique_ptr<File> f;
  Status s = File::parse(b.data(), b.size(), &f, "base.f8");
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->metadata().size(), 3u);
  EXPECT_EQ(f->tensor("w")->scale_kind, ScaleKind::Channel);
}

TEST(Malformed, EachFaultClassHasItsOwnError) {
  auto all = faults();
  EXPECT_GE(all.size(), 40u);
  for (const Fault& f : all) {
    SCOPED_TRACE(f.name);
    auto b = build(f);
    std::unique_ptr<File> file;
    Status s = File::parse(b.data(), b.size(), &file, "bad.f8");
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(code_name(s.code), std::string(code_name(f.code))) << s.message;
    EXPECT_NE(s.message.find(f.needle), std::string::npos)
        << "message should mention '" << f.needle << "': " << s.message;
    EXPECT_EQ(s.message.rfind("bad.f8: ", 0), 0u) << s.message;
    EXPECT_NE(s.message.find(" at byte "), std::string::npos) << s.message;
    EXPECT_EQ(file, nullptr);
  }
}

// Every prefix of a valid file is rejected (the header's file_size no longer
// matches) — and with the header patched to claim the shorter size, so the
// parser walks into the cut trailer, still rejected and never crashes.
TEST(Malformed, TruncationAtEveryByte) {
  samples::TempDir dir;
  std::string p = dir.file("min.f8");
  ASSERT_TRUE(samples::write_minimal(p, {}).ok());
  auto full = samples::read_all(p);
  std::unique_ptr<File> ok;
  ASSERT_TRUE(File::parse(full.data(), full.size(), &ok).ok());
  size_t dir_end = full.size();
  size_t tested = 0;
  for (size_t n = 0; n < dir_end; ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + n);  // exact size: ASan sees overreads
    std::unique_ptr<File> f;
    Status s = File::parse(cut.data(), cut.size(), &f);
    ASSERT_FALSE(s.ok()) << "prefix " << n;
    EXPECT_EQ(s.code, Code::Truncated) << "prefix " << n << ": " << s.message;
    if (n >= rawimg::kHeaderSize) {
      rawimg::patch64(cut, rawimg::kFileSize, n);
      uint64_t dir_off = rawimg::read64(cut, rawimg::kDirOff);
      if (n >= dir_off) rawimg::patch64(cut, rawimg::kDirSize, n - dir_off);
      Status s2 = File::parse(cut.data(), cut.size(), &f);
      EXPECT_FALSE(s2.ok()) << "patched prefix " << n;
    }
    ++tested;
  }
  EXPECT_EQ(tested, full.size());
}

// Every byte of the header and trailer of a richer file set to a few values:
// must never crash; whatever parses must be internally consistent.
TEST(Malformed, ByteCorruptionNeverCrashes) {
  samples::TempDir dir;
  std::string p = dir.file("full.f8");
  ASSERT_TRUE(samples::write_full(p, {.alignment = 64}).ok());
  auto img = samples::read_all(p);
  std::unique_ptr<File> ok;
  ASSERT_TRUE(File::parse(img.data(), img.size(), &ok).ok());
  uint64_t meta_off = ok->data_offset() + ok->data_size();
  std::vector<size_t> positions;
  for (size_t i = 0; i < rawimg::kHeaderSize; ++i) positions.push_back(i);
  // The trailer of the full sample is ~30 KB (vocab + spm blob); sample every
  // 97th byte of the metadata (a prime stride, so every field offset mod
  // small widths is hit) and every 2nd byte of the directory.
  uint64_t dir_off = rawimg::read64(img, rawimg::kDirOff);
  for (size_t i = meta_off; i < dir_off; i += 97) positions.push_back(i);
  for (size_t i = dir_off; i < img.size(); i += 2) positions.push_back(i);
  size_t accepted = 0, rejected = 0;
  for (size_t pos : positions) {
    const uint8_t orig = img[pos];
    for (uint8_t v : {uint8_t(0x00), uint8_t(0xFF), uint8_t(orig ^ 0x01), uint8_t(orig + 0x80)}) {
      if (v == orig) continue;
      std::vector<uint8_t>& b = img;
      const uint8_t saved = b[pos];
      b[pos] = v;
      std::unique_ptr<File> f;
      Status s = File::parse(b.data(), b.size(), &f);
      struct Restore {
        uint8_t& at;
        uint8_t v;
        ~Restore() { at = v; }
      } restore{b[pos], saved};
      if (s.ok()) {
        ++accepted;
        for (const TensorInfo& t : f->tensors()) {
          ASSERT_LE(t.offset + t.nbytes, b.size());
          ASSERT_EQ(t.offset % f->alignment(), 0u);
        }
      } else {
        ++rejected;
        EXPECT_FALSE(s.message.empty());
      }
    }
  }
  EXPECT_GT(rejected, 0u);
  EXPECT_GT(accepted, 0u);  // e.g. flips inside string values stay valid
}
