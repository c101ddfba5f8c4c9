// Grammar engine: GBNF parsing (and its errors), byte-level matching
// against hand-worked languages, UTF-8 classes checked against every code
// point, control tokens, and token masks over a small vocabulary compared
// with a brute-force check of each token.
#include <gtest/gtest.h>

#include <random>

#include "sampling/grammar.h"
#include "sampling/grammar_matcher.h"
#include "sampling/grammar_vocab.h"

using namespace f8::sampling;

namespace {

std::shared_ptr<const Grammar> compile(const std::string& text, std::string* err = nullptr,
                                       const std::string& root = "root") {
  auto g = std::make_shared<Grammar>();
  std::string e = parse_grammar(text, root, g.get());
  if (err) *err = e;
  if (!e.empty()) return nullptr;
  return g;
}

// Whole-string match.
bool matches(GrammarMatcher& m, const std::string& s) {
  m.reset();
  return m.advance(s) && m.accepting(m.state());
}
bool matches(const std::shared_ptr<const Grammar>& g, const std::string& s) {
  GrammarMatcher m(g);
  return matches(m, s);
}

// Prefix of some match.
bool viable(GrammarMatcher& m, const std::string& s) {
  m.reset();
  return m.advance(s);
}
bool viable(const std::shared_ptr<const Grammar>& g, const std::string& s) {
  GrammarMatcher m(g);
  return viable(m, s);
}

}  // namespace

TEST(Grammar, Literals) {
  auto g = compile("root ::= \"ab\" | \"a\" \"c\"*");
  ASSERT_TRUE(g);
  for (const char* ok : {"ab", "a", "ac", "accc"}) EXPECT_TRUE(matches(g, ok)) << ok;
  for (const char* bad : {"", "b", "abc", "acb", "aa"}) EXPECT_FALSE(matches(g, bad)) << bad;
  EXPECT_TRUE(viable(g, ""));
  EXPECT_FALSE(viable(g, "b"));
}

TEST(Grammar, Quantifiers) {
  auto g = compile("root ::= [0-9]{2,4} x? y+\nx ::= \"-\"\ny ::= \"!\"");
  ASSERT_TRUE(g);
  for (const char* ok : {"12!", "123-!!", "1234!!!"}) EXPECT_TRUE(matches(g, ok)) << ok;
  for (const char* bad : {"1!", "12345!", "12-", "12--!"}) EXPECT_FALSE(matches(g, bad)) << bad;
  auto g2 = compile("root ::= (\"ab\"){3} \"c\"{0,} \"d\"{1,}");
  ASSERT_TRUE(g2);
  EXPECT_TRUE(matches(g2, "abababd"));
  EXPECT_TRUE(matches(g2, "abababccdd"));
  EXPECT_FALSE(matches(g2, "ababd"));
}

TEST(Grammar, MultiLineRulesAndComments) {
  auto g = compile(
      "# a comment\n"
      "root ::= item\n"
      "   (\",\" item)*   # trailing comment\n"
      "item ::=\n"
      "  \"x\"\n"
      "  | \"y\"\n");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "x,y,x"));
  EXPECT_FALSE(matches(g, "x,"));
}

TEST(Grammar, RecursionNests) {
  auto g = compile("root ::= \"[\" (root (\",\" root)*)? \"]\"");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "[]"));
  EXPECT_TRUE(matches(g, "[[],[[]],[]]"));
  EXPECT_FALSE(matches(g, "[[]"));
  EXPECT_FALSE(matches(g, "[],"));
  std::string deep(500, '[');
  deep += std::string(500, ']');
  EXPECT_TRUE(matches(g, deep));
}

TEST(Grammar, NestedStarsAreFine) {
  // x* inside x*: a cycle through tail references only.
  auto g = compile("root ::= (\"a\"*)* \"b\"");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "aaab"));
  EXPECT_TRUE(matches(g, "b"));
}

