// reader.cpp — ggf8::File: maps a .f8 file read-only and validates all of it
// before anything is used (SPEC.md §Validation). Every field read goes through
// a Cursor bounded by its section; every sum/product of file fields uses
// __builtin_*_overflow; nothing is allocated from a count that was not first
// bounded by the bytes that remain. Errors name file, field and byte offset.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <unordered_map>

#include "ggf8/checksum.h"
#include "ggf8/ggf8.h"
#include "ggf8/layout.h"
#include "ggf8/value_codec.h"

namespace ggf8 {

using namespace layout;

struct File::Impl {
  std::string path;
  const uint8_t* base = nullptr;  // image start (mapping or caller's memory)
  uint64_t size = 0;
  void* map = nullptr;            // non-null when we own an mmap
  size_t map_len = 0;
  uint16_t major = 0, minor = 0;
  uint64_t alignment = 0, data_offset = 0, data_size = 0;
  std::vector<KV> meta;
  std::unordered_map<std::string, size_t> meta_index;
  std::vector<TensorInfo> tensors;
  std::unordered_map<std::string, size_t> tensor_index;

  ~Impl() {
    if (map) ::munmap(map, map_len);
  }
  Status parse();
};

namespace {

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// Reads little-endian fields from [pos, end) of the image; any read past
// `end` is an error naming the field being read.
class Cursor {
 public:
  Cursor(const uint8_t* base, const std::string& path, uint64_t pos, uint64_t end,
         const char* section)
      : f_{base, path}, pos_(pos), end_(end), section_(section) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return end_ - pos_; }

  Status err(Code c, uint64_t at, const std::string& field, const std::string& what) const {
    return Status::Error(c, f_.path + ": " + field + " at byte " + std::to_string(at) + ": " + what);
  }
  Status need(uint64_t n, const std::string& field) const {
    if (n <= left()) return Status::Ok();
    return err(Code::Truncated, pos_, field,
               "needs " + std::to_string(n) + " bytes, only " + std::to_string(left()) +
                   " left in the " + section_);
  }
  Status u32(uint32_t* v, const std::string& field) {
    Status s = need(4, field);
    if (!s.ok()) return s;
    *v = ld32(f_.base + pos_);
    pos_ += 4;
    return s;
  }
  Status u64(uint64_t* v, const std::string& field) {
    Status s = need(8, field);
    if (!s.ok()) return s;
    *v = ld64(f_.base + pos_);
    pos_ += 8;
    return s;
  }
  // Bytes of a length already checked by the caller.
  const uint8_t* take(uint64_t n) {
    const uint8_t* p = f_.base + pos_;
    pos_ += n;
    return p;
  }
  // u32 length + UTF-8 name of 1..255 bytes (metadata keys, tensor names).
  Status name(std::string* out, const std::string& field, bool allow_empty = false) {
    uint64_t at = pos_;
    uint32_t len = 0;
    Status s = u32(&len, field + " length");
    if (!s.ok()) return s;
    if ((len == 0 && !allow_empty) || len > kMaxNameLen)
      return err(Code::BadString, at, field + " length",
                 "expected 1..255, got " + std::to_string(len));
    if (len > left())
      return err(Code::BadString, at, field + " length",
                 std::to_string(len) + " bytes pass the end of the " + section_ + " (" +
                     std::to_string(left()) + " left)");
    const uint8_t* p = take(len);
    out->assign(reinterpret_cast<const char*>(p), len);
    if (!valid_utf8(*out)) return err(Code::BadString, at + 4, field, "not valid UTF-8");
    return Status::Ok();
  }
  // u64 length + bytes of a string value (<= 1 GiB; not UTF-8-checked).
  Status string(std::string* out, const std::string& field) {
    uint64_t at = pos_;
    uint64_t len = 0;
    Status s = u64(&len, field + " length");
    if (!s.ok()) return s;
    if (len > kMaxStringLen)
      return err(Code::BadString, at, field + " length",
                 "at most 1 GiB allowed, got " + std::to_string(len));
    if (len > left())
      return err(Code::BadString, at, field + " length",
                 std::to_string(len) + " bytes pass the end of the " + section_ + " (" +
                     std::to_string(left()) + " left)");
    const uint8_t* p = take(len);
    out->assign(reinterpret_cast<const char*>(p), len);
    return Status::Ok();
  }

