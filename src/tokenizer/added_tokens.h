// added_tokens.h — finding tokenizer.json "added_tokens" in text the way
// Hugging Face tokenizers does, flags included:
//
//   matching     leftmost, then longest, non-overlapping, scanning left to
//                right; a match that a flag rejects still consumes its text
//   single_word  a match is kept only when the character before it and the
//                character after it are not word characters (\w: Alphabetic,
//                marks, decimal digits, connector punctuation, joiners)
//   lstrip       the match also swallows the White_Space run before it (not
//                reaching into the previous match)
//   rstrip       the match also swallows the White_Space run after it
//   normalized   false: matched on the raw text, before the normalizer;
//                true: matched on the normalized text of each remaining span,
//                with the token's content normalized the same way
//   special      with parse_special off, special tokens are found (and so
//                still consume their text) but left as ordinary text
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ggf8/ggf8.h"  // not tokenizer.h: that one includes this header

namespace f8tok {

using Status = ggf8::Status;
using Code = ggf8::Code;

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// Parses tokenizer.json's "added_tokens" array (as stored in
// tokenizer.bpe.added_tokens_json). Ids are checked against vocab_size.
Status parse_added_tokens(std::string_view json, int32_t vocab_size, std::vector<AddedToken>* out);

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // `tokens`: the ones this matcher looks for (contents as they appear in
  // the text it will scan). Empty contents are ignored.
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);
  bool empty() const { return tokens_.empty(); }

  struct Span {
    size_t begin, end;  // byte range in the scanned text
    int32_t id;         // -1: ordinary text
  };
  // Splits `text` into ordinary-text spans and added-token spans (whose
  // ranges include what lstrip/rstrip swallowed), in order, covering it.
  void split(std::string_view text, bool parse_special, std::vector<Span>* out) const;

 private:
  std::vector<AddedToken> tokens_;                  // longest content first
  std::vector<std::vector<uint32_t>> by_first_;     // first byte -> indices into tokens_
};

}  // namespace f8tok
