// pretokenize.h — Hugging Face `tokenizers` normalizers and pre-tokenizers,
// interpreted from the JSON stored in the .f8 (tokenizer.bpe.normalizer_json,
// tokenizer.bpe.pre_tokenizer_json), so the split of a real tokenizer.json
// is reproduced instead of guessed from a family name.
//
// Supported pre-tokenizers: Sequence, Split (Regex or String pattern;
// behaviors Isolated, Removed, MergedWithPrevious, MergedWithNext,
// Contiguous; invert), ByteLevel (add_prefix_space, use_regex with the GPT-2
// pattern), Digits (individual_digits), Metaspace (replacement,
// prepend_scheme, split), Whitespace, WhitespaceSplit. Normalizers are in
// normalize.h. Anything else is a BadType load error naming the type, never a
// silent mis-tokenization.
//
// Regexes run on PCRE2 in UTF + UCP mode with JIT; tokenizers' Oniguruma
// syntax used by GPT-2 / Llama 3 / Qwen2 (\p{L}, \p{N}, (?i:...), (?!\S))
// means the same there.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/normalize.h"  // Normalizer (declared there since normalizers grew)
#include "tokenizer/tokenizer.h"

namespace f8tok {

// The canonical pre-tokenizer JSON of the known families, for files or test
// fixtures that only name the family ("gpt2", "llama3", "qwen2", "smollm").
// Returns "" for an unknown name.
std::string pre_tokenizer_json_for(std::string_view family);

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits each piece of *pieces further, in place. Pieces are valid UTF-8.
  // at_start: the first piece begins the input text (no added token before
  // it); Metaspace's prepend_scheme "first" needs to know.
  virtual void split(std::vector<std::string>* pieces, bool at_start) const = 0;
  // Whether a ByteLevel step is present (the model then maps bytes to the
  // GPT-2 printable alphabet).
  virtual bool byte_level() const { return false; }
};
// json "null" or empty -> *out = nullptr (the whole text is one piece).
Status make_pre_tokenizer(std::string_view json, std::unique_ptr<PreTokenizer>* out);

// The pre-tokenizer types make_pre_tokenizer accepts, for error messages.
const char* supported_pre_tokenizers();

}  // namespace f8tok