 private:
  struct {
    const uint8_t* base;
    const std::string& path;
  } f_;
  uint64_t pos_, end_;
  const char* section_;
};

Status parse_value(Cursor& c, const std::string& field, Value* out) {
  uint64_t at = c.pos();
  uint32_t vt = 0;
  Status s = c.u32(&vt, field + " type");
  if (!s.ok()) return s;
  if (vt > uint32_t(VType::Array))
    return c.err(Code::BadType, at, field + " type", "unknown value type " + std::to_string(vt));
  if (vt == uint32_t(VType::String)) {
    std::string str;
    s = c.string(&str, field);
    if (s.ok()) *out = ValueCodec::string(std::move(str));
    return s;
  }
  if (vt != uint32_t(VType::Array)) {
    uint64_t n = scalar_size(vt);
    s = c.need(n, field);
    if (!s.ok()) return s;
    const uint8_t* p = c.take(n);
    if (vt == uint32_t(VType::Bool) && p[0] > 1)
      return c.err(Code::BadType, at + 4, field, "bool must be 0 or 1, got " + std::to_string(p[0]));
    *out = ValueCodec::scalar_bytes(VType(vt), p, n);
    return Status::Ok();
  }
  at = c.pos();
  uint32_t et = 0;
  s = c.u32(&et, field + " element type");
  if (!s.ok()) return s;
  if (et == uint32_t(VType::Array))
    return c.err(Code::BadType, at, field + " element type", "nested arrays are not allowed");
  if (et > uint32_t(VType::Array))
    return c.err(Code::BadType, at, field + " element type",
                 "unknown value type " + std::to_string(et));
  at = c.pos();
  uint64_t count = 0;
  s = c.u64(&count, field + " count");
  if (!s.ok()) return s;
  // Each element takes at least min_size bytes: bound the count before any
  // allocation.
  uint64_t min_size = et == uint32_t(VType::String) ? 8 : scalar_size(et);
  if (count > c.left() / min_size)
    return c.err(Code::BadCount, at, field + " count",
                 std::to_string(count) + " elements of >= " + std::to_string(min_size) +
                     " bytes cannot fit in the " + std::to_string(c.left()) + " bytes left");
  if (et != uint32_t(VType::String)) {
    const uint8_t* p = c.take(count * min_size);
    if (et == uint32_t(VType::Bool)) {
      for (uint64_t i = 0; i < count; ++i)
        if (p[i] > 1)
          return c.err(Code::BadType, at + 8 + i, field + "[" + std::to_string(i) + "]",
                       "bool must be 0 or 1");
    }
    *out = ValueCodec::numeric_array(VType(et), count, p, count * min_size);
    return Status::Ok();
  }
  std::vector<std::string> strs;
  strs.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::string e;
    s = c.string(&e, field + "[" + std::to_string(i) + "]");
    if (!s.ok()) return s;
    strs.push_back(std::move(e));
  }
  *out = ValueCodec::string_array(std::move(strs));
  return Status::Ok();
}

std::string shape_str(const std::vector<uint64_t>& d) { return shape_string(d); }

}  // namespace

