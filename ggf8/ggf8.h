// ggf8.h — the GGF8 file format: types, status, reader (mmap + full
// validation) and writer (streaming + atomic). Normative layout: SPEC.md.
//
// Layout in one picture (all little-endian):
//   [header, fixed size, padded to `alignment`]
//   [tensor data, each tensor starting at a multiple of `alignment`]
//   [metadata key/values] [tensor directory]          <- the "trailer"
// The trailer comes last so the writer can stream tensors one at a time and
// still record metadata computed during conversion (e.g. quantization stats);
// the header holds the trailer's offsets and counts.
//
// Nothing in this header throws on bad input: every fallible call returns a
// Status whose message names the field/tensor and the byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ggf8 {

// ---- status ----------------------------------------------------------------
enum class Code : int {
  Ok = 0,
  Io,              // open/read/mmap/write/fsync/rename failed (strerror in message)
  NoSpace,         // ENOSPC or EDQUOT while writing
  Exists,          // output exists and overwrite was not requested
  BadMagic,        // not a GGF8 file
  BadVersion,      // unsupported major version
  BadEndian,       // endianness marker wrong
  Truncated,       // a read would pass the end of the file
  Overflow,        // checked arithmetic on file fields overflowed
  BadAlignment,    // alignment not a power of two in [8, 65536], or misaligned offset
  BadCount,        // a count is impossible for the file's size
  BadString,       // string length past the end, or not UTF-8
  BadType,         // unknown metadata value type or tensor dtype
  BadShape,        // ndim out of range, zero dim, product overflow, bytes != dims*dtype
  BadOffset,       // tensor data outside the data section, overlapping
  Duplicate,       // duplicate metadata key or tensor name
  BadScale,        // scale tensor missing, wrong dtype, or wrong shape for its kind
  Checksum,        // `verify`: stored checksum differs
  InvalidArgument, // a caller passed something invalid (writer misuse, bad name)
  NotFound,        // asked for a key/tensor that is not there
};
const char* code_name(Code c);  // "truncated", "bad-magic", ...

struct Status {
  Code code = Code::Ok;
  std::string message;  // one line; names file, field/tensor, byte offset
  bool ok() const { return code == Code::Ok; }
  static Status Ok() { return {}; }
  static Status Error(Code c, std::string msg) { return {c, std::move(msg)}; }
};

// ---- tensor dtypes and scales ------------------------------------------------
enum class DType : uint32_t {
  F32 = 0, F16 = 1, BF16 = 2, E4M3 = 3, E5M2 = 4, I8 = 5, U8 = 6, I32 = 7,
};
constexpr uint32_t kDTypeCount = 8;
bool dtype_valid(uint32_t raw);
size_t dtype_size(DType t);            // bytes per element
const char* dtype_name(DType t);       // "f32", "e4m3", ...
bool dtype_from_name(std::string_view name, DType* out);

// How a tensor's values are scaled: x ~= decode(q) * s  (s is a multiplier).
enum class ScaleKind : uint32_t {
  None = 0,     // no scale
  Tensor = 1,   // scale tensor F32 shape [1]
  Channel = 2,  // scale tensor F32 shape [dims[0]]  (one per output row)
  Block = 3,    // scale tensor F32 shape [ceil(d0/br), ceil(d1/bc)], 2-D tensors
};
const char* scale_kind_name(ScaleKind k);

constexpr uint32_t kMaxDims = 4;

// What the writer is told about a tensor; the reader returns the same plus
// where the bytes are.
struct TensorDesc {
  std::string name;               // unique, 1..255 bytes of UTF-8
  DType dtype = DType::F32;
  std::vector<uint64_t> dims;     // 1..4 dims, outermost first; weights [out, in]
  ScaleKind scale_kind = ScaleKind::None;
  uint32_t block_rows = 0;        // Block only (e.g. 128)
  uint32_t block_cols = 0;        // Block only (e.g. 128)
  std::string scale_name;         // the F32 tensor holding the scales (not None)
};

struct TensorInfo : TensorDesc {
  uint64_t offset = 0;            // absolute byte offset in the file
  uint64_t nbytes = 0;            // = prod(dims) * dtype_size(dtype)
  bool has_checksum = false;
  uint64_t checksum = 0;          // see SPEC.md for the algorithm
  uint64_t count() const;         // number of elements
};

// ---- metadata values -------------------------------------------------------
enum class VType : uint32_t {
  U8 = 0, I8, U16, I16, U32, I32, U64, I64, F32, F64, Bool, String, Array,
};
const char* vtype_name(VType t);

// A metadata value. Scalars and arrays of scalars or strings (no nested
// arrays). Owned storage; arrays of numbers are kept packed little-endian.
class Value {
 public:
  Value() = default;
  // scalars
  static Value u8(uint8_t v);   static Value i8(int8_t v);
  static Value u16(uint16_t v); static Value i16(int16_t v);
  static Value u32(uint32_t v); static Value i32(int32_t v);
  static Value u64(uint64_t v); static Value i64(int64_t v);
  static Value f32(float v);    static Value f64(double v);
  static Value boolean(bool v);
  static Value str(std::string v);
  // arrays
  static Value bytes(std::vector<uint8_t> v);                 // Array of U8
  static Value array_i32(const std::vector<int32_t>& v);
  static Value array_u32(const std::vector<uint32_t>& v);
  static Value array_i64(const std::vector<int64_t>& v);
  static Value array_f32(const std::vector<float>& v);
  static Value array_str(std::vector<std::string> v);

