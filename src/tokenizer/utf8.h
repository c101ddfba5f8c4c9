// utf8.h — the few UTF-8 routines the tokenizers need: validation with the
// "maximal subpart" replacement policy (the one Rust's from_utf8_lossy and
// Python's errors="replace" use), so a full decode and a token-by-token
// streamed decode of the same ids produce the same text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace f8tok::utf8 {

inline constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence starting at s[0], or:
//   0  if s[0..n) is a strict prefix of a valid sequence (needs more bytes),
//  -k  if the bytes are invalid; k >= 1 is the length of the maximal subpart
//      to replace with one U+FFFD.
// n must be >= 1.
int sequence_length(const unsigned char* s, size_t n);

// Appends `in` to *out with every invalid sequence replaced by U+FFFD.
// If `hold_incomplete` is set, a valid-but-incomplete sequence at the very
// end is not written; its length is returned (0..3) so the caller can keep
// those bytes for later. Otherwise it is replaced too and 0 is returned.
size_t append_lossy(std::string_view in, std::string* out, bool hold_incomplete);

// True when `s` is entirely valid UTF-8.
bool valid(std::string_view s);

// Appends the UTF-8 encoding of code point `cp` (must be <= 0x10FFFF and not
// a surrogate).
void append_codepoint(uint32_t cp, std::string* out);

// Decodes the code point at s[*i] and advances *i past it; an invalid or
// truncated sequence yields U+FFFD and advances past its maximal subpart.
uint32_t next_codepoint(std::string_view s, size_t* i);

// Rust's char::is_whitespace (the Unicode White_Space property), which is
// what Hugging Face tokenizers strips or splits on.
bool is_white_space(uint32_t cp);

}  // namespace f8tok::utf8
