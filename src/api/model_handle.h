// model_handle.h — the definition behind the opaque `f8_model` of f8.h.
// Owned by the API layer; each area reads what it needs:
//   tokenizer section  -> tokenizer
//   chat section       -> chat_template, bos_token, eos_token
//   context section    -> runtime (weights bound to file's mapping)
// Immutable after f8_model_load returns, hence shareable across threads
// (token_trie is filled once, under its once_flag).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "f8.h"
#include "ggf8/ggf8.h"
#include "model/model.h"
#include "sampling/grammar_vocab.h"
#include "tokenizer/tokenizer.h"

struct f8_model {
  // Declaration order matters: members are destroyed bottom-up, so the
  // runtime (whose weights point into the mapping) goes before the file.
  std::unique_ptr<ggf8::File> file;             // the validated mapping
  std::unique_ptr<f8tok::Tokenizer> tokenizer;  // from tokenizer.* metadata
  std::string chat_template;                    // chat.template ("" = none in the file)
  std::string bos_token, eos_token;             // chat.bos_token / chat.eos_token ("" = none)
  std::vector<int32_t> eog_ids;                 // end of generation: chat.eos_ids ∪ tokenizer eos, sorted
  bool vocab_only = false;
  std::unique_ptr<f8model::Model> runtime;      // null when vocab_only
  // Constrained decoding: the vocabulary as a byte trie (sampling/grammar_vocab.h),
  // built by the first f8_grammar_new* on this model (api_grammar.cpp).
  mutable std::once_flag token_trie_once;
  mutable std::shared_ptr<const f8::sampling::TokenTrie> token_trie;
};