TEST(Grammar, ParseErrorsNameLineAndColumn) {
  std::string err;
  EXPECT_FALSE(compile("root ::= valu", &err));
  EXPECT_NE(err.find("undefined rule 'valu'"), std::string::npos) << err;
  EXPECT_NE(err.find("line 1, column 10"), std::string::npos) << err;
  EXPECT_FALSE(compile("root ::= \"a\"\nroot ::= \"b\"", &err));
  EXPECT_NE(err.find("line 2, column 1: rule 'root' is defined twice"), std::string::npos) << err;
  EXPECT_FALSE(compile("root ::= root \"a\" | \"b\"", &err));
  EXPECT_NE(err.find("left-recursive"), std::string::npos) << err;
  EXPECT_FALSE(compile("root ::= x \"a\"\nx ::= y?\ny ::= root", &err));
  EXPECT_NE(err.find("left-recursive"), std::string::npos) << err;
  EXPECT_FALSE(compile("other ::= \"a\"", &err));
  EXPECT_NE(err.find("no rule named 'root'"), std::string::npos) << err;
  EXPECT_FALSE(compile("root ::= \"abc", &err));
  EXPECT_NE(err.find("unterminated string"), std::string::npos) << err;
  EXPECT_FALSE(compile("root ::= [z-a]", &err));
  EXPECT_NE(err.find("out of order"), std::string::npos) << err;
  EXPECT_FALSE(compile("root ::= \"a\"{3,2}", &err));
  EXPECT_FALSE(compile("root ::= \"a\"{99999}", &err));
  EXPECT_NE(err.find("too large"), std::string::npos) << err;
  EXPECT_FALSE(compile("root ::= (\"a\"", &err));
  EXPECT_FALSE(compile("root ::= \"\\q\"", &err));
  EXPECT_NE(err.find("unknown escape"), std::string::npos) << err;
  EXPECT_FALSE(compile("", &err));
  EXPECT_FALSE(compile("root ::= <[99999999]>", &err));
  EXPECT_FALSE(compile(std::string(300, '(') + "\"a\"" + std::string(300, ')'), &err));
}

// Every code point against a class, through its UTF-8 bytes.
TEST(Grammar, Utf8ClassesAgreeOnEveryCodePoint) {
  auto g = compile("root ::= [a-z\\u00e9\\u0100-\\u07ff\\u4e00-\\u9fff\\U0001F600-\\U0001F64F]");
  auto neg = compile("root ::= [^a-z\\u00e9\\u0100-\\u07ff\\u4e00-\\u9fff\\U0001F600-\\U0001F64F]");
  auto any = compile("root ::= .");
  ASSERT_TRUE(g && neg && any);
  GrammarMatcher mg(g), mneg(neg), many(any);
  auto in = [](uint32_t c) {
    return (c >= 'a' && c <= 'z') || c == 0xe9 || (c >= 0x100 && c <= 0x7ff) || (c >= 0x4e00 && c <= 0x9fff) ||
           (c >= 0x1F600 && c <= 0x1F64F);
  };
  for (uint32_t c = 0; c <= 0x10FFFF; c += (c < 0x11000 ? 1 : 61)) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    std::string s = utf8_encode(c);
    ASSERT_EQ(matches(mg, s), in(c)) << std::hex << c;
    ASSERT_EQ(matches(mneg, s), !in(c)) << std::hex << c;
    ASSERT_TRUE(matches(many, s)) << std::hex << c;
  }
  // Never anything that is not UTF-8.
  for (const char* bad : {"\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF", "\x80"})
    EXPECT_FALSE(matches(any, bad)) << bad;
}

TEST(Grammar, ControlTokens) {
  auto g = compile("root ::= <[5]> \"[\" [0-9]+ \"]\"");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, control_token_bytes(5) + "[12]"));
  EXPECT_FALSE(matches(g, control_token_bytes(6) + "[12]"));
  EXPECT_FALSE(matches(g, "[12]"));
}

