// writer.cpp — ggf8::Writer: streams tensors into `<path>.tmp.<pid>`, then
// writes the trailer (metadata + directory), patches the header, fsyncs,
// renames over `path` and fsyncs the directory (SPEC.md §Writing).
//
// Memory: the metadata and directory are kept (they go at the end); tensor
// bytes pass through a 1 MiB buffer. Errors:
//   - argument errors (bad name, shape, duplicate, misuse) are returned and
//     leave the writer usable: nothing was written for them;
//   - I/O errors and any finish() failure poison the writer and remove the
//     temporary file at once. Destroying an unfinished writer removes it too.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <unordered_map>
#include <unordered_set>

#include "ggf8/checksum.h"
#include "ggf8/ggf8.h"
#include "ggf8/layout.h"
#include "ggf8/value_codec.h"

namespace ggf8 {
namespace {

constexpr size_t kBufSize = 1 << 20;

Status io_error(int err, const std::string& what, const std::string& path) {
  Code c = (err == ENOSPC || err == EDQUOT) ? Code::NoSpace : Code::Io;
  return Status::Error(c, path + ": " + what + ": " + std::strerror(err));
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status check_name(const std::string& name, const char* what) {
  if (name.empty() || name.size() > layout::kMaxNameLen)
    return Status::Error(Code::InvalidArgument, std::string(what) + " '" + name +
                                                    "': must be 1..255 bytes, got " +
                                                    std::to_string(name.size()));
  if (!layout::valid_utf8(name))
    return Status::Error(Code::InvalidArgument, std::string(what) + ": not valid UTF-8");
  return Status::Ok();
}

}  // namespace

struct Writer::Impl {
  std::string path, tmp;
  WriterOptions opts;
  int fd = -1;
  bool poisoned = false, finished = false;
  Status error;                  // the poisoning error, returned by later calls
  uint64_t pos = 0;              // logical file position (flushed + buffered)
  uint64_t fd_off = 0;           // bytes written through fd so far (sequential)
  uint64_t wb_from = 0;          // writeback started for [0, wb_from)
  uint64_t data_offset = 0;
  uint64_t trailer_at = 0;       // where write_trailer began (= data_offset + data size)
  std::vector<uint8_t> buf;      // pending bytes at file offset pos - buf.size()

  std::vector<KV> meta;
  std::unordered_set<std::string> keys;
  std::vector<TensorInfo> tensors;
  std::unordered_map<std::string, size_t> by_name;

  bool in_tensor = false;        // between begin_tensor and end_tensor
  TensorInfo cur;
  uint64_t cur_done = 0;
  Xxh64 hash;

  ~Impl() { discard(); }

  void discard() {
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
    if (!tmp.empty() && !finished) ::unlink(tmp.c_str());
  }
  Status poison(Status s) {
    poisoned = true;
    error = s;
    discard();
    return s;
  }
  Status check_usable() const {
    if (finished) return Status::Error(Code::InvalidArgument, path + ": writer already finished");
    if (poisoned) return error;
    return Status::Ok();
  }
  // Both finish()es, before the trailer: no tensor open, the scales valid
  // (a failure poisons the writer). Not OK: return it as it is.
  Status check_finishable() {
    if (in_tensor)
      return poison(Status::Error(Code::InvalidArgument, path + ": finish() while tensor '" + cur.name + "' is open"));
    Status s = validate_scales();
    return s.ok() ? s : poison(s);
  }

