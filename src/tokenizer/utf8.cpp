// utf8.cpp — see utf8.h. Table per the Unicode standard, "Well-Formed UTF-8
// Byte Sequences" (Table 3-7).
#include "tokenizer/utf8.h"

namespace f8tok::utf8 {

int sequence_length(const unsigned char* s, size_t n) {
  const unsigned char b0 = s[0];
  if (b0 < 0x80) return 1;
  int need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    return -1;  // continuation byte or C0/C1/F5..FF lead
  }
  for (int i = 1; i < need; ++i) {
    if (static_cast<size_t>(i) >= n) return 0;  // valid so far, cut short
    const unsigned char b = s[i];
    const unsigned char l = (i == 1) ? lo : 0x80, h = (i == 1) ? hi : 0xBF;
    if (b < l || b > h) return -i;  // maximal subpart = the i bytes before
  }
  return need;
}

size_t append_lossy(std::string_view in, std::string* out, bool hold_incomplete) {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0, run = 0;  // [run, i) is valid text not yet copied
  while (i < n) {
    if (s[i] < 0x80) { ++i; continue; }
    const int len = sequence_length(s + i, n - i);
    if (len > 0) { i += static_cast<size_t>(len); continue; }
    out->append(in.data() + run, i - run);
    if (len == 0) {  // incomplete tail
      if (hold_incomplete) return n - i;
      out->append(kReplacement);
      return 0;
    }
    out->append(kReplacement);
    i += static_cast<size_t>(-len);
    run = i;
  }
  out->append(in.data() + run, i - run);
  return 0;
}

bool valid(std::string_view in) {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  size_t i = 0;
  while (i < in.size()) {
    if (s[i] < 0x80) { ++i; continue; }
    const int len = sequence_length(s + i, in.size() - i);
    if (len <= 0) return false;
    i += static_cast<size_t>(len);
  }
  return true;
}

void append_codepoint(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

uint32_t next_codepoint(std::string_view s, size_t* i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + *i;
  const size_t n = s.size() - *i;
  const int len = sequence_length(p, n);
  if (len <= 0) {  // invalid (-k) or truncated (0): one U+FFFD for the subpart
    *i += len < 0 ? static_cast<size_t>(-len) : n;
    return 0xFFFD;
  }
  uint32_t cp;
  if (len == 1) cp = p[0];
  else if (len == 2) cp = ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  else if (len == 3) cp = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
  else cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
  *i += static_cast<size_t>(len);
  return cp;
}

bool is_white_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

}  // namespace f8tok::utf8
