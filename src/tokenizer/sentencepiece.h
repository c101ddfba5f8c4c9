// sentencepiece.h — the SentencePiece tokenizer (Llama 2, Mistral): a thin
// wrapper over libsentencepiece loaded from the model protobuf bytes stored
// in the .f8 (tokenizer.sentencepiece.model).
//
// Encode: each span between special tokens goes through SentencePiece's own
// Encode (so each span gets SentencePiece's dummy "▁" prefix, as Hugging
// Face's slow/legacy Llama tokenizer does). Decode: pieces with "▁" -> ' ',
// "<0xNN>" -> byte, unknown -> " ⁇ " (SentencePiece's surface), and with
// DecodeOptions::strip_leading_space the dummy-prefix space of the first
// piece is dropped, which reproduces SentencePiece's DecodeIds.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace f8tok {

struct SpOverrides {  // from tokenizer.* keys; -1 / unset = the model's own
  int32_t bos = -2, eos = -2, pad = -2, unk = -2;  // -2: not given
  int add_bos = -1, add_eos = -1;                  // -1: not given (default: BOS yes, EOS no)
};

Status make_sentencepiece(std::string_view model_bytes, const SpOverrides& ov, std::unique_ptr<Tokenizer>* out);

}  // namespace f8tok
