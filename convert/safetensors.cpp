// safetensors.cpp — see safetensors.h for the format and the rules enforced.
#include "convert/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

namespace f8conv {

using nlohmann::json;

namespace {

struct DTypeInfo {
  StDType t;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {StDType::BOOL, "BOOL", 1},       {StDType::U8, "U8", 1},     {StDType::I8, "I8", 1},
    {StDType::F8_E5M2, "F8_E5M2", 1}, {StDType::F8_E4M3, "F8_E4M3", 1},
    {StDType::I16, "I16", 2},         {StDType::U16, "U16", 2},   {StDType::F16, "F16", 2},
    {StDType::BF16, "BF16", 2},       {StDType::I32, "I32", 4},   {StDType::U32, "U32", 4},
    {StDType::F32, "F32", 4},         {StDType::F64, "F64", 8},   {StDType::I64, "I64", 8},
    {StDType::U64, "U64", 8},
};

Status err(Code c, const std::string& file, const std::string& msg) {
  return Status::Error(c, file + ": " + msg);
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

const char* st_dtype_name(StDType t) {
  for (const auto& d : kDTypes)
    if (d.t == t) return d.name;
  return "?";
}
size_t st_dtype_size(StDType t) {
  for (const auto& d : kDTypes)
    if (d.t == t) return d.size;
  return 0;
}
bool st_dtype_from_name(const std::string& s, StDType* out) {
  for (const auto& d : kDTypes)
    if (s == d.name) {
      *out = d.t;
      return true;
    }
  return false;
}

uint64_t StTensor::count() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;  // validated at parse time not to overflow
  return n;
}

// ---- strict JSON ------------------------------------------------------------

namespace {
// nlohmann quotes the offending input in its messages; keep error lines
// printable ASCII whatever the file holds.
std::string printable(const std::string& s) {
  std::string r;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      r += static_cast<char>(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      r += b;
    }
  }
  return r;
}
}  // namespace

bool parse_json_strict(const char* text, size_t n, json* out, std::string* errmsg) {
  // One set of seen keys per open object; arrays push nothing because only
  // objects have keys. nlohmann reports each key before its value.
  std::vector<std::set<std::string>> seen;
  std::string dup;
  auto cb = [&](int /*depth*/, json::parse_event_t ev, json& parsed) -> bool {
    switch (ev) {
      case json::parse_event_t::object_start:
        seen.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!seen.empty()) seen.pop_back();
        break;
      case json::parse_event_t::key:
        if (!seen.empty() && parsed.is_string()) {
          const std::string& k = parsed.get_ref<const std::string&>();
          if (!seen.back().insert(k).second && dup.empty()) dup = k;
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    *out = json::parse(text, text + n, cb, /*allow_exceptions=*/true);
  } catch (const json::exception& e) {
    *errmsg = "invalid JSON: " + printable(e.what());
    return false;
  }
  if (!dup.empty()) {
    *errmsg = "duplicate key \"" + printable(dup) + "\"";
    return false;
  }
  return true;
}

// ---- StFile -----------------------------------------------------------------

StFile::~StFile() {
  if (mapped_ && base_) munmap(const_cast<uint8_t*>(base_), size_);
}

Status StFile::open(const std::string& path, std::unique_ptr<StFile>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err(errno == ENOENT ? Code::NotFound : Code::Io, path, "cannot open: " + errno_text());
  struct stat st;
  if (fstat(fd, &st) != 0) {
    Status s = err(Code::Io, path, "fstat: " + errno_text());
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return err(Code::Io, path, "not a regular file");
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return err(Code::Truncated, path,
               "file is " + std::to_string(size) + " bytes, smaller than the 8-byte header length");
  }
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  ::close(fd);
  if (p == MAP_FAILED) return err(Code::Io, path, std::string("mmap: ") + std::strerror(map_errno));
  std::unique_ptr<StFile> f;
  Status s = parse(static_cast<const uint8_t*>(p), size, path, &f);
  if (!s.ok()) {
    munmap(p, size);
    return s;
  }
  f->mapped_ = true;
  *out = std::move(f);
  return Status::Ok();
}

Status StFile::parse(const uint8_t* data, size_t size, const std::string& name,
                     std::unique_ptr<StFile>* out) {
  if (size < 8)
    return err(Code::Truncated, name,
               "file is " + std::to_string(size) + " bytes, smaller than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];  // little-endian u64
  if (n > kMaxHeaderBytes)
    return err(Code::BadCount, name,
               "header length " + std::to_string(n) + " exceeds the 100000000-byte limit");
  if (n > size - 8)
    return err(Code::Truncated, name,
               "header length " + std::to_string(n) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes)");
  const char* hdr = reinterpret_cast<const char*>(data + 8);
  if (n == 0 || hdr[0] != '{')
    return err(Code::BadString, name, "header does not start with '{' (not a safetensors file?)");

  json j;
  std::string jerr;
  if (!parse_json_strict(hdr, n, &j, &jerr)) return err(Code::BadString, name, "header: " + jerr);
  if (!j.is_object()) return err(Code::BadType, name, "header is not a JSON object");

  const uint64_t buf_size = size - 8 - n;
  const uint8_t* buf = data + 8 + n;
  std::unique_ptr<StFile> f(new StFile());
  f->path_ = name;
  f->base_ = data;
  f->size_ = size;

  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) return err(Code::BadType, name, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          return err(Code::BadType, name, "__metadata__[\"" + m.key() + "\"] is not a string");
        f->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](Code c, const std::string& what) {
      return err(c, name, "tensor \"" + key + "\": " + what);
    };
    if (key.empty()) return err(Code::BadString, name, "empty tensor name");
    if (!v.is_object()) return bad(Code::BadType, "entry is not an object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto of = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) return bad(Code::BadType, "missing or non-string \"dtype\"");
    if (sh == v.end() || !sh->is_array()) return bad(Code::BadShape, "missing or non-array \"shape\"");
    if (of == v.end() || !of->is_array() || of->size() != 2)
      return bad(Code::BadOffset, "\"data_offsets\" must be an array [begin, end]");
    StTensor t;
    t.name = key;
    if (!st_dtype_from_name(dt->get<std::string>(), &t.dtype))
      return bad(Code::BadType, "unknown dtype \"" + dt->get<std::string>() + "\"");
    uint64_t count = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) return bad(Code::BadShape, "shape entries must be non-negative integers");
      uint64_t dim = d.get<uint64_t>();
      if (__builtin_mul_overflow(count, dim, &count))
        return bad(Code::Overflow, "shape element count overflows 64 bits");
      t.shape.push_back(dim);
    }
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(st_dtype_size(t.dtype)), &bytes))
      return bad(Code::Overflow, "shape x dtype size overflows 64 bits");
    if (!(*of)[0].is_number_unsigned() || !(*of)[1].is_number_unsigned())
      return bad(Code::BadOffset, "data_offsets must be non-negative integers");
    uint64_t b = (*of)[0].get<uint64_t>(), e = (*of)[1].get<uint64_t>();
    if (e < b)
      return bad(Code::BadOffset, "data_offsets end " + std::to_string(e) + " < begin " + std::to_string(b));
    if (e > buf_size)
      return bad(Code::Truncated, "data_offsets end " + std::to_string(e) + " is past the " +
                                      std::to_string(buf_size) + "-byte data buffer");
    if (e - b != bytes)
      return bad(Code::BadShape, "byte span " + std::to_string(e - b) + " != " + std::to_string(count) +
                                     " elements x " + std::to_string(st_dtype_size(t.dtype)) + " bytes (" +
                                     st_dtype_name(t.dtype) + ")");
    t.data = buf + b;
    t.nbytes = bytes;
    t.file_offset = 8 + n + b;
    f->tensors_.push_back(std::move(t));
  }

  // The tensors must tile [0, buf_size) exactly: sorted by begin, each one
  // starts where the previous ended.
  std::vector<const StTensor*> order;
  for (const auto& t : f->tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const StTensor* a, const StTensor* b) {
    return a->data != b->data ? a->data < b->data : a->nbytes < b->nbytes;
  });
  uint64_t pos = 0;
  for (const StTensor* t : order) {
    uint64_t b = static_cast<uint64_t>(t->data - buf);
    if (b != pos)
      return err(Code::BadOffset, name,
                 "tensor \"" + t->name + "\": data begins at " + std::to_string(b) + " but the previous tensor ends at " +
                     std::to_string(pos) + (b > pos ? " (hole)" : " (overlap)"));
    pos = b + t->nbytes;
  }
  if (pos != buf_size)
    return err(Code::BadOffset, name,
               "tensors cover " + std::to_string(pos) + " bytes but the data buffer holds " +
                   std::to_string(buf_size) + " (trailing bytes)");
  for (size_t i = 0; i < f->tensors_.size(); ++i) f->index_[f->tensors_[i].name] = i;
  *out = std::move(f);
  return Status::Ok();
}

