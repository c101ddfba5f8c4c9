// value.cpp — ggf8::Value: typed metadata values. Scalars and numeric arrays
// keep their little-endian encoded bytes in raw_ (exactly what goes into the
// file), strings live in s_ / strs_.
#include <cstring>

#include "ggf8/ggf8.h"
#include "ggf8/layout.h"
#include "ggf8/value_codec.h"

namespace ggf8 {
namespace {

template <typename T>
T get_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

bool integer_type(VType t) { return static_cast<uint32_t>(t) <= static_cast<uint32_t>(VType::I64); }

// Reads the element at p of integer type t as (is_negative, magnitude bits).
// Unsigned -> u; signed -> i.
struct IntVal {
  bool is_signed;
  int64_t i;
  uint64_t u;
};
IntVal read_int(VType t, const uint8_t* p) {
  switch (t) {
    case VType::U8: return {false, 0, p[0]};
    case VType::I8: return {true, get_le<int8_t>(p), 0};
    case VType::U16: return {false, 0, get_le<uint16_t>(p)};
    case VType::I16: return {true, get_le<int16_t>(p), 0};
    case VType::U32: return {false, 0, get_le<uint32_t>(p)};
    case VType::I32: return {true, get_le<int32_t>(p), 0};
    case VType::U64: return {false, 0, get_le<uint64_t>(p)};
    default: return {true, get_le<int64_t>(p), 0};
  }
}

bool read_f64(VType t, const uint8_t* p, double* out) {
  if (t == VType::F32) { *out = get_le<float>(p); return true; }
  if (t == VType::F64) { *out = get_le<double>(p); return true; }
  if (!integer_type(t)) return false;
  IntVal v = read_int(t, p);
  *out = v.is_signed ? double(v.i) : double(v.u);
  return true;
}

}  // namespace

Value Value::u8(uint8_t v) { return ValueCodec::scalar(VType::U8, v); }
Value Value::i8(int8_t v) { return ValueCodec::scalar(VType::I8, v); }
Value Value::u16(uint16_t v) { return ValueCodec::scalar(VType::U16, v); }
Value Value::i16(int16_t v) { return ValueCodec::scalar(VType::I16, v); }
Value Value::u32(uint32_t v) { return ValueCodec::scalar(VType::U32, v); }
Value Value::i32(int32_t v) { return ValueCodec::scalar(VType::I32, v); }
Value Value::u64(uint64_t v) { return ValueCodec::scalar(VType::U64, v); }
Value Value::i64(int64_t v) { return ValueCodec::scalar(VType::I64, v); }
Value Value::f32(float v) { return ValueCodec::scalar(VType::F32, v); }
Value Value::f64(double v) { return ValueCodec::scalar(VType::F64, v); }
Value Value::boolean(bool v) { return ValueCodec::scalar(VType::Bool, uint8_t(v ? 1 : 0)); }
Value Value::str(std::string v) { return ValueCodec::string(std::move(v)); }
Value Value::bytes(std::vector<uint8_t> v) {
  Value x;  // moved in, not copied: the SentencePiece model can be MBs
  x.type_ = VType::Array;
  x.elem_ = VType::U8;
  x.n_ = v.size();
  x.raw_ = std::move(v);
  return x;
}
Value Value::array_i32(const std::vector<int32_t>& v) { return ValueCodec::array(VType::I32, v); }
Value Value::array_u32(const std::vector<uint32_t>& v) { return ValueCodec::array(VType::U32, v); }
Value Value::array_i64(const std::vector<int64_t>& v) { return ValueCodec::array(VType::I64, v); }
Value Value::array_f32(const std::vector<float>& v) { return ValueCodec::array(VType::F32, v); }
Value Value::array_str(std::vector<std::string> v) { return ValueCodec::string_array(std::move(v)); }

bool Value::is_integer() const { return integer_type(type_); }
bool Value::is_number() const {
  return integer_type(type_) || type_ == VType::F32 || type_ == VType::F64;
}

bool Value::get_u64(uint64_t* out) const {
  if (!is_integer() || raw_.size() < layout::scalar_size(uint32_t(type_))) return false;
  IntVal v = read_int(type_, raw_.data());
  if (v.is_signed) {
    if (v.i < 0) return false;
    *out = uint64_t(v.i);
  } else {
    *out = v.u;
  }
  return true;
}

bool Value::get_i64(int64_t* out) const {
  if (!is_integer() || raw_.size() < layout::scalar_size(uint32_t(type_))) return false;
  IntVal v = read_int(type_, raw_.data());
  if (v.is_signed) {
    *out = v.i;
  } else {
    if (v.u > uint64_t(INT64_MAX)) return false;
    *out = int64_t(v.u);
  }
  return true;
}

bool Value::get_f64(double* out) const {
  if (!is_number() || raw_.size() < layout::scalar_size(uint32_t(type_))) return false;
  return read_f64(type_, raw_.data(), out);
}

bool Value::get_bool(bool* out) const {
  if (type_ != VType::Bool || raw_.empty()) return false;
  *out = raw_[0] != 0;
  return true;
}

const std::string* Value::get_str() const { return type_ == VType::String ? &s_ : nullptr; }

uint64_t Value::array_size() const { return type_ == VType::Array ? n_ : 0; }

const std::vector<std::string>* Value::strings() const {
  return (type_ == VType::Array && elem_ == VType::String) ? &strs_ : nullptr;
}

bool Value::to_i64_vector(std::vector<int64_t>* out) const {
  if (type_ != VType::Array || !integer_type(elem_)) return false;
  uint64_t es = layout::scalar_size(uint32_t(elem_));
  if (raw_.size() != n_ * es) return false;
  std::vector<int64_t> v;
  v.reserve(n_);
  for (uint64_t i = 0; i < n_; ++i) {
    IntVal x = read_int(elem_, raw_.data() + i * es);
    if (!x.is_signed && x.u > uint64_t(INT64_MAX)) return false;
    v.push_back(x.is_signed ? x.i : int64_t(x.u));
  }
  *out = std::move(v);
  return true;
}

bool Value::to_f32_vector(std::vector<float>* out) const {
  if (type_ != VType::Array) return false;
  if (!integer_type(elem_) && elem_ != VType::F32 && elem_ != VType::F64) return false;
  uint64_t es = layout::scalar_size(uint32_t(elem_));
  if (raw_.size() != n_ * es) return false;
  std::vector<float> v;
  v.reserve(n_);
  for (uint64_t i = 0; i < n_; ++i) {
    double d = 0;
    read_f64(elem_, raw_.data() + i * es, &d);
    v.push_back(float(d));
  }
  *out = std::move(v);
  return true;
}

}  // namespace ggf8
