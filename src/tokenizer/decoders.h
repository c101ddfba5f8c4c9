// decoders.h — Hugging Face `tokenizers` decoders, interpreted from the
// tokenizer.json "decoder" object stored in the .f8
// (tokenizer.bpe.decoder_json). tokenizers decodes by running a chain of
// steps over the list of token strings and joining the result; this does the
// same, step for step, so decode output matches tokenizers' decode:
//
//   ByteLevel     every token's characters back to bytes (a token with a
//                 character outside GPT-2's byte alphabet stays as it is);
//                 the whole list becomes one string, invalid UTF-8 -> U+FFFD
//   Replace       String pattern -> content, in each token
//   ByteFallback  a run of "<0xNN>" tokens becomes its bytes when they are
//                 valid UTF-8, else one U+FFFD per byte token
//   Fuse          all tokens joined into one
//   Strip         per token: up to `start` leading and `stop` trailing
//                 `content` characters removed
//   Metaspace     the replacement character -> ' '; in the first token
//                 (prepend_scheme always/first) it is dropped instead
//   Sequence      the steps in order
//   null          (no decoder) tokens joined with ' ', as tokenizers does
//
// Anything else is a BadType error naming the type and the supported ones.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace f8tok {

class DecodeChain {
 public:
  virtual ~DecodeChain() = default;
  // Runs the chain over `tokens` (token texts, specials already filtered)
  // and appends the joined result to *out. whole = false suppresses the
  // first-token rules (Metaspace's dropped prefix, Strip's `start` on token
  // 0): the tokens continue an earlier text rather than begin one.
  virtual void decode(std::vector<std::string> tokens, bool whole, std::string* out) const = 0;
  // Whether the chain drops a leading space at the start of a text
  // (Metaspace with a prepend scheme, or Strip of ' ' at the start).
  virtual bool strips_leading_space() const = 0;
};

// json "" -> *out = nullptr (the tokenizer keeps its built-in decode);
// json "null" -> the join-with-spaces chain.
Status make_decode_chain(std::string_view json, std::unique_ptr<DecodeChain>* out);

const char* supported_decoders();

}  // namespace f8tok