const StTensor* StFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void StFile::release(const uint8_t* p, uint64_t n) const {
  if (!mapped_ || n == 0) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t b = reinterpret_cast<uintptr_t>(p), e = b + n;
  b = (b + page - 1) & ~(page - 1);  // only whole pages inside the range
  e &= ~(page - 1);
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

// ---- Checkpoint -------------------------------------------------------------

namespace {
bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}
Status read_small_file(const std::string& path, std::string* out, uint64_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err(errno == ENOENT ? Code::NotFound : Code::Io, path, "cannot open: " + errno_text());
  out->clear();
  char buf[65536];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      Status s = err(Code::Io, path, "read: " + errno_text());
      ::close(fd);
      return s;
    }
    if (r == 0) break;
    out->append(buf, static_cast<size_t>(r));
    if (out->size() > limit) {
      ::close(fd);
      return err(Code::BadCount, path, "larger than " + std::to_string(limit) + " bytes");
    }
  }
  ::close(fd);
  return Status::Ok();
}
}  // namespace

Status Checkpoint::open_dir(const std::string& dir, std::unique_ptr<Checkpoint>* out) {
  auto cp = std::make_unique<Checkpoint>();
  const std::string index_path = dir + "/model.safetensors.index.json";
  const std::string single = dir + "/model.safetensors";
  // name -> shard file for the sharded case; empty for a single file.
  std::map<std::string, std::string> weight_map;
  std::vector<std::string> shard_names;
  if (file_exists(index_path)) {
    std::string text;
    Status s = read_small_file(index_path, &text, 256ull << 20);
    if (!s.ok()) return s;
    json j;
    std::string jerr;
    if (!parse_json_strict(text.data(), text.size(), &j, &jerr)) return err(Code::BadString, index_path, jerr);
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      return err(Code::BadType, index_path, "missing \"weight_map\" object");
    std::set<std::string> shard_set;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        return err(Code::BadType, index_path, "weight_map[\"" + it.key() + "\"] is not a string");
      std::string f = it.value().get<std::string>();
      // Shards are plain file names beside the index; anything else could
      // point outside the model directory.
      if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..")
        return err(Code::InvalidArgument, index_path,
                   "weight_map[\"" + it.key() + "\"] = \"" + f + "\" is not a plain file name");
      weight_map[it.key()] = f;
      if (shard_set.insert(f).second) shard_names.push_back(f);
    }
    if (weight_map.empty()) return err(Code::BadCount, index_path, "weight_map is empty");
  } else if (file_exists(single)) {
    shard_names.push_back("model.safetensors");
  } else {
    return Status::Error(Code::NotFound, dir + ": no model.safetensors or model.safetensors.index.json");
  }
  std::sort(shard_names.begin(), shard_names.end());
  for (const auto& sn : shard_names) {
    std::unique_ptr<StFile> f;
    Status s = StFile::open(dir + "/" + sn, &f);
    if (!s.ok()) {
      if (s.code == Code::NotFound && !weight_map.empty())
        return Status::Error(Code::NotFound, index_path + ": shard \"" + sn + "\" does not exist");
      return s;
    }
    cp->files_.push_back(std::move(f));
  }
  for (size_t fi = 0; fi < cp->files_.size(); ++fi) {
    const StFile* f = cp->files_[fi].get();
    const std::string& sn = shard_names[fi];
    for (const auto& t : f->tensors()) {
      if (!weight_map.empty()) {
        auto w = weight_map.find(t.name);
        if (w == weight_map.end())
          return Status::Error(Code::NotFound, f->path() + ": tensor \"" + t.name +
                                                   "\" is not listed in model.safetensors.index.json");
        if (w->second != sn)
          return Status::Error(Code::Duplicate, f->path() + ": tensor \"" + t.name +
                                                    "\" is listed in the index under shard \"" + w->second + "\"");
      }
      if (cp->index_.count(t.name))
        return Status::Error(Code::Duplicate, f->path() + ": tensor \"" + t.name + "\" appears in two shards");
      cp->index_[t.name] = cp->entries_.size();
      cp->entries_.push_back({&t, f});
    }
  }
  for (const auto& [name, sn] : weight_map)
    if (!cp->index_.count(name))
      return Status::Error(Code::NotFound, dir + "/" + sn + ": tensor \"" + name +
                                               "\" listed in model.safetensors.index.json is missing");
  // Stream order: by file, then by offset.
  std::vector<size_t> order(cp->entries_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::map<const StFile*, size_t> file_rank;
  for (size_t i = 0; i < cp->files_.size(); ++i) file_rank[cp->files_[i].get()] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Entry &x = cp->entries_[a], &y = cp->entries_[b];
    if (x.file != y.file) return file_rank[x.file] < file_rank[y.file];
    return x.tensor->file_offset < y.tensor->file_offset;
  });
  std::vector<Entry> sorted;
  for (size_t i : order) sorted.push_back(cp->entries_[i]);
  cp->entries_ = std::move(sorted);
  cp->index_.clear();
  for (size_t i = 0; i < cp->entries_.size(); ++i) cp->index_[cp->entries_[i].tensor->name] = i;
  *out = std::move(cp);
  return Status::Ok();
}

const Checkpoint::Entry* Checkpoint::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t n = 0;
  for (const auto& e : entries_) n += e.tensor->nbytes;
  return n;
}

}  // namespace f8conv
