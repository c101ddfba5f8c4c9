// tokenizer.h — text <-> token ids for f8 models. Two implementations behind
// one interface: SentencePiece (libsentencepiece, model bytes from the .f8)
// and byte-level BPE (written here; GPT-2 / SmolLM2 / Llama 3 / Qwen2
// pre-tokenizers via PCRE2). Built from GGF8 metadata (keys in ggf8/keys.h,
// written by convert/tokenizer_import.cpp).
//
// Thread safety: a Tokenizer is immutable after load; every const method may
// be called from many threads at once. A DetokStream belongs to one thread.
//
// Bad input: text that is not valid UTF-8 is tokenized as if every invalid
// sequence were U+FFFD (maximal-subpart policy, as Python's
// errors="replace"); ids outside [0, vocab_size) are an InvalidArgument error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ggf8/ggf8.h"
#include "tokenizer/added_tokens.h"

namespace f8tok {

using Status = ggf8::Status;
using Code = ggf8::Code;

// Token types, numbered as tokenizer.token_type in ggf8/keys.h (and as
// SentencePiece's ModelProto.SentencePiece.Type).
enum class TokenType : int32_t {
  Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

struct EncodeOptions {
  bool add_special = true;    // add BOS/EOS as the model's config says
  bool parse_special = true;  // text like "<|im_start|>" becomes its control id
};

struct DecodeOptions {
  bool render_special = false;       // control tokens print their text (else nothing)
  bool strip_leading_space = false;  // SentencePiece: drop the space of a leading "▁"
                                     // (what SentencePiece's own Decode does)
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  virtual const char* kind() const = 0;  // "sentencepiece" | "bpe"
  int32_t vocab_size() const { return static_cast<int32_t>(types_.size()); }
  TokenType type(int32_t id) const { return types_[static_cast<size_t>(id)]; }
  bool valid_id(int32_t id) const { return id >= 0 && id < vocab_size(); }

  int32_t bos_id() const { return bos_; }  // -1 = none
  int32_t eos_id() const { return eos_; }
  int32_t pad_id() const { return pad_; }
  int32_t unk_id() const { return unk_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }

  // Appends the ids of `text` to *out (BOS/EOS per opts.add_special).
  Status encode(std::string_view text, const EncodeOptions& opts, std::vector<int32_t>* out) const;

  // The token's text as stored in the vocabulary (e.g. "Ġthe", "▁the", "<0x0A>").
  virtual const std::string& token_text(int32_t id) const = 0;
  // Id of a vocabulary string (token_text inverse), or -1.
  virtual int32_t find_token(std::string_view text) const = 0;

  // The bytes this token contributes to decoded text (may be a partial UTF-8
  // sequence: byte tokens, byte-level pieces of a multi-byte character).
  // Control/unknown tokens follow opts.render_special. strip_leading_space
  // is ignored here (see Decoder).
  Status piece(int32_t id, const DecodeOptions& opts, std::string* out) const;

  // Full decode: concatenated pieces, invalid UTF-8 replaced by U+FFFD.
  Status decode(const int32_t* ids, size_t n, const DecodeOptions& opts, std::string* out) const;

  // Text of special (control) and user-defined added tokens, longest first:
  // what parse_special looks for.
  const std::vector<std::pair<std::string, int32_t>>& special_texts() const { return specials_; }

 protected:
  // Implementations: encode one span of ordinary text (no special tokens,
  // valid UTF-8) and append ids. `at_start` is true for the first span of
  // the input (SentencePiece adds its dummy prefix to every span, as
  // Hugging Face's slow tokenizer does; BPE ignores it).
  // parse_special: whether special added tokens found inside the span (BPE
  // normalized added tokens) become their ids.
  virtual Status encode_text(std::string_view text, bool at_start, bool parse_special,
                             std::vector<int32_t>* out) const = 0;
  // Bytes of a Normal/Byte/UserDefined token.
  virtual void raw_piece(int32_t id, std::string* out) const = 0;
  // Whether a leading "▁"-space is dropped at the start of a decode.
  virtual bool strips_dummy_prefix() const { return false; }
  // Whether that leading space may be dropped from this token's piece
  // (SentencePiece: normal pieces only; BPE decoder chains: any token but a
  // byte token, whose space is real).
  virtual bool may_strip_first(int32_t id) const { return type(id) == TokenType::Normal; }
  // Full decode of ids the implementation does itself (BPE with a
  // tokenizer.json decoder chain); false = use the piece-by-piece decode.
  virtual bool decode_all(const int32_t* /*ids*/, size_t /*n*/, const DecodeOptions& /*opts*/,
                          std::string* /*out*/) const { return false; }

  // Set by loaders: token types (size = vocab), special ids, and the added
  // tokens matched in text (control ones only when parse_special).
  void finish_setup();  // builds specials_ from types_ / token_text()
  std::vector<TokenType> types_;
  int32_t bos_ = -1, eos_ = -1, pad_ = -1, unk_ = -1;
  bool add_bos_ = false, add_eos_ = false;
  std::vector<std::pair<std::string, int32_t>> specials_;  // text, id; longest first
  // When set (tokenizer.json added_tokens with their flags), the added tokens
  // matched on the raw text (normalized = false) with their flags; specials_
  // is then only the public list.
  bool use_added_ = false;
  AddedTokenMatcher raw_added_;

  friend class Decoder;
};

// Incremental decoder for streaming: push ids one at a time and get back only
// complete UTF-8 text. Bytes of a character split across tokens are held
// until it completes; the concatenation of everything returned (plus
// finish()) equals Tokenizer::decode of the same ids.
class Decoder {
 public:
  Decoder(const Tokenizer& tok, const DecodeOptions& opts) : tok_(tok), opts_(opts) {}
  // Appends newly complete text to *out.
  Status push(int32_t id, std::string* out);
  // Flushes held bytes (an incomplete sequence becomes U+FFFD) and resets.
  void finish(std::string* out);

 private:
  const Tokenizer& tok_;
  DecodeOptions opts_;
  std::string held_;       // bytes of an incomplete UTF-8 sequence
  bool started_ = false;   // something non-empty was produced already
};

// "<0xNN>" -> the byte NN; false for any other text.
bool parse_byte_token(std::string_view text, uint8_t* out);

// ---- loading -----------------------------------------------------------------
// Metadata lookup: returns nullptr when the key is absent.
using MetaLookup = std::function<const ggf8::Value*(std::string_view key)>;

// Builds the tokenizer described by tokenizer.* keys. Errors name the key
// and what was expected.
Status load(const MetaLookup& meta, std::unique_ptr<Tokenizer>* out);
Status load_from_file(const ggf8::File& file, std::unique_ptr<Tokenizer>* out);
Status load_from_kvs(const std::vector<ggf8::KV>& kvs, std::unique_ptr<Tokenizer>* out);

}  // namespace f8tok
