// grammar_vocab.h — which tokens a grammar allows next: the vocabulary as a
// trie of token byte strings, walked with the matcher's DFA.
//
// TokenTrie (one per model, immutable, shared): every token's bytes as the
// grammar sees them — the text it decodes to for ordinary tokens, the
// 4-byte spelling control_token_bytes(id) for control tokens. Tokens that
// decode to nothing, and ordinary tokens holding a byte that never occurs
// in UTF-8 (0xC0, 0xC1, 0xF5..0xFF), are left out: grammars match UTF-8
// text only, so such tokens could never be allowed. End-of-generation
// tokens are not in the trie; they are allowed exactly when the input is a
// complete match. Nodes are stored in depth-first order with the index just
// past their subtree, so a walk that reaches a dead state skips the whole
// subtree with one assignment.
//
// GrammarConstraint (one per sampler): the matcher, the mask of the current
// state (n_logits bits, bit set = allowed) and a small cache of masks by
// state (up to 8 MiB of them), since generation keeps coming back to the
// same states (inside a string, between array items, ...).
//
// Cost of one mask: one DFA lookup per trie node the walk does not skip
// (SmolLM2's 49,152 tokens make ~110k nodes), memoized transitions after the
// first visit of a state; measured in docs/server.md.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sampling/grammar.h"
#include "sampling/grammar_matcher.h"

namespace f8::sampling {

class TokenTrie {
 public:
  // pieces[i]: the text token i decodes to (raw bytes); control[i]: a
  // control token; eog: end-of-generation ids; n_logits: the logits width
  // (>= pieces.size(): padded rows are never allowed).
  TokenTrie(const std::vector<std::string>& pieces, const std::vector<bool>& control, std::vector<int32_t> eog,
            int32_t n_logits);

  int32_t n_logits() const { return n_logits_; }
  int32_t n_nodes() const { return int32_t(byte_.size()); }
  // The grammar spelling of a token ("" when it is never allowed).
  const std::string& spelling(int32_t id) const {
    static const std::string none;
    return id >= 0 && size_t(id) < spelling_.size() ? spelling_[size_t(id)] : none;
  }
  bool is_eog(int32_t id) const;
  const std::vector<int32_t>& eog() const { return eog_; }

  // Sets in `bits` (n_logits bits, cleared by the caller) every token whose
  // spelling leads from `state` to a live state.
  void walk(GrammarMatcher& m, int32_t state, uint64_t* bits) const;

 private:
  std::vector<uint8_t> byte_;      // per node: the byte on its incoming edge
  std::vector<uint16_t> depth_;    // per node: 1 = child of the root
  std::vector<int32_t> end_;       // per node: first node after its subtree
  std::vector<int32_t> tok_begin_; // per node + 1: tokens ending at node i are toks_[tok_begin_[i] .. tok_begin_[i+1])
  std::vector<int32_t> toks_;
  std::vector<std::string> spelling_;
  std::vector<int32_t> eog_;       // sorted
  int32_t n_logits_ = 0;
  int32_t max_depth_ = 0;
};

class GrammarConstraint {
 public:
  GrammarConstraint(std::shared_ptr<const Grammar> g, std::shared_ptr<const TokenTrie> trie);

  // Allowed tokens now: n_logits bits. Empty set possible only when the
  // grammar is stuck (no token spells any allowed continuation).
  const uint64_t* mask();
  // Advances over a sampled token. False (state unchanged) when the token is
  // not allowed. An end-of-generation token is allowed when accepting().
  bool accept(int32_t token);
  void reset();

  // The text so far is a complete match.
  bool accepting() const { return m_.accepting(m_.state()); }
  // ... that nothing may extend: only end-of-generation tokens are allowed.
  bool done() const { return accepting() && !m_.can_continue(m_.state()); }
  const TokenTrie& trie() const { return *trie_; }

 private:
  // Masks kept: as many as fit in 8 MiB (1,365 for a 49,152-token
  // vocabulary), at least 64. A JSON schema visits a few hundred states
  // (string positions under maxLength, array items, ...), so most steps hit.
  static constexpr size_t kCacheBytes = size_t(8) << 20;
  GrammarMatcher m_;
  std::shared_ptr<const TokenTrie> trie_;
  size_t words_;
  size_t max_masks_;
  // LRU of masks keyed by state (cleared when the matcher compacts).
  std::list<std::pair<int32_t, std::vector<uint64_t>>> lru_;
  std::unordered_map<int32_t, decltype(lru_)::iterator> index_;
  uint64_t epoch_ = 0;
};

}  // namespace f8::sampling