Status File::Impl::parse() {
  auto herr = [&](Code c, uint64_t at, const char* field, const std::string& what) {
    return Status::Error(c, path + ": header." + field + " at byte " + std::to_string(at) + ": " + what);
  };
  if (size < kHeaderSize)
    return herr(Code::Truncated, 0, "size", "a GGF8 header needs " + std::to_string(kHeaderSize) +
                                                " bytes, the file has " + std::to_string(size));
  const uint8_t* h = base;
  if (std::memcmp(h + kOffMagic, kMagic, 4) != 0)
    return herr(Code::BadMagic, kOffMagic, "magic", "expected \"GGF8\" (not a .f8 file)");
  major = ld16(h + kOffMajor);
  minor = ld16(h + kOffMinor);
  if (major != kMajor && major != kMajorStacked)
    return herr(Code::BadVersion, kOffMajor, "version_major",
                "this reader supports major versions " + std::to_string(kMajor) + " and " +
                    std::to_string(kMajorStacked) + ", file has " + std::to_string(major) + "." +
                    std::to_string(minor) + (major > kMajorStacked ? " (written by a newer f8: upgrade)" : ""));
  uint32_t endian = ld32(h + kOffEndian);
  if (endian != kEndianMarker)
    return herr(Code::BadEndian, kOffEndian, "endian",
                "expected " + hex(kEndianMarker) + " (little-endian), got " + hex(endian));
  alignment = ld64(h + kOffAlignment);
  if (!is_pow2(alignment) || alignment < kMinAlignment || alignment > kMaxAlignment)
    return herr(Code::BadAlignment, kOffAlignment, "alignment",
                "expected a power of two in [8, 65536], got " + std::to_string(alignment));
  uint64_t file_size = ld64(h + kOffFileSize);
  if (file_size > size)
    return herr(Code::Truncated, kOffFileSize, "file_size",
                "header says " + std::to_string(file_size) + " bytes, file has only " +
                    std::to_string(size) + " (truncated download?)");
  if (file_size < size)
    return herr(Code::BadOffset, kOffFileSize, "file_size",
                "header says " + std::to_string(file_size) + " bytes, file has " +
                    std::to_string(size) + " (trailing bytes)");

  // Sections must tile [data_offset, file_size) exactly: data, metadata, directory.
  data_offset = ld64(h + kOffDataOffset);
  data_size = ld64(h + kOffDataSize);
  uint64_t meta_off = ld64(h + kOffMetaOffset), meta_size = ld64(h + kOffMetaSize);
  uint64_t meta_count = ld64(h + kOffMetaCount);
  uint64_t dir_off = ld64(h + kOffDirOffset), dir_size = ld64(h + kOffDirSize);
  uint64_t tensor_count = ld64(h + kOffTensorCount);
  if (data_offset < kHeaderSize || data_offset > size)
    return herr(Code::BadOffset, kOffDataOffset, "data_offset",
                "expected in [128, " + std::to_string(size) + "], got " + std::to_string(data_offset));
  if (data_offset % alignment != 0)
    return herr(Code::BadAlignment, kOffDataOffset, "data_offset",
                std::to_string(data_offset) + " is not a multiple of the alignment " +
                    std::to_string(alignment));
  uint64_t end = 0;
  if (__builtin_add_overflow(data_offset, data_size, &end))
    return herr(Code::Overflow, kOffDataSize, "data_size", "data_offset + data_size overflows");
  if (end > size)
    return herr(Code::BadOffset, kOffDataSize, "data_size",
                "data section ends at " + std::to_string(end) + ", past the end of the file (" +
                    std::to_string(size) + ")");
  if (meta_off != end)
    return herr(Code::BadOffset, kOffMetaOffset, "metadata_offset",
                "expected " + std::to_string(end) + " (end of the data section), got " +
                    std::to_string(meta_off));
  if (__builtin_add_overflow(meta_off, meta_size, &end))
    return herr(Code::Overflow, kOffMetaSize, "metadata_size", "metadata_offset + metadata_size overflows");
  if (end > size)
    return herr(Code::BadOffset, kOffMetaSize, "metadata_size",
                "metadata ends at " + std::to_string(end) + ", past the end of the file (" +
                    std::to_string(size) + ")");
  if (dir_off != end)
    return herr(Code::BadOffset, kOffDirOffset, "directory_offset",
                "expected " + std::to_string(end) + " (end of the metadata), got " +
                    std::to_string(dir_off));
  if (__builtin_add_overflow(dir_off, dir_size, &end))
    return herr(Code::Overflow, kOffDirSize, "directory_size", "directory_offset + directory_size overflows");
  if (end != size)
    return herr(Code::BadOffset, kOffDirSize, "directory_size",
                "directory ends at " + std::to_string(end) + ", expected the end of the file (" +
                    std::to_string(size) + ")");
  if (meta_count > meta_size / kMinKVSize)
    return herr(Code::BadCount, kOffMetaCount, "metadata_count",
                std::to_string(meta_count) + " entries cannot fit in " + std::to_string(meta_size) +
                    " bytes of metadata");
  if (tensor_count > dir_size / kMinTensorSize)
    return herr(Code::BadCount, kOffTensorCount, "tensor_count",
                std::to_string(tensor_count) + " entries cannot fit in " + std::to_string(dir_size) +
                    " bytes of directory");

  // ---- metadata ----
  Cursor mc(base, path, meta_off, meta_off + meta_size, "metadata section");
  meta.reserve(meta_count);
  for (uint64_t i = 0; i < meta_count; ++i) {
    uint64_t at = mc.pos();
    KV kv;
    std::string field = "metadata[" + std::to_string(i) + "] key";
    Status s = mc.name(&kv.key, field);
    if (!s.ok()) return s;
    if (meta_index.count(kv.key))
      return mc.err(Code::Duplicate, at, field, "duplicate key '" + kv.key + "'");
    s = parse_value(mc, "metadata '" + kv.key + "'", &kv.value);
    if (!s.ok()) return s;
    meta_index.emplace(kv.key, meta.size());
    meta.push_back(std::move(kv));
  }
  if (mc.left() != 0)
    return mc.err(Code::BadCount, mc.pos(), "metadata_count",
                  std::to_string(mc.left()) + " bytes left after " + std::to_string(meta_count) +
                      " entries (count too small?)");

  // ---- directory ----
  Cursor dc(base, path, dir_off, dir_off + dir_size, "tensor directory");
  tensors.reserve(tensor_count);
  std::vector<uint64_t> entry_at;  // byte offset of each entry, for messages
  entry_at.reserve(tensor_count);
  const uint64_t data_end = data_offset + data_size;
  for (uint64_t i = 0; i < tensor_count; ++i) {
    uint64_t at = dc.pos();
    TensorInfo t;
    std::string field = "tensor[" + std::to_string(i) + "] name";
    Status s = dc.name(&t.name, field);
    if (!s.ok()) return s;
    if (tensor_index.count(t.name))
      return dc.err(Code::Duplicate, at, field, "duplicate tensor name '" + t.name + "'");
    const std::string tf = "tensor '" + t.name + "' ";
    uint64_t f_at = dc.pos();
    uint32_t dt = 0, ndim = 0;
    if (!(s = dc.u32(&dt, tf + "dtype")).ok()) return s;
    if (!dtype_valid(dt))
      return dc.err(Code::BadType, f_at, tf + "dtype", "unknown dtype " + std::to_string(dt));
    t.dtype = DType(dt);
    f_at = dc.pos();
    if (!(s = dc.u32(&ndim, tf + "ndim")).ok()) return s;
    if (ndim == 0 || ndim > kMaxDims)
      return dc.err(Code::BadShape, f_at, tf + "ndim", "expected 1..4, got " + std::to_string(ndim));
    uint64_t count = 1;
    t.dims.resize(ndim);
    for (uint32_t d = 0; d < ndim; ++d) {
      f_at = dc.pos();
      std::string df = tf + "dims[" + std::to_string(d) + "]";
      if (!(s = dc.u64(&t.dims[d], df)).ok()) return s;
      if (t.dims[d] == 0) return dc.err(Code::BadShape, f_at, df, "zero dimension");
      if (__builtin_mul_overflow(count, t.dims[d], &count))
        return dc.err(Code::BadShape, f_at, df, "product of dims overflows 64 bits");
    }
    uint64_t want = 0;
    if (__builtin_mul_overflow(count, uint64_t(dtype_size(t.dtype)), &want))
      return dc.err(Code::BadShape, f_at, tf + "dims", "element count x dtype size overflows 64 bits");
    uint64_t off_at = dc.pos();
    if (!(s = dc.u64(&t.offset, tf + "offset")).ok()) return s;
    f_at = dc.pos();
    if (!(s = dc.u64(&t.nbytes, tf + "nbytes")).ok()) return s;
    if (t.nbytes != want)
      return dc.err(Code::BadShape, f_at, tf + "nbytes",
                    "shape " + shape_str(t.dims) + " of " + dtype_name(t.dtype) + " needs " +
                        std::to_string(want) + " bytes, entry says " + std::to_string(t.nbytes));
    if (t.offset % alignment != 0)
      return dc.err(Code::BadAlignment, off_at, tf + "offset",
                    std::to_string(t.offset) + " is not a multiple of the alignment " +
                        std::to_string(alignment));
    uint64_t t_end = 0;
    if (__builtin_add_overflow(t.offset, t.nbytes, &t_end))
      return dc.err(Code::Overflow, off_at, tf + "offset", "offset + nbytes overflows 64 bits");
    if (t.offset < data_offset || t_end > data_end)
      return dc.err(Code::BadOffset, off_at, tf + "offset",
                    "bytes [" + std::to_string(t.offset) + ", " + std::to_string(t_end) +
                        ") are outside the data section [" + std::to_string(data_offset) + ", " +
                        std::to_string(data_end) + ")");
    f_at = dc.pos();
    uint32_t sk = 0, br = 0, bc = 0;
    if (!(s = dc.u32(&sk, tf + "scale_kind")).ok()) return s;
    if (sk > uint32_t(ScaleKind::Block))
      return dc.err(Code::BadScale, f_at, tf + "scale_kind", "unknown scale kind " + std::to_string(sk));
    t.scale_kind = ScaleKind(sk);
    f_at = dc.pos();
    if (!(s = dc.u32(&br, tf + "block_rows")).ok()) return s;
    if (!(s = dc.u32(&bc, tf + "block_cols")).ok()) return s;
    t.block_rows = br;
    t.block_cols = bc;
    if (major < kMajorStacked && stacked_scales(ndim, sk))
      return dc.err(Code::BadScale, f_at, tf + "scale_kind",
                    std::string(scale_kind_name(t.scale_kind)) + " scales on a " + std::to_string(ndim) +
                        "-D tensor need format major 2 (the file says 1)");
    if (t.scale_kind == ScaleKind::Block) {
      if (ndim < 2)
        return dc.err(Code::BadScale, f_at, tf + "scale_kind", "block scales need a 2-D tensor, it has " +
                                                                   std::to_string(ndim) + " dims");
      if (br == 0 || bc == 0)
        return dc.err(Code::BadScale, f_at, tf + "block_rows", "block shape must be nonzero");
    } else if (br != 0 || bc != 0) {
      return dc.err(Code::BadScale, f_at, tf + "block_rows",
                    std::string("must be 0 for scale kind ") + scale_kind_name(t.scale_kind));
    }
    f_at = dc.pos();
    if (!(s = dc.name(&t.scale_name, tf + "scale_name", /*allow_empty=*/true)).ok()) return s;
    if ((t.scale_kind == ScaleKind::None) != t.scale_name.empty())
      return dc.err(Code::BadScale, f_at, tf + "scale_name",
                    t.scale_name.empty() ? "a scale tensor name is required for this scale kind"
                                         : "must be empty for scale kind none");
    f_at = dc.pos();
    uint32_t flags = 0;
    if (!(s = dc.u32(&flags, tf + "flags")).ok()) return s;
    if (flags & ~kTensorFlagChecksum)
      return dc.err(Code::BadType, f_at, tf + "flags", "unknown flag bits " + hex(flags));
    t.has_checksum = flags & kTensorFlagChecksum;
    if (!(s = dc.u64(&t.checksum, tf + "checksum")).ok()) return s;
    tensor_index.emplace(t.name, tensors.size());
    tensors.push_back(std::move(t));
    entry_at.push_back(at);
  }
  if (dc.left() != 0)
    return dc.err(Code::BadCount, dc.pos(), "tensor_count",
                  std::to_string(dc.left()) + " bytes left after " + std::to_string(tensor_count) +
                      " entries (count too small?)");

  // ---- cross-entry checks: overlap (sorted by offset), scale references ----
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors[a].offset < tensors[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const TensorInfo& a = tensors[order[k - 1]];
    const TensorInfo& b = tensors[order[k]];
    if (a.offset + a.nbytes > b.offset)
      return Status::Error(Code::BadOffset,
                           path + ": tensor '" + b.name + "' offset at byte " +
                               std::to_string(entry_at[order[k]]) + ": bytes starting at " +
                               std::to_string(b.offset) + " overlap tensor '" + a.name + "' [" +
                               std::to_string(a.offset) + ", " + std::to_string(a.offset + a.nbytes) + ")");
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i];
    if (t.scale_kind == ScaleKind::None) continue;
    const std::string p = path + ": tensor '" + t.name + "' scale_name at byte " +
                          std::to_string(entry_at[i]) + ": ";
    auto it = tensor_index.find(t.scale_name);
    if (it == tensor_index.end())
      return Status::Error(Code::BadScale, p + "scale tensor '" + t.scale_name + "' is not in the file");
    const TensorInfo& sc = tensors[it->second];
    if (&sc == &t) return Status::Error(Code::BadScale, p + "a tensor cannot be its own scale");
    if (sc.dtype != DType::F32)
      return Status::Error(Code::BadScale, p + "scale tensor '" + sc.name + "' must be f32, is " +
                                               dtype_name(sc.dtype));
    const std::vector<uint64_t> want = scale_shape(t.dims, uint32_t(t.scale_kind), t.block_rows, t.block_cols);
    if (sc.dims != want)
      return Status::Error(Code::BadScale, p + "scale tensor '" + sc.name + "' must have shape " +
                                               shape_str(want) + " for scale kind " +
                                               scale_kind_name(t.scale_kind) + ", has " +
                                               shape_str(sc.dims));
  }
  return Status::Ok();
}

