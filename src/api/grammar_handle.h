// grammar_handle.h — the definition behind the opaque `f8_grammar` of f8.h
// (api_grammar.cpp makes them; api_sampling.cpp attaches them to samplers).
#pragma once

#include <memory>

#include "f8.h"
#include "sampling/grammar.h"
#include "sampling/grammar_vocab.h"

struct f8_grammar {
  std::shared_ptr<const f8::sampling::Grammar> grammar;
  std::shared_ptr<const f8::sampling::TokenTrie> trie;  // of the model it was compiled for
};
