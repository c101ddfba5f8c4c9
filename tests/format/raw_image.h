// raw_image.h — test-only GGF8 encoder written straight from SPEC.md, apart
// from ggf8/writer.cpp, so tests can build files with ANY field value
// (impossible counts, bad offsets, nested arrays...) and so the writer and
// this encoder cross-check each other's reading of the spec.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace rawimg {

inline void put32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
inline void put64(std::vector<uint8_t>& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
inline void putstr32(std::vector<uint8_t>& b, const std::string& s) {
  put32(b, uint32_t(s.size()));
  b.insert(b.end(), s.begin(), s.end());
}
inline void putstr64(std::vector<uint8_t>& b, const std::string& s) {
  put64(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}
inline void patch16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = uint8_t(v);
  b[at + 1] = uint8_t(v >> 8);
}
inline void patch32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
inline void patch64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
inline uint64_t read64(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[at + i];
  return v;
}

// Header field offsets (SPEC.md §Header).
enum : size_t {
  kMagic = 0, kMajor = 4, kMinor = 6, kEndian = 8, kFlags = 12, kAlign = 16, kFileSize = 24,
  kDataOff = 32, kDataSize = 40, kMetaOff = 48, kMetaSize = 56, kMetaCount = 64, kDirOff = 72,
  kDirSize = 80, kTensorCount = 88, kHeaderSize = 128
};

struct KV {
  std::string key;
  uint32_t vtype;                // VType number
  std::vector<uint8_t> payload;  // the encoded value after the type word
};

struct Tensor {
  std::string name;
  uint32_t dtype = 0;
  std::vector<uint64_t> dims;
  int64_t ndim_override = -1;    // >= 0: write this ndim instead of dims.size()
  uint64_t offset = 0;           // relative to the data section unless absolute
  bool absolute = false;
  uint64_t nbytes = 0;
  uint32_t scale_kind = 0, block_rows = 0, block_cols = 0;
  std::string scale_name;
  uint32_t flags = 0;
  uint64_t checksum = 0;
};

struct Image {
  uint64_t alignment = 64;
  std::vector<uint8_t> data;     // the data section's bytes
  std::vector<KV> kvs;
  std::vector<Tensor> tensors;
};

// Byte positions of interesting fields in the encoded result.
struct Layout {
  size_t meta_off = 0, dir_off = 0;
  std::vector<size_t> kv_at;      // start of each metadata entry
  std::vector<size_t> tensor_at;  // start of each directory entry
};

inline std::vector<uint8_t> encode(const Image& im, Layout* lay = nullptr) {
  const uint64_t data_off = (kHeaderSize + im.alignment - 1) / im.alignment * im.alignment;
  std::vector<uint8_t> b(data_off, 0);  // header (patched below) + padding
  b.insert(b.end(), im.data.begin(), im.data.end());
  Layout l;
  l.meta_off = b.size();
  for (const KV& kv : im.kvs) {
    l.kv_at.push_back(b.size());
    putstr32(b, kv.key);
    put32(b, kv.vtype);
    b.insert(b.end(), kv.payload.begin(), kv.payload.end());
  }
  l.dir_off = b.size();
  for (const Tensor& t : im.tensors) {
    l.tensor_at.push_back(b.size());
    putstr32(b, t.name);
    put32(b, t.dtype);
    put32(b, t.ndim_override >= 0 ? uint32_t(t.ndim_override) : uint32_t(t.dims.size()));
    for (uint64_t d : t.dims) put64(b, d);
    put64(b, t.absolute ? t.offset : data_off + t.offset);
    put64(b, t.nbytes);
    put32(b, t.scale_kind);
    put32(b, t.block_rows);
    put32(b, t.block_cols);
    putstr32(b, t.scale_name);
    put32(b, t.flags);
    put64(b, t.checksum);
  }
  std::memcpy(b.data(), "GGF8", 4);
  patch16(b, kMajor, 1);
  patch16(b, kMinor, 0);
  patch32(b, kEndian, 0x01020304u);
  patch64(b, kAlign, im.alignment);
  patch64(b, kFileSize, b.size());
  patch64(b, kDataOff, data_off);
  patch64(b, kDataSize, im.data.size());
  patch64(b, kMetaOff, l.meta_off);
  patch64(b, kMetaSize, l.dir_off - l.meta_off);
  patch64(b, kMetaCount, im.kvs.size());
  patch64(b, kDirOff, l.dir_off);
  patch64(b, kDirSize, b.size() - l.dir_off);
  patch64(b, kTensorCount, im.tensors.size());
  if (lay) *lay = l;
  return b;
}

// Value payload helpers (what follows the u32 type word).
inline std::vector<uint8_t> pay_u32(uint32_t v) { std::vector<uint8_t> b; put32(b, v); return b; }
inline std::vector<uint8_t> pay_u64(uint64_t v) { std::vector<uint8_t> b; put64(b, v); return b; }
inline std::vector<uint8_t> pay_str(const std::string& s) { std::vector<uint8_t> b; putstr64(b, s); return b; }
inline std::vector<uint8_t> pay_str_array(const std::vector<std::string>& v) {
  std::vector<uint8_t> b;
  put32(b, 11);  // String
  put64(b, v.size());
  for (const auto& s : v) putstr64(b, s);
  return b;
}

// The valid base image the malformed corpus mutates: alignment 64, a
// channel-scaled e4m3 weight "w" [4,8] with its scale "w.scale" f32 [4], an
// f32 "norm" [8], three metadata entries.
inline Image base_image() {
  Image im;
  im.alignment = 64;
  im.data.assign(192, 0);
  for (size_t i = 0; i < 32; ++i) im.data[i] = uint8_t(0x38 + i);  // w at 0
  im.kvs.push_back({"general.name", 11, pay_str("tiny")});
  im.kvs.push_back({"llm.block_count", 4, pay_u32(1)});
  im.kvs.push_back({"tokenizer.tokens", 12, pay_str_array({"a", "b", "<s>"})});
  Tensor w;
  w.name = "w"; w.dtype = 3; w.dims = {4, 8}; w.offset = 0; w.nbytes = 32;
  w.scale_kind = 2; w.scale_name = "w.scale";
  Tensor s;
  s.name = "w.scale"; s.dtype = 0; s.dims = {4}; s.offset = 64; s.nbytes = 16;
  Tensor n;
  n.name = "norm"; n.dtype = 0; n.dims = {8}; n.offset = 128; n.nbytes = 32;
  im.tensors = {w, s, n};
  return im;
}

}  // namespace rawimg