// ---- public API ---------------------------------------------------------------

File::File() : impl_(new Impl) {}
File::~File() = default;

Status File::parse(const uint8_t* data, size_t size, std::unique_ptr<File>* out,
                   std::string display_name) {
  try {
    std::unique_ptr<File> f(new File);
    f->impl_->path = std::move(display_name);
    f->impl_->base = data;
    f->impl_->size = size;
    if (data == nullptr && size != 0)
      return Status::Error(Code::InvalidArgument, f->impl_->path + ": null data");
    Status s = f->impl_->parse();
    if (!s.ok()) return s;
    *out = std::move(f);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status::Error(Code::Io, display_name + ": out of memory while reading the metadata");
  }
}

Status File::open(const std::string& path, std::unique_ptr<File>* out, const OpenOptions& opts) {
  try {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::Error(Code::Io, path + ": open: " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return Status::Error(Code::Io, path + ": stat: " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::Error(Code::Io, path + ": not a regular file");
    }
    std::unique_ptr<File> f(new File);
    Impl& m = *f->impl_;
    m.path = path;
    m.size = uint64_t(st.st_size);
    if (m.size >= kHeaderSize) {  // smaller files fail parse() without a mapping
      void* p = ::mmap(nullptr, size_t(m.size), PROT_READ,
                       MAP_PRIVATE | (opts.populate ? MAP_POPULATE : 0), fd, 0);
      if (p == MAP_FAILED) {
        int e = errno;
        ::close(fd);
        return Status::Error(Code::Io, path + ": mmap: " + std::strerror(e));
      }
      m.map = p;
      m.map_len = size_t(m.size);
      m.base = static_cast<const uint8_t*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
    Status s = m.parse();
    if (!s.ok()) return s;
    *out = std::move(f);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status::Error(Code::Io, path + ": out of memory while reading the metadata");
  }
}

const std::string& File::path() const { return impl_->path; }
uint16_t File::version_major() const { return impl_->major; }
uint16_t File::version_minor() const { return impl_->minor; }
uint64_t File::alignment() const { return impl_->alignment; }
uint64_t File::file_size() const { return impl_->size; }
uint64_t File::data_offset() const { return impl_->data_offset; }
uint64_t File::data_size() const { return impl_->data_size; }
const std::vector<KV>& File::metadata() const { return impl_->meta; }

const Value* File::find(std::string_view key) const {
  auto it = impl_->meta_index.find(std::string(key));
  return it == impl_->meta_index.end() ? nullptr : &impl_->meta[it->second].value;
}

namespace {
template <typename T, typename Get>
Status typed_get(const File& f, std::string_view key, T* out, const char* want, Get get) {
  const Value* v = f.find(key);
  if (!v) return Status::Error(Code::NotFound, f.path() + ": metadata key '" + std::string(key) + "' is absent");
  if (!get(*v, out))
    return Status::Error(Code::BadType, f.path() + ": metadata '" + std::string(key) + "': expected " +
                                            want + ", found " + vtype_name(v->type()));
  return Status::Ok();
}
}  // namespace

Status File::get_u64(std::string_view key, uint64_t* out) const {
  return typed_get(*this, key, out, "a non-negative integer",
                   [](const Value& v, uint64_t* o) { return v.get_u64(o); });
}
Status File::get_i64(std::string_view key, int64_t* out) const {
  return typed_get(*this, key, out, "an integer fitting i64",
                   [](const Value& v, int64_t* o) { return v.get_i64(o); });
}
Status File::get_f64(std::string_view key, double* out) const {
  return typed_get(*this, key, out, "a number", [](const Value& v, double* o) { return v.get_f64(o); });
}
Status File::get_bool(std::string_view key, bool* out) const {
  return typed_get(*this, key, out, "a bool", [](const Value& v, bool* o) { return v.get_bool(o); });
}
Status File::get_str(std::string_view key, std::string* out) const {
  return typed_get(*this, key, out, "a string", [](const Value& v, std::string* o) {
    const std::string* s = v.get_str();
    if (s) *o = *s;
    return s != nullptr;
  });
}

const std::vector<TensorInfo>& File::tensors() const { return impl_->tensors; }

const TensorInfo* File::tensor(std::string_view name) const {
  auto it = impl_->tensor_index.find(std::string(name));
  return it == impl_->tensor_index.end() ? nullptr : &impl_->tensors[it->second];
}

const uint8_t* File::data(const TensorInfo& t) const { return impl_->base + t.offset; }

Status File::verify(void (*progress)(uint64_t, uint64_t, void*), void* user_data) const {
  try {
    uint64_t total = 0, done = 0;
    for (const TensorInfo& t : impl_->tensors)
      if (t.has_checksum) total += t.nbytes;
    std::string bad;
    size_t nbad = 0;
    constexpr uint64_t kChunk = 64ull << 20;  // progress granularity
    for (const TensorInfo& t : impl_->tensors) {
      if (!t.has_checksum) continue;
      Xxh64 h(0);
      const uint8_t* p = data(t);
      for (uint64_t off = 0; off < t.nbytes; off += kChunk) {
        uint64_t n = std::min(kChunk, t.nbytes - off);
        h.update(p + off, size_t(n));
        done += n;
        if (progress) progress(done, total, user_data);
      }
      uint64_t got = h.digest();
      if (got != t.checksum) {
        if (nbad++ < 8)
          bad += (bad.empty() ? "" : "; ") + std::string("tensor '") + t.name + "' at byte " +
                 std::to_string(t.offset) + ": checksum " + hex(got) + ", expected " + hex(t.checksum);
      }
    }
    if (progress && total == 0) progress(0, 0, user_data);
    if (nbad == 0) return Status::Ok();
    if (nbad > 8) bad += "; and " + std::to_string(nbad - 8) + " more";
    return Status::Error(Code::Checksum, impl_->path + ": " + std::to_string(nbad) +
                                             " tensor(s) failed verification: " + bad);
  } catch (const std::bad_alloc&) {
    return Status::Error(Code::Io, impl_->path + ": out of memory");
  }
}

}  // namespace ggf8
