// grammar.h — context-free grammars over bytes for constrained decoding.
//
// Text form: GBNF as llama.cpp writes it (docs/grammar.md):
//   root   ::= "{" ws pair ("," ws pair)* "}"     # rules; '#' starts a comment
//   pair   ::= [a-z]+ ":" value?                  # [class], [^negated], ranges, escapes
//   value  ::= ("yes" | "no"){1,3} | . | <[128009]>
// Literals and classes are in code points (UTF-8 in the text, or \xHH,
// \uHHHH, \UHHHHHHHH); `.` is any code point; `<[ID]>` is the control token
// with that id (a token with no text, e.g. Mistral's [TOOL_CALLS]).
// Quantifiers *, +, ?, {n}, {n,}, {n,m}. A rule runs until the next
// `name ::=`, so bodies may span lines.
//
// Compiled form (Grammar): everything is bytes. A code point class becomes
// the alternatives of its UTF-8 byte sequences, so the grammar only ever
// matches valid UTF-8 (a token may still end inside a character: matching is
// byte by byte). A control token <[ID]> becomes the 4 bytes
// 0xFF id>>16 id>>8 id: 0xFF never occurs in UTF-8, so this byte string
// cannot be spelled by ordinary tokens (grammar_vocab.h keeps tokens with
// bytes that are never UTF-8 out of its trie, and files control tokens under
// this spelling).
//
// Each rule is a list of alternatives; an alternative is a run of elements
// in `elems` ending with an End element: Bytes (one byte out of a set) or
// Ref (another rule). Repetition becomes right recursion (x* = r ::= x r |),
// which the matcher runs without growing its stack.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace f8::sampling {

struct ByteSet {
  uint64_t w[4] = {0, 0, 0, 0};
  void set(uint8_t b) { w[b >> 6] |= uint64_t(1) << (b & 63); }
  void set_range(uint8_t lo, uint8_t hi) {
    for (int b = lo; b <= hi; ++b) set(uint8_t(b));
  }
  bool has(uint8_t b) const { return (w[b >> 6] >> (b & 63)) & 1; }
  bool operator==(const ByteSet& o) const {
    return w[0] == o.w[0] && w[1] == o.w[1] && w[2] == o.w[2] && w[3] == o.w[3];
  }
};

// The first byte of a control token's spelling (never valid in UTF-8).
constexpr uint8_t kControlTokenByte = 0xFF;
// Control token id -> its 4-byte spelling in a grammar.
std::string control_token_bytes(int32_t id);

struct Grammar {
  enum Kind : uint8_t { Bytes, Ref, End };
  struct Elem {
    Kind kind;
    int32_t arg;  // Bytes: index into sets; Ref: rule index; End: rule index
  };
  std::vector<Elem> elems;
  std::vector<ByteSet> sets;
  std::vector<std::vector<int32_t>> alts;  // per rule: index in elems of each alternative's first element
  std::vector<std::string> names;          // per rule; generated rules are "<kind>~<n>"
  int32_t root = -1;
};

// Limits on what a grammar text may ask for (keeps a hostile request from
// allocating without bound).
constexpr int32_t kMaxRepeat = 10000;       // n and m of {n,m}
constexpr size_t kMaxGrammarElems = 4 << 20;  // compiled elements

// Parses GBNF text into *out with `root` as the start rule. Returns "" on
// success, else a message naming line and column ("grammar line 3, column 7:
// undefined rule 'valu'"). Also rejected: a rule defined twice, a rule that
// can reach itself without consuming a byte through a non-tail position
// (left recursion: the matcher's stack would grow forever), an empty
// character class, a control token id outside [0, 2^24).
std::string parse_grammar(const std::string& text, const std::string& root, Grammar* out);

// UTF-8 encoding of code point cp (no validation beyond cp <= 0x10FFFF).
std::string utf8_encode(uint32_t cp);

}  // namespace f8::sampling