namespace {

// A small vocabulary: the 256 bytes that are UTF-8 lead/ASCII bytes, some
// words, multi-byte characters, a control token and an EOS.
struct Vocab {
  std::vector<std::string> pieces;
  std::vector<bool> control;
  int32_t eos, ctl;
};

Vocab small_vocab() {
  Vocab v;
  for (int b = 0; b < 256; ++b) v.pieces.push_back(std::string(1, char(b)));
  for (const char* w : {"true", "tr", "ue", "false", "null", "\"", "\":", "\",", "{\"", "\"}", "12", "3.5", " {",
                        "ab", "abc", "é", "日本", "\xE6\x97", "\xA5", "},{", "[", "]", ", ", ": ", "\n  "})
    v.pieces.push_back(w);
  v.pieces.push_back("");  // a token with no text
  v.control.assign(v.pieces.size() + 2, false);
  v.ctl = int32_t(v.pieces.size());
  v.pieces.push_back("");
  v.control[size_t(v.ctl)] = true;
  v.eos = int32_t(v.pieces.size());
  v.pieces.push_back("");
  v.control[size_t(v.eos)] = true;
  return v;
}

}  // namespace

TEST(GrammarMask, EqualsBruteForce) {
  Vocab v = small_vocab();
  auto trie = std::make_shared<TokenTrie>(v.pieces, v.control, std::vector<int32_t>{v.eos}, int32_t(v.pieces.size()) + 3);
  std::string ctl = "<[" + std::to_string(v.ctl) + "]>";
  auto g = compile("root ::= " + ctl + "? \"{\" ws (pair (\",\" ws pair)*)? ws \"}\"\n"
                   "pair ::= \"\\\"\" [a-z\\u00e9\\u65e5\\u672c]* \"\\\":\" ws val\n"
                   "val ::= \"true\" | \"false\" | \"null\" | [0-9]+ (\".\" [0-9]+)?\n"
                   "ws ::= [ \\n]*");
  ASSERT_TRUE(g);
  GrammarConstraint c(g, trie);
  GrammarMatcher ref(g);
  std::mt19937 rng(7);
  int steps = 0;
  for (int run = 0; run < 40; ++run) {
    c.reset();
    std::string text;
    for (int k = 0; k < 60; ++k, ++steps) {
      const uint64_t* mask = c.mask();
      std::vector<int32_t> allowed;
      for (int32_t t = 0; t < trie->n_logits(); ++t) {
        bool bit = (mask[t >> 6] >> (t & 63)) & 1;
        // Brute force: the token's spelling keeps the text a viable prefix.
        bool want;
        if (t == v.eos) {
          want = matches(ref, text);
        } else if (t >= int32_t(v.pieces.size()) || trie->spelling(t).empty()) {
          want = false;
        } else {
          want = viable(ref, text + trie->spelling(t));
        }
        ASSERT_EQ(bit, want) << "token " << t << " after '" << text << "'";
        if (bit) allowed.push_back(t);
      }
      ASSERT_FALSE(allowed.empty()) << text;
      int32_t pick = allowed[rng() % allowed.size()];
      if (pick == v.eos) break;
      ASSERT_TRUE(c.accept(pick));
      text += trie->spelling(pick);
    }
  }
  EXPECT_GT(steps, 200);
  // A token that is not allowed is refused and changes nothing.
  c.reset();
  EXPECT_FALSE(c.accept('x'));
  EXPECT_TRUE(c.accept(v.ctl));
  EXPECT_TRUE(c.accept('{'));
  EXPECT_FALSE(c.done());
  EXPECT_TRUE(c.accept('}'));
  EXPECT_TRUE(c.done());
  EXPECT_TRUE(c.accept(v.eos));
}

TEST(GrammarMask, CompactionKeepsTheState) {
  auto g = compile("root ::= \"[\" (root (\",\" root)*)? \"]\"");
  ASSERT_TRUE(g);
  GrammarMatcher m(g);
  // Deep nesting creates a state per depth; force compaction by walking deep.
  std::string s;
  for (int i = 0; i < 3000; ++i) s += "[";
  ASSERT_TRUE(m.advance(s));
  bool compacted = false;
  for (int i = 0; i < 70000 && !compacted; ++i) {
    // Touch many states: nested levels each a new stack.
    std::string more = "[";
    if (!m.advance(more)) break;
    s += more;
    compacted = m.maybe_compact();
  }
  ASSERT_TRUE(compacted);
  std::string close(s.size(), ']');
  EXPECT_TRUE(m.advance(close));
  EXPECT_TRUE(m.accepting(m.state()));
}
