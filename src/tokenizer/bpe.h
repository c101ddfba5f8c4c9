// bpe.h — byte-level BPE (GPT-2 family: SmolLM2, Llama 3, Qwen2), built from
// tokenizer.json's model as stored in the .f8 (tokens, types, merges).
//
// Encode of one span: normalizer -> pre-tokenizer pieces -> for each piece,
// bytes mapped to GPT-2's printable alphabet -> (ignore_merges: whole piece
// in the vocabulary? one id) -> merges applied lowest rank first, leftmost
// first among equal ranks (as tokenizers' BPE::merge_word) -> ids.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/decoders.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"

namespace f8tok {

struct BpeConfig {
  std::vector<std::string> tokens;   // id -> text as in tokenizer.json
  std::vector<int32_t> types;        // id -> TokenType value (empty: all Normal)
  std::vector<std::string> merges;   // "left right", rank order
  std::vector<int32_t> merge_left_len;  // bytes of each merge's left side (tokens with spaces); empty: first fitting space
  std::string pre_tokenizer_json;    // tokenizer.json "pre_tokenizer" ("" / "null": none)
  std::string normalizer_json;       // tokenizer.json "normalizer"
  std::string decoder_json;          // tokenizer.json "decoder" ("": f8's built-in decode)
  std::string added_tokens_json;     // tokenizer.json "added_tokens" ("": match specials by type, no flags)
  bool fuse_unk = false;             // consecutive unknown characters -> one unk
  bool byte_fallback = false;        // unknown bytes -> "<0xNN>" tokens
  bool ignore_merges = false;        // a piece found whole in the vocab is one token (Llama 3)
  int32_t bos = -1, eos = -1, pad = -1, unk = -1;
  bool add_bos = false, add_eos = false;
};

class BpeTokenizer final : public Tokenizer {
 public:
  static Status create(BpeConfig cfg, std::unique_ptr<Tokenizer>* out);

  const char* kind() const override { return "bpe"; }
  const std::string& token_text(int32_t id) const override { return tokens_[static_cast<size_t>(id)]; }
  int32_t find_token(std::string_view text) const override;

 protected:
  Status encode_text(std::string_view text, bool at_start, bool parse_special,
                     std::vector<int32_t>* out) const override;
  void raw_piece(int32_t id, std::string* out) const override;
  bool strips_dummy_prefix() const override;
  bool may_strip_first(int32_t id) const override { return type(id) != TokenType::Byte; }
  bool decode_all(const int32_t* ids, size_t n, const DecodeOptions& opts, std::string* out) const override;

 private:
  BpeTokenizer() = default;
  void encode_piece(const std::string& piece, std::vector<int32_t>* out) const;
  // Pre-tokenizer + model over normalized text.
  void encode_normalized(std::string_view text, bool at_start, std::vector<int32_t>* out) const;
  void merge_word(std::vector<int32_t>* syms) const;

  static constexpr size_t kSmallWord = 64;           // merge_word's stack path
  static constexpr size_t kCacheFromBytes = 4096;     // memoize words in longer inputs

  struct MergeResult {
    int32_t rank;
    int32_t id;  // the merged token
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<uint64_t, MergeResult> merges_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_;
  std::unique_ptr<DecodeChain> chain_;     // null: built-in decode (byte-level / raw text)
  AddedTokenMatcher norm_added_;           // added tokens with normalized = true
  bool byte_level_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  bool fuse_unk_ = false;
  std::array<std::string, 256> byte_char_;   // byte -> its printable char (UTF-8)
  std::array<int32_t, 256> byte_id_{};       // byte -> id of that char token, -1 if none
  std::array<int32_t, 256> fallback_id_{};   // byte -> id of "<0xNN>", -1 if none
  std::unordered_map<uint32_t, uint8_t> char_byte_;  // printable code point -> byte
};

}  // namespace f8tok
