// names.cpp — the printable names of GGF8 enums (codes, dtypes, scale kinds,
// value types) and the dtype element sizes. These strings appear in error
// messages, `f8 inspect` and its JSON, so they are part of the interface.
#include "ggf8/ggf8.h"

namespace ggf8 {

const char* code_name(Code c) {
  switch (c) {
    case Code::Ok: return "ok";
    case Code::Io: return "io";
    case Code::NoSpace: return "no-space";
    case Code::Exists: return "exists";
    case Code::BadMagic: return "bad-magic";
    case Code::BadVersion: return "bad-version";
    case Code::BadEndian: return "bad-endian";
    case Code::Truncated: return "truncated";
    case Code::Overflow: return "overflow";
    case Code::BadAlignment: return "bad-alignment";
    case Code::BadCount: return "bad-count";
    case Code::BadString: return "bad-string";
    case Code::BadType: return "bad-type";
    case Code::BadShape: return "bad-shape";
    case Code::BadOffset: return "bad-offset";
    case Code::Duplicate: return "duplicate";
    case Code::BadScale: return "bad-scale";
    case Code::Checksum: return "checksum";
    case Code::InvalidArgument: return "invalid-argument";
    case Code::NotFound: return "not-found";
  }
  return "unknown";
}

bool dtype_valid(uint32_t raw) { return raw < kDTypeCount; }

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::E4M3: case DType::E5M2: case DType::I8: case DType::U8: return 1;
  }
  return 0;
}

static constexpr const char* kDTypeNames[kDTypeCount] = {"f32", "f16", "bf16", "e4m3",
                                                         "e5m2", "i8", "u8", "i32"};

const char* dtype_name(DType t) {
  auto i = static_cast<uint32_t>(t);
  return i < kDTypeCount ? kDTypeNames[i] : "invalid";
}

bool dtype_from_name(std::string_view name, DType* out) {
  for (uint32_t i = 0; i < kDTypeCount; ++i) {
    if (name == kDTypeNames[i]) {
      *out = static_cast<DType>(i);
      return true;
    }
  }
  return false;
}

const char* scale_kind_name(ScaleKind k) {
  switch (k) {
    case ScaleKind::None: return "none";
    case ScaleKind::Tensor: return "tensor";
    case ScaleKind::Channel: return "channel";
    case ScaleKind::Block: return "block";
  }
  return "invalid";
}

const char* vtype_name(VType t) {
  static constexpr const char* kNames[] = {"u8",  "i8",  "u16", "i16",  "u32",    "i32",  "u64",
                                           "i64", "f32", "f64", "bool", "string", "array"};
  auto i = static_cast<uint32_t>(t);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "invalid";
}

uint64_t TensorInfo::count() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;  // validated by the reader/writer not to overflow
  return n;
}

}  // namespace ggf8