  Status write_all(const uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return poison(io_error(errno, "write", tmp));
      }
      if (w == 0) return poison(io_error(EIO, "write returned 0", tmp));
      p += w;
      n -= size_t(w);
      fd_off += uint64_t(w);
    }
    start_writeback();
    return Status::Ok();
  }
  // Starts (does not wait for) writeback of every full 8 MiB written so far,
  // so the disk works while the converter computes and finish()'s fsync has
  // little left to do. Advisory: errors are ignored here because fsync in
  // finish() reports them. Measured on SmolLM2-135M (165 MB out) on a disk
  // that takes 0.39 s to write that much durably (dd conv=fsync): the final
  // fsync went from 0.28 s to about 0.22 s.
  void start_writeback() {
#if defined(__linux__)
    constexpr uint64_t kWindow = uint64_t(8) << 20;
    if (fd_off - wb_from < kWindow) return;
    uint64_t len = (fd_off - wb_from) / kWindow * kWindow;
    (void)::sync_file_range(fd, off64_t(wb_from), off64_t(len), SYNC_FILE_RANGE_WRITE);
    wb_from += len;
#endif
  }
  Status flush() {
    if (buf.empty()) return Status::Ok();
    Status s = write_all(buf.data(), buf.size());
    buf.clear();
    return s;
  }
  Status put(const void* data, uint64_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    if (buf.size() + n <= kBufSize) {
      buf.insert(buf.end(), p, p + n);
      pos += n;
      return Status::Ok();
    }
    Status s = flush();
    if (!s.ok()) return s;
    // Large pieces go straight through; the buffer stays small.
    while (n >= kBufSize) {
      size_t chunk = n > (uint64_t(1) << 30) ? (size_t(1) << 30) : size_t(n);
      s = write_all(p, chunk);
      if (!s.ok()) return s;
      p += chunk;
      n -= chunk;
      pos += chunk;
    }
    buf.insert(buf.end(), p, p + n);
    pos += n;
    return Status::Ok();
  }
  // Zero bytes up to the next multiple of `align` (a power of two).
  Status pad_to(uint64_t align) { return pad_until((pos + align - 1) & ~(align - 1)); }
  Status pad_until(uint64_t target) {
    static const uint8_t zeros[4096] = {};
    while (pos < target) {
      uint64_t n = target - pos < sizeof(zeros) ? target - pos : sizeof(zeros);
      Status s = put(zeros, n);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }
  Status put32(uint32_t v) {
    uint8_t b[4];
    layout::st32(b, v);
    return put(b, 4);
  }
  Status put64(uint64_t v) {
    uint8_t b[8];
    layout::st64(b, v);
    return put(b, 8);
  }
  Status put_str32(const std::string& s) {  // u32 length + bytes (names)
    Status st = put32(uint32_t(s.size()));
    return st.ok() ? put(s.data(), s.size()) : st;
  }
  Status put_str64(const std::string& s) {  // u64 length + bytes (string values)
    Status st = put64(s.size());
    return st.ok() ? put(s.data(), s.size()) : st;
  }

  Status validate_desc(const TensorDesc& d, uint64_t* nbytes) const;
  Status validate_scales() const;
  Status write_value(const Value& v);
  Status add_metadata(std::string key, Value v);
  Status write_trailer();
  Status rewind_trailer();
  Status commit();
  Status write_trailer_and_commit() {
    Status s = write_trailer();
    return s.ok() ? commit() : s;
  }
};

Status Writer::Impl::validate_desc(const TensorDesc& d, uint64_t* nbytes) const {
  Status s = check_name(d.name, "tensor name");
  if (!s.ok()) return s;
  const std::string t = "tensor '" + d.name + "': ";
  if (by_name.count(d.name) || (in_tensor && cur.name == d.name))
    return Status::Error(Code::Duplicate, t + "a tensor of this name was already added");
  if (!dtype_valid(uint32_t(d.dtype)))
    return Status::Error(Code::BadType, t + "unknown dtype " + std::to_string(uint32_t(d.dtype)));
  if (d.dims.empty() || d.dims.size() > kMaxDims)
    return Status::Error(Code::BadShape, t + "needs 1..4 dims, got " + std::to_string(d.dims.size()));
  uint64_t n = dtype_size(d.dtype);
  for (uint64_t dim : d.dims) {
    if (dim == 0) return Status::Error(Code::BadShape, t + "zero dimension");
    if (__builtin_mul_overflow(n, dim, &n))
      return Status::Error(Code::BadShape, t + "dims product overflows 64 bits");
  }
  switch (d.scale_kind) {
    case ScaleKind::None:
      if (!d.scale_name.empty())
        return Status::Error(Code::BadScale, t + "scale kind none but a scale tensor is named");
      break;
    case ScaleKind::Tensor:
    case ScaleKind::Channel:
    case ScaleKind::Block: {
      Status sn = check_name(d.scale_name, "scale tensor name");
      if (!sn.ok()) return Status::Error(Code::BadScale, t + sn.message);
      if (d.scale_name == d.name) return Status::Error(Code::BadScale, t + "is its own scale");
      break;
    }
    default:
      return Status::Error(Code::BadScale, t + "unknown scale kind " +
                                               std::to_string(uint32_t(d.scale_kind)));
  }
  if (d.scale_kind == ScaleKind::Block) {
    if (d.dims.size() < 2)
      return Status::Error(Code::BadScale, t + "block scales need a 2-D tensor (or a stack of them)");
    if (d.block_rows == 0 || d.block_cols == 0)
      return Status::Error(Code::BadScale, t + "block scales need nonzero block_rows/block_cols");
  } else if (d.block_rows != 0 || d.block_cols != 0) {
    return Status::Error(Code::BadScale, t + "block_rows/block_cols set but scale kind is " +
                                             scale_kind_name(d.scale_kind));
  }
  *nbytes = n;
  return Status::Ok();
}

// The scale tensor each quantized tensor names must exist, be F32 and have the
// shape its kind demands (same rule as the reader: SPEC.md §Scales).
Status Writer::Impl::validate_scales() const {
  for (const TensorInfo& t : tensors) {
    if (t.scale_kind == ScaleKind::None) continue;
    const std::string p = path + ": tensor '" + t.name + "': scale tensor '" + t.scale_name + "' ";
    auto it = by_name.find(t.scale_name);
    if (it == by_name.end()) return Status::Error(Code::BadScale, p + "was never added");
    const TensorInfo& s = tensors[it->second];
    if (s.dtype != DType::F32)
      return Status::Error(Code::BadScale, p + "must be f32, is " + dtype_name(s.dtype));
    const std::vector<uint64_t> want = layout::scale_shape(t.dims, uint32_t(t.scale_kind), t.block_rows, t.block_cols);
    if (s.dims != want)
      return Status::Error(Code::BadScale, p + "must have shape " + layout::shape_string(want) +
                                               " for scale kind " + scale_kind_name(t.scale_kind) +
                                               ", has " + layout::shape_string(s.dims));
  }
  return Status::Ok();
}

Status Writer::Impl::write_value(const Value& v) {
  Status s = put32(uint32_t(v.type()));
  if (!s.ok()) return s;
  if (v.type() == VType::String) return put_str64(ValueCodec::str(v));
  if (v.type() != VType::Array) return put(v.raw().data(), v.raw().size());
  s = put32(uint32_t(v.elem_type()));
  if (s.ok()) s = put64(ValueCodec::count(v));
  if (!s.ok()) return s;
  if (v.elem_type() != VType::String) return put(v.raw().data(), v.raw().size());
  for (const std::string& e : ValueCodec::strs(v)) {
    s = put_str64(e);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// set_metadata's checks; the entry is kept for the trailer.
Status Writer::Impl::add_metadata(std::string key, Value v) {
  Status s = check_name(key, "metadata key");
  if (!s.ok()) return s;
  if (keys.count(key)) return Status::Error(Code::Duplicate, "metadata key '" + key + "' set twice");
  const std::string k = "metadata key '" + key + "': ";
  auto check_len = [&](const std::string& str) {
    return str.size() <= layout::kMaxStringLen;
  };
  if (v.type() == VType::String && !check_len(ValueCodec::str(v)))
    return Status::Error(Code::BadString, k + "string longer than 1 GiB");
  if (v.type() == VType::Array) {
    if (v.elem_type() == VType::Array)
      return Status::Error(Code::BadType, k + "nested arrays are not allowed");
    if (v.elem_type() == VType::String) {
      for (const std::string& e : ValueCodec::strs(v))
        if (!check_len(e)) return Status::Error(Code::BadString, k + "string longer than 1 GiB");
    } else if (v.raw().size() != ValueCodec::count(v) * layout::scalar_size(uint32_t(v.elem_type()))) {
      return Status::Error(Code::InvalidArgument, k + "malformed array value");
    }
  } else if (v.type() != VType::String) {
    uint64_t sz = layout::scalar_size(uint32_t(v.type()));
    if (sz == 0 || v.raw().size() != sz)
      return Status::Error(Code::InvalidArgument, k + "empty or malformed value");
  }
  keys.insert(key);
  meta.push_back({std::move(key), std::move(v)});
  return Status::Ok();
}

// The trailer at pos (the end of the data section) and the header.
Status Writer::Impl::write_trailer() {
  const uint64_t data_size = pos - data_offset;
  const uint64_t meta_offset = pos;
  trailer_at = meta_offset;
  for (const KV& kv : meta) {
    Status s = put_str32(kv.key);
    if (s.ok()) s = write_value(kv.value);
    if (!s.ok()) return s;
  }
  const uint64_t dir_offset = pos;
  for (const TensorInfo& t : tensors) {
    Status s = put_str32(t.name);
    if (s.ok()) s = put32(uint32_t(t.dtype));
    if (s.ok()) s = put32(uint32_t(t.dims.size()));
    for (uint64_t d : t.dims)
      if (s.ok()) s = put64(d);
    if (s.ok()) s = put64(t.offset);
    if (s.ok()) s = put64(t.nbytes);
    if (s.ok()) s = put32(uint32_t(t.scale_kind));
    if (s.ok()) s = put32(t.block_rows);
    if (s.ok()) s = put32(t.block_cols);
    if (s.ok()) s = put_str32(t.scale_name);
    if (s.ok()) s = put32(t.has_checksum ? layout::kTensorFlagChecksum : 0);
    if (s.ok()) s = put64(t.checksum);
    if (!s.ok()) return s;
  }
  const uint64_t file_size = pos;
  Status s = flush();
  if (!s.ok()) return s;

  uint8_t h[layout::kHeaderSize] = {};
  std::memcpy(h + layout::kOffMagic, layout::kMagic, 4);
  // The lowest major that can express the file: stacked scaled tensors
  // (MoE experts) need 2, everything else stays readable by 1.x readers.
  uint16_t major = layout::kMajor;
  for (const TensorInfo& t : tensors)
    if (layout::stacked_scales(t.dims.size(), uint32_t(t.scale_kind))) major = layout::kMajorStacked;
  layout::st16(h + layout::kOffMajor, major);
  layout::st16(h + layout::kOffMinor, layout::kMinor);
  layout::st32(h + layout::kOffEndian, layout::kEndianMarker);
  layout::st64(h + layout::kOffAlignment, opts.alignment);
  layout::st64(h + layout::kOffFileSize, file_size);
  layout::st64(h + layout::kOffDataOffset, data_offset);
  layout::st64(h + layout::kOffDataSize, data_size);
  layout::st64(h + layout::kOffMetaOffset, meta_offset);
  layout::st64(h + layout::kOffMetaSize, dir_offset - meta_offset);
  layout::st64(h + layout::kOffMetaCount, meta.size());
  layout::st64(h + layout::kOffDirOffset, dir_offset);
  layout::st64(h + layout::kOffDirSize, file_size - dir_offset);
  layout::st64(h + layout::kOffTensorCount, tensors.size());
  for (size_t done = 0; done < sizeof(h);) {
    ssize_t w = ::pwrite(fd, h + done, sizeof(h) - done, off_t(done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return poison(io_error(w < 0 ? errno : EIO, "write header", tmp));
    done += size_t(w);
  }
  return Status::Ok();
}

// Cuts the file back to the end of its data section, for write_trailer to
// write the trailer again.
Status Writer::Impl::rewind_trailer() {
  buf.clear();
  if (::ftruncate(fd, off_t(trailer_at)) != 0) return poison(io_error(errno, "truncate", tmp));
  if (::lseek(fd, off_t(trailer_at), SEEK_SET) < 0) return poison(io_error(errno, "seek", tmp));
  pos = fd_off = trailer_at;
  wb_from = std::min(wb_from, trailer_at);
  return Status::Ok();
}

// fsync, rename into place, fsync the directory.
Status Writer::Impl::commit() {
  if (::fsync(fd) != 0) return poison(io_error(errno, "fsync", tmp));
  if (::close(fd) != 0) {
    fd = -1;
    return poison(io_error(errno, "close", tmp));
  }
  fd = -1;

  if (opts.overwrite) {
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      return poison(io_error(errno, "rename " + tmp + " to", path));
  } else {
    // Atomic no-replace: renameat2(RENAME_NOREPLACE), or link()+unlink() on
    // file systems without it. Either fails with EEXIST if `path` appeared.
    int r = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    if (r != 0 && (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)) {
      r = ::link(tmp.c_str(), path.c_str());
      if (r == 0) ::unlink(tmp.c_str());
    }
    if (r != 0) {
      if (errno == EEXIST)
        return poison(Status::Error(Code::Exists, path + ": already exists (overwrite not requested)"));
      return poison(io_error(errno, "rename " + tmp + " to", path));
    }
  }
  finished = true;  // from here on the file is at `path`; never unlink it
  const std::string dir = dir_of(path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io_error(errno, "open directory", dir);
  int r = ::fsync(dfd);
  int e = errno;
  ::close(dfd);
  // Some file systems refuse fsync on a directory (EINVAL); the rename is
  // done either way, so only real I/O errors are reported.
  if (r != 0 && e != EINVAL) return io_error(e, "fsync directory", dir);
  return Status::Ok();
}

// ---- public API ---------------------------------------------------------------

Writer::Writer() : impl_(new Impl) {}
Writer::~Writer() = default;

Status Writer::create(const std::string& path, const WriterOptions& opts,
                      std::unique_ptr<Writer>* out) {
  try {
    if (path.empty()) return Status::Error(Code::InvalidArgument, "writer: empty output path");
    if (!layout::is_pow2(opts.alignment) || opts.alignment < layout::kMinAlignment ||
        opts.alignment > layout::kMaxAlignment)
      return Status::Error(Code::BadAlignment,
                           path + ": alignment " + std::to_string(opts.alignment) +
                               " must be a power of two in [8, 65536]");
    struct stat st;
    if (!opts.overwrite && ::lstat(path.c_str(), &st) == 0)
      return Status::Error(Code::Exists, path + ": already exists (overwrite not requested)");
    std::unique_ptr<Writer> w(new Writer);
    Impl& m = *w->impl_;
    m.path = path;
    m.opts = opts;
    // `<path>.tmp.<pid>`; a second writer to the same path in this process
    // gets `<path>.tmp.<pid>.<n>`. O_EXCL: never adopt someone else's file.
    const std::string base = path + ".tmp." + std::to_string(::getpid());
    int e = 0;
    for (int n = 0; n < 100; ++n) {
      m.tmp = n == 0 ? base : base + "." + std::to_string(n);
      m.fd = ::open(m.tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      e = errno;
      if (m.fd >= 0 || e != EEXIST) break;
    }
    if (m.fd < 0) {
      std::string tried = m.tmp;
      m.tmp.clear();  // not ours: never unlink it
      return io_error(e, "create", tried);
    }
    m.buf.reserve(kBufSize);
    // Header placeholder (patched by finish), padded to the first tensor.
    m.data_offset = (layout::kHeaderSize + opts.alignment - 1) & ~(opts.alignment - 1);
    Status s = m.pad_until(m.data_offset);
    if (!s.ok()) return s;
    *out = std::move(w);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status::Error(Code::Io, path + ": out of memory");
  }
}

Status Writer::set_metadata(std::string key, Value v) {
  Impl& m = *impl_;
  Status s = m.check_usable();
  if (!s.ok()) return s;
  try {
    return m.add_metadata(std::move(key), std::move(v));
  } catch (const std::bad_alloc&) {
    return m.poison(Status::Error(Code::Io, m.path + ": out of memory"));
  }
}

Status Writer::begin_tensor(const TensorDesc& desc) {
  Impl& m = *impl_;
  Status s = m.check_usable();
  if (!s.ok()) return s;
  if (m.in_tensor)
    return Status::Error(Code::InvalidArgument, "begin_tensor '" + desc.name + "' while tensor '" +
                                                    m.cur.name + "' is still open");
  try {
    uint64_t nbytes = 0;
    s = m.validate_desc(desc, &nbytes);
    if (!s.ok()) return s;
    s = m.pad_to(m.opts.alignment);
    if (!s.ok()) return s;
    m.cur = TensorInfo{};
    static_cast<TensorDesc&>(m.cur) = desc;
    m.cur.offset = m.pos;
    m.cur.nbytes = nbytes;
    m.cur_done = 0;
    m.hash.reset(0);
    m.in_tensor = true;
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return m.poison(Status::Error(Code::Io, m.path + ": out of memory"));
  }
}

Status Writer::append(const void* data, uint64_t nbytes) {
  Impl& m = *impl_;
  Status s = m.check_usable();
  if (!s.ok()) return s;
  if (!m.in_tensor) return Status::Error(Code::InvalidArgument, "append without begin_tensor");
  if (nbytes > m.cur.nbytes - m.cur_done)
    return Status::Error(Code::BadShape, "tensor '" + m.cur.name + "': append of " +
                                             std::to_string(nbytes) + " bytes passes its size " +
                                             std::to_string(m.cur.nbytes) + " (have " +
                                             std::to_string(m.cur_done) + ")");
  if (nbytes == 0) return Status::Ok();
  if (data == nullptr) return Status::Error(Code::InvalidArgument, "append: null data");
  if (m.opts.checksums) m.hash.update(data, nbytes);
  s = m.put(data, nbytes);
  if (!s.ok()) return s;
  m.cur_done += nbytes;
  return Status::Ok();
}

Status Writer::end_tensor() {
  Impl& m = *impl_;
  Status s = m.check_usable();
  if (!s.ok()) return s;
  if (!m.in_tensor) return Status::Error(Code::InvalidArgument, "end_tensor without begin_tensor");
  if (m.cur_done != m.cur.nbytes)
    return m.poison(Status::Error(Code::BadShape, "tensor '" + m.cur.name + "': got " +
                                                      std::to_string(m.cur_done) + " of " +
                                                      std::to_string(m.cur.nbytes) + " bytes"));
  try {
    m.cur.has_checksum = m.opts.checksums;
    m.cur.checksum = m.opts.checksums ? m.hash.digest() : 0;
    m.by_name.emplace(m.cur.name, m.tensors.size());
    m.tensors.push_back(std::move(m.cur));
    m.in_tensor = false;
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return m.poison(Status::Error(Code::Io, m.path + ": out of memory"));
  }
}

Status Writer::add_tensor(const TensorDesc& desc, const void* data, uint64_t nbytes) {
  Impl& m = *impl_;
  Status s = m.check_usable();
  if (!s.ok()) return s;
  if (!m.in_tensor) {
    // Check the size before anything is written so a mismatch is harmless.
    uint64_t want = 0;
    s = m.validate_desc(desc, &want);
    if (!s.ok()) return s;
    if (want != nbytes)
      return Status::Error(Code::BadShape, "tensor '" + desc.name + "': " + std::to_string(nbytes) +
                                               " bytes given, dims x dtype need " +
                                               std::to_string(want));
  }
  s = begin_tensor(desc);
  if (s.ok()) s = append(data, nbytes);
  if (s.ok()) s = end_tensor();
  return s;
}

Status Writer::finish() { return finish(InspectFn{}); }

Status Writer::finish(const InspectFn& inspect) {
  Impl& m = *impl_;
  Status s = m.check_usable();
  if (!s.ok()) return s;
  try {
    s = m.check_finishable();
    if (!s.ok()) return s;
    if (!inspect) return m.write_trailer_and_commit();
    s = m.write_trailer();
    if (!s.ok()) return s;
    std::vector<KV> more;
    {
      std::unique_ptr<File> f;
      s = File::open(m.tmp, &f);
      if (!s.ok()) return m.poison(s);
      s = inspect(*f, &more);  // f is unmapped before the trailer changes
    }
    if (!s.ok()) return m.poison(s);
    if (!more.empty()) {
      for (KV& kv : more) {
        s = m.add_metadata(std::move(kv.key), std::move(kv.value));
        if (!s.ok()) return m.poison(Status::Error(s.code, m.path + ": " + s.message));
      }
      s = m.rewind_trailer();
      if (s.ok()) s = m.write_trailer();
      if (!s.ok()) return s;
    }
    return m.commit();
  } catch (const std::bad_alloc&) {
    return m.poison(Status::Error(Code::Io, m.path + ": out of memory"));
  }
}

uint64_t Writer::bytes_written() const { return impl_->pos; }

}  // namespace ggf8
