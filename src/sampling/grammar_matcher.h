// grammar_matcher.h — byte-level matching of a Grammar, as a lazily built DFA.
//
// A matcher position is a set of stacks (an Earley-free pushdown automaton,
// like llama.cpp's grammar stacks): each stack is a chain of nodes
// {element position, parent}, interned so equal stacks are one id; its top
// is a Bytes element (or the empty stack: the input is a complete match).
// Reaching the end of an alternative returns to the parent; a reference in
// tail position reuses the caller's continuation, so right recursion (x*)
// keeps the stack flat.
//
// Every distinct stack set becomes a DFA state (interned), and transitions
// state x byte-class -> state are memoized, so a byte costs one table lookup
// once its transition is known. That is what makes the per-step token mask
// cheap (grammar_vocab.h walks the vocabulary trie with step()): the states
// of, say, "inside a JSON string" repeat every token, so after the first few
// steps almost every trie edge is a lookup. Byte classes (bytes that every
// set of the grammar treats alike) keep the table small: ~20-60 classes for
// JSON grammars instead of 256.
//
// Memory: states and nodes only grow; when they pass kMaxStates / kMaxNodes
// the matcher keeps the current state and drops the rest (compact()), and
// epoch() changes so caches keyed by state ids know to drop theirs.
//
// Not thread-safe: one matcher per sampler. The Grammar is shared, immutable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sampling/grammar.h"

namespace f8::sampling {

class GrammarMatcher {
 public:
  static constexpr int32_t kDead = 0;  // the state with no stack: nothing more can match
  static constexpr size_t kMaxStates = size_t(1) << 16;
  static constexpr size_t kMaxNodes = size_t(1) << 20;

  explicit GrammarMatcher(std::shared_ptr<const Grammar> g);

  int32_t state() const { return cur_; }
  // Back to the start (nothing matched yet).
  void reset();

  // The state after `byte` from `state` (kDead when the byte cannot follow).
  // Computes and memoizes unknown transitions (which may add states).
  int32_t step(int32_t state, uint8_t byte) {
    int32_t t = trans_[size_t(state) * n_classes_ + cls_[byte]];
    return t >= 0 ? t : compute(state, byte);
  }
  // The input so far (in `state`) is a complete match of the root rule.
  bool accepting(int32_t state) const { return accepting_[size_t(state)]; }
  // Some byte may still follow in `state`.
  bool can_continue(int32_t state) const { return live_[size_t(state)]; }

  // Advances the current state over `bytes`; on a byte that cannot follow it
  // returns false and leaves the state as it was.
  bool advance(const std::string& bytes);

  // Drops every state but the current one when over the limits (call only
  // between walks: state ids change). Returns true when it did.
  bool maybe_compact();
  uint64_t epoch() const { return epoch_; }
  size_t n_states() const { return sets_.size(); }

 private:
  struct Node {
    int32_t pos;     // element index (-1 for the empty stack, node 0)
    int32_t parent;  // continuation node (0 = empty stack)
  };
  struct VecHash {
    size_t operator()(const std::vector<int32_t>& v) const;
  };

  int32_t compute(int32_t state, uint8_t byte);
  int32_t intern_node(int32_t pos, int32_t parent);
  int32_t intern_state(std::vector<int32_t> set);
  void close(int32_t node);   // adds the closure of node to out_
  void build_classes();
  void init_arena();

  std::shared_ptr<const Grammar> g_;
  uint8_t cls_[256];
  int32_t n_classes_ = 0;
  std::vector<int32_t> class_rep_;  // a byte of each class

  std::vector<Node> nodes_;
  std::unordered_map<uint64_t, int32_t> node_ids_;
  std::vector<uint32_t> stamp_;  // closure visit marks (per node)
  uint32_t cur_stamp_ = 0;

  std::vector<std::vector<int32_t>> sets_;  // per state: sorted node ids
  std::unordered_map<std::vector<int32_t>, int32_t, VecHash> state_ids_;
  std::vector<int32_t> trans_;  // state * n_classes + class -> state, -1 unknown
  std::vector<uint8_t> accepting_, live_;

  std::vector<int32_t> out_, work_;
  int32_t start_ = 0, cur_ = 0;
  uint64_t epoch_ = 0;
};

}  // namespace f8::sampling
