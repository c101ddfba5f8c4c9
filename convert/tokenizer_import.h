// tokenizer_import.h — reads the tokenizer and chat-template files of a
// Hugging Face model directory and turns them into GGF8 metadata (keys in
// ggf8/keys.h: tokenizer.*, chat.*). The convert driver calls this once and
// hands every returned KV to Writer::set_metadata.
//
// Files read (all optional except that one of tokenizer.model /
// tokenizer.json must exist):
//   tokenizer.model          SentencePiece protobuf -> tokenizer.kind =
//                            "sentencepiece", bytes stored as they are
//   tokenizer.json           byte-level BPE (model.type "BPE") -> tokens,
//                            token types, merges, pre-tokenizer family and
//                            the verbatim pre_tokenizer/normalizer/decoder
//                            JSON. Used only when there is no tokenizer.model
//                            (SentencePiece wins: it is the reference for
//                            Llama 2 / Mistral).
//   chat_template.jinja      the chat template (transformers >= 4.50 / 5
//                            write it here); wins over tokenizer_config's,
//                            as in transformers (a warning when both differ)
//   tokenizer_config.json    chat_template (string, or list of
//                            {name, template}: "default" is taken),
//                            bos_token / eos_token (string or AddedToken
//                            dict {"content": ...}), add_bos_token,
//                            add_eos_token
//   special_tokens_map.json  bos/eos/pad/unk when tokenizer_config lacks them
//   generation_config.json   eos_token_id (int or list) -> chat.eos_ids
//                            (config.json's eos_token_id when this file is absent),
//                            temperature/top_p/top_k -> chat.default.*
//
// Errors (never thrown): Code::NotFound when neither tokenizer file exists,
// Code::BadString / BadType for malformed JSON or fields of the wrong type;
// every message names the file and the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ggf8/ggf8.h"

namespace f8conv {

struct TokenizerImportOptions {
  // Model vocabulary size from config.json (0 = unknown). When larger than
  // the tokenizer's own vocabulary, the token list is padded with
  // "<unused_N>" entries of type 5 (unused) so ids stay in range; when
  // smaller, import fails with Code::BadCount.
  uint64_t model_vocab_size = 0;
  // config.json eos_token_id(s): the stop ids when generation_config.json
  // does not exist (what transformers' GenerationConfig.from_model_config does).
  std::vector<int64_t> config_eos_ids;
};

// Reads the tokenizer files in `model_dir` and appends the metadata to *out
// (nothing is appended on failure). Non-fatal observations (e.g. "no chat
// template found") go to *warnings when it is not null.
ggf8::Status import_tokenizer(const std::string& model_dir, std::vector<ggf8::KV>* out,
                              std::vector<std::string>* warnings = nullptr,
                              const TokenizerImportOptions& opts = {});

}  // namespace f8conv
