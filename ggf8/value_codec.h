// value_codec.h — internal: the reader and writer build and take apart
// ggf8::Value through this friend, so Value's storage stays private.
#pragma once

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "ggf8/ggf8.h"

namespace ggf8 {

struct ValueCodec {
  // Scalar from its encoded little-endian bytes (size = scalar_size(t)).
  static Value scalar_bytes(VType t, const uint8_t* p, size_t n) {
    Value x;
    x.type_ = t;
    x.elem_ = t;
    x.raw_.assign(p, p + n);
    return x;
  }
  template <typename T>
  static Value scalar(VType t, T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // hosts are little-endian (SPEC.md)
    return scalar_bytes(t, b, sizeof(T));
  }
  template <typename T>
  static Value array(VType elem, const std::vector<T>& v) {
    Value x;
    x.type_ = VType::Array;
    x.elem_ = elem;
    x.n_ = v.size();
    x.raw_.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(x.raw_.data(), v.data(), x.raw_.size());
    return x;
  }
  static Value numeric_array(VType elem, uint64_t n, const uint8_t* p, size_t nbytes) {
    Value x;
    x.type_ = VType::Array;
    x.elem_ = elem;
    x.n_ = n;
    x.raw_.assign(p, p + nbytes);
    return x;
  }
  static Value string_array(std::vector<std::string> v) {
    Value x;
    x.type_ = VType::Array;
    x.elem_ = VType::String;
    x.n_ = v.size();
    x.strs_ = std::move(v);
    return x;
  }
  static Value string(std::string s) {
    Value x;
    x.type_ = VType::String;
    x.elem_ = VType::String;
    x.s_ = std::move(s);
    return x;
  }
  static const std::string& str(const Value& v) { return v.s_; }
  static const std::vector<std::string>& strs(const Value& v) { return v.strs_; }
  static uint64_t count(const Value& v) { return v.n_; }
};

}  // namespace ggf8
