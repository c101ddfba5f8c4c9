// normalize.h — Hugging Face `tokenizers` normalizers, interpreted from the
// tokenizer.json "normalizer" object stored in the .f8
// (tokenizer.bpe.normalizer_json).
//
// Supported: null, Sequence, NFC, NFD, NFKC, NFKD (ICU), Replace (String or
// Regex pattern), Lowercase (per code point, full mapping, no final-sigma
// rule — as Rust's char::to_lowercase), Prepend (only to non-empty text),
// Strip (left/right White_Space). Anything else is a BadType error naming the
// type and the supported ones, so an unknown normalizer is refused at
// convert time instead of silently mis-tokenizing.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace f8tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // `in` is valid UTF-8; *out receives the normalized text (valid UTF-8).
  virtual Status apply(std::string_view in, std::string* out) const = 0;
};

// json "null" or empty -> *out = nullptr (identity).
Status make_normalizer(std::string_view json, std::unique_ptr<Normalizer>* out);

// The normalizer types make_normalizer accepts, for error messages.
const char* supported_normalizers();

}  // namespace f8tok