  VType type() const { return type_; }
  VType elem_type() const { return elem_; }   // for Array
  bool is_array() const { return type_ == VType::Array; }
  bool is_integer() const;                    // any integer scalar
  bool is_number() const;                     // integer or float scalar

  // Scalar reads. Return false (and leave *out) if the value is not
  // convertible without loss (e.g. negative into unsigned, non-integer).
  bool get_u64(uint64_t* out) const;
  bool get_i64(int64_t* out) const;
  bool get_f64(double* out) const;            // any number
  bool get_bool(bool* out) const;
  const std::string* get_str() const;         // nullptr unless String

  // Array reads.
  uint64_t array_size() const;
  const std::vector<uint8_t>& raw() const { return raw_; }            // packed numeric payload
  const std::vector<std::string>* strings() const;                    // nullptr unless Array of String
  bool to_i64_vector(std::vector<int64_t>* out) const;                // any integer array
  bool to_f32_vector(std::vector<float>* out) const;                  // any numeric array

 private:
  VType type_ = VType::U8;
  VType elem_ = VType::U8;
  std::vector<uint8_t> raw_;          // scalar bytes or packed numeric array
  std::string s_;                     // String scalar
  std::vector<std::string> strs_;     // Array of String
  uint64_t n_ = 0;                    // array element count
  friend class File;
  friend class Writer;
  friend struct ValueCodec;
};

struct KV {
  std::string key;
  Value value;
};

// ---- reader ----------------------------------------------------------------
struct OpenOptions {
  bool populate = false;   // MAP_POPULATE: pre-fault the mapping (faster first use)
};

// A validated, read-only mapping of a .f8 file. Cheap to share across threads
// (immutable after open).
class File {
 public:
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Maps and fully validates `path`. On failure *out is untouched.
  static Status open(const std::string& path, std::unique_ptr<File>* out,
                     const OpenOptions& opts = {});
  // Validates an in-memory image (no copy; `data` must outlive the File).
  // Used by the fuzzer and the malformed-file tests.
  static Status parse(const uint8_t* data, size_t size, std::unique_ptr<File>* out,
                      std::string display_name = "<memory>");

  const std::string& path() const;
  uint16_t version_major() const;
  uint16_t version_minor() const;
  uint64_t alignment() const;
  uint64_t file_size() const;
  uint64_t data_offset() const;   // start of tensor data section
  uint64_t data_size() const;

  const std::vector<KV>& metadata() const;
  const Value* find(std::string_view key) const;       // nullptr if absent
  // Typed conveniences: NotFound if absent, BadType if not convertible.
  Status get_u64(std::string_view key, uint64_t* out) const;
  Status get_i64(std::string_view key, int64_t* out) const;
  Status get_f64(std::string_view key, double* out) const;
  Status get_bool(std::string_view key, bool* out) const;
  Status get_str(std::string_view key, std::string* out) const;

  const std::vector<TensorInfo>& tensors() const;
  const TensorInfo* tensor(std::string_view name) const;  // nullptr if absent
  const uint8_t* data(const TensorInfo& t) const;         // into the mapping

  // Recomputes every stored checksum. `progress(done_bytes, total_bytes)` may
  // be null. Checksum mismatch -> Code::Checksum naming the tensor(s).
  Status verify(void (*progress)(uint64_t, uint64_t, void*) = nullptr,
                void* user_data = nullptr) const;

 private:
  File();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- writer ----------------------------------------------------------------
struct WriterOptions {
  uint64_t alignment = 256;   // power of two, 8..65536
  bool overwrite = false;     // replace an existing file at the path
  bool checksums = true;      // store per-tensor checksums
};

// Streams tensors to `<path>.tmp.<pid>` beside the target; finish() writes the
// trailer, patches the header, fsyncs, renames over `path` and fsyncs the
// directory. Destroying a Writer without a successful finish() removes the
// temporary file: nothing ever appears at `path` half-written.
// Memory: O(metadata + directory); tensor bytes are written through.
class Writer {
 public:
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  static Status create(const std::string& path, const WriterOptions& opts,
                       std::unique_ptr<Writer>* out);

  // Any time before finish(). Duplicate key -> Duplicate.
  Status set_metadata(std::string key, Value v);

  // Writes one whole tensor now. nbytes must equal prod(dims)*dtype_size.
  Status add_tensor(const TensorDesc& desc, const void* data, uint64_t nbytes);
  // Or in pieces: begin, append until nbytes are given, end.
  Status begin_tensor(const TensorDesc& desc);
  Status append(const void* data, uint64_t nbytes);
  Status end_tensor();

  // Validates scale references (exist, F32, shape fits the kind), writes the
  // trailer, commits atomically.
  Status finish();
  // The same, but before the rename `inspect` gets the complete file as
  // written (validated and mapped from its temporary path: e.g. to run the
  // model once) and may return metadata to add; the trailer is then written
  // again with it (tensor bytes are not touched). Its keys follow
  // set_metadata's rules. An error from it, or a bad key, aborts the write:
  // nothing appears at `path`.
  using InspectFn = std::function<Status(const File& written, std::vector<KV>* more)>;
  Status finish(const InspectFn& inspect);

  uint64_t bytes_written() const;

 private:
  Writer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ggf8
