// safetensors.h — a validating, read-only mmap reader for the safetensors
// format (https://github.com/huggingface/safetensors), plus sharded
// checkpoints described by model.safetensors.index.json.
//
// File layout: [u64 LE header length N][N bytes UTF-8 JSON object][byte buffer]
// JSON: { "__metadata__": {str: str}?, "<tensor>": {"dtype": "BF16",
//         "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ... }
// Offsets are relative to the byte buffer. Validated like safetensors itself:
// N <= 100'000'000, header starts with '{', valid UTF-8 JSON object, no
// duplicate keys, known dtypes, tensors tile the buffer exactly (sorted by
// begin: contiguous, no holes, no overlaps, last end == buffer size), and
// prod(shape) * dtype size == end - begin, all with checked arithmetic.
// Every error message names the file and, where there is one, the tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ggf8/ggf8.h"

namespace f8conv {

using ggf8::Code;
using ggf8::Status;

// Safetensors dtypes (the spelling in the header).
enum class StDType {
  BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64,
};
const char* st_dtype_name(StDType t);
size_t st_dtype_size(StDType t);
bool st_dtype_from_name(const std::string& s, StDType* out);

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // as safetensors' MAX_HEADER_SIZE

struct StTensor {
  std::string name;
  StDType dtype = StDType::F32;
  std::vector<uint64_t> shape;  // [] = scalar (one element)
  const uint8_t* data = nullptr;  // into the mapping
  uint64_t nbytes = 0;
  uint64_t file_offset = 0;       // absolute offset of the first byte in the file
  uint64_t count() const;         // product of shape (1 for scalars); validated not to overflow
};

// One mapped .safetensors file.
class StFile {
 public:
  ~StFile();
  StFile(const StFile&) = delete;
  StFile& operator=(const StFile&) = delete;

  static Status open(const std::string& path, std::unique_ptr<StFile>* out);
  // Validates an in-memory image (no copy; `data` must outlive the StFile).
  static Status parse(const uint8_t* data, size_t size, const std::string& display_name,
                      std::unique_ptr<StFile>* out);

  const std::string& path() const { return path_; }
  const std::vector<StTensor>& tensors() const { return tensors_; }  // in header order
  const StTensor* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Drops this process's resident pages for [p, p+n) of the mapping (the page
  // cache keeps them), so streaming a large checkpoint keeps RSS bounded.
  void release(const uint8_t* p, uint64_t n) const;

 private:
  StFile() = default;
  std::string path_;
  const uint8_t* base_ = nullptr;  // mapping (or caller memory for parse())
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<StTensor> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// A whole checkpoint: model.safetensors, or the shards listed by
// model.safetensors.index.json (weight_map validated: every referenced file
// exists and parses, every listed tensor is in its file, no tensor is in two
// shards, no shard holds a tensor the index does not list).
class Checkpoint {
 public:
  static Status open_dir(const std::string& dir, std::unique_ptr<Checkpoint>* out);

  struct Entry {
    const StTensor* tensor;
    const StFile* file;
  };
  // All tensors, sorted by (file, offset) so that reading them in order
  // streams each file front to back.
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;
  const std::vector<std::unique_ptr<StFile>>& files() const { return files_; }
  uint64_t total_bytes() const;  // sum of tensor bytes

 private:
  std::vector<std::unique_ptr<StFile>> files_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
};

// Parses JSON text rejecting duplicate object keys at any depth (nlohmann
// keeps the last one silently). On error returns false with *err set to a
// description (the byte position for syntax errors, the key for duplicates).
bool parse_json_strict(const char* text, size_t n, nlohmann::json* out, std::string* err);

}  // namespace f8conv
