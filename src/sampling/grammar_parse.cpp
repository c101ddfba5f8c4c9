// grammar_parse.cpp — GBNF text -> Grammar (grammar.h).
#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <map>
#include <stdexcept>

#include "sampling/grammar.h"

namespace f8::sampling {

std::string utf8_encode(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xF0 | (cp >> 18));
    s += char(0x80 | ((cp >> 12) & 0x3F));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

std::string control_token_bytes(int32_t id) {
  std::string s(4, '\0');
  s[0] = char(kControlTokenByte);
  s[1] = char((id >> 16) & 0xFF);
  s[2] = char((id >> 8) & 0xFF);
  s[3] = char(id & 0xFF);
  return s;
}

namespace {

using Elem = Grammar::Elem;
using Seq = std::vector<Elem>;
using Alts = std::vector<Seq>;
using Range = std::pair<uint32_t, uint32_t>;  // code points, inclusive
using ByteSeq = std::vector<std::pair<uint8_t, uint8_t>>;  // one byte range per position

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Splits [lo, hi] (one encoded length, no surrogates) into runs whose UTF-8
// encodings are byte ranges position by position (the construction of
// Rust's regex-syntax Utf8Sequences).
void utf8_split(uint32_t lo, uint32_t hi, std::vector<ByteSeq>* out) {
  static const uint32_t kBound[] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
  for (uint32_t b : {0x7Fu, 0x7FFu, 0xFFFFu}) {
    if (lo <= b && b < hi) {
      utf8_split(lo, b, out);
      utf8_split(b + 1, hi, out);
      return;
    }
  }
  (void)kBound;
  std::string a = utf8_encode(lo);
  size_t n = a.size();
  for (size_t i = 1; i < n; ++i) {
    uint32_t m = (uint32_t(1) << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        utf8_split(lo, lo | m, out);
        utf8_split((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        utf8_split(lo, (hi & ~m) - 1, out);
        utf8_split(hi & ~m, hi, out);
        return;
      }
    }
  }
  std::string b = utf8_encode(hi);
  ByteSeq seq;
  for (size_t k = 0; k < n; ++k) seq.push_back({uint8_t(a[k]), uint8_t(b[k])});
  out->push_back(seq);
}

// Sorted, merged, surrogate-free ranges.
std::vector<Range> normalize(std::vector<Range> r) {
  std::vector<Range> cut;
  for (auto [lo, hi] : r) {
    if (lo > hi) continue;
    if (hi > 0x10FFFF) hi = 0x10FFFF;
    if (lo <= 0xDFFF && hi >= 0xD800) {  // drop surrogates
      if (lo < 0xD800) cut.push_back({lo, 0xD7FF});
      if (hi > 0xDFFF) cut.push_back({0xE000, hi});
    } else {
      cut.push_back({lo, hi});
    }
  }
  std::sort(cut.begin(), cut.end());
  std::vector<Range> out;
  for (auto x : cut) {
    if (!out.empty() && x.first <= out.back().second + 1)
      out.back().second = std::max(out.back().second, x.second);
    else
      out.push_back(x);
  }
  return out;
}

std::vector<Range> complement(const std::vector<Range>& r) {
  std::vector<Range> out;
  uint32_t next = 0;
  for (auto [lo, hi] : r) {
    if (lo > next) out.push_back({next, lo - 1});
    next = hi + 1;
  }
  if (next <= 0x10FFFF) out.push_back({next, 0x10FFFF});
  return normalize(out);
}

class Parser {
 public:
  Parser(const std::string& text, Grammar* g) : s_(text), g_(g) {}

  void run(const std::string& root) {
    skip_space();
    if (pos_ >= s_.size()) fail("the grammar is empty");
    while (pos_ < s_.size()) {
      size_t at = pos_;
      std::string name = parse_name();
      skip_space();
      if (s_.compare(pos_, 3, "::=") != 0) fail("expected '::=' after rule name '" + name + "'");
      pos_ += 3;
      int32_t r = rule_index(name, at);
      if (defined_[size_t(r)]) fail_at(at, "rule '" + name + "' is defined twice");
      defined_[size_t(r)] = true;
      rules_[size_t(r)] = parse_alternatives(false);
    }
    for (size_t r = 0; r < rules_.size(); ++r)
      if (!defined_[r]) fail_at(first_use_[r], "undefined rule '" + names_[r] + "'");
    auto it = index_.find(root);
    if (it == index_.end()) throw ParseError("grammar has no rule named '" + root + "' (the start rule)");
    flatten(it->second);
    check_left_recursion();
  }

  [[noreturn]] void fail(const std::string& msg) { fail_at(pos_, msg); }
  [[noreturn]] void fail_at(size_t at, const std::string& msg) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else if ((uint8_t(s_[i]) & 0xC0) != 0x80) {
        ++col;
      }
    }
    throw ParseError("grammar line " + std::to_string(line) + ", column " + std::to_string(col) + ": " + msg);
  }

 private:
  static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  }

  void skip_space() {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else {
        break;
      }
    }
  }

  std::string parse_name() {
    size_t b = pos_;
    while (pos_ < s_.size() && name_char(s_[pos_])) ++pos_;
    if (b == pos_) fail("expected a rule name");
    return s_.substr(b, pos_ - b);
  }

  // True when the text at pos_ is `name ::=` (the start of the next rule).
  bool at_rule_start() const {
    size_t p = pos_;
    while (p < s_.size() && name_char(s_[p])) ++p;
    if (p == pos_) return false;
    while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t' || s_[p] == '\n' || s_[p] == '\r')) ++p;
    return s_.compare(p, 3, "::=") == 0;
  }

  int32_t rule_index(const std::string& name, size_t at) {
    auto it = index_.find(name);
    if (it != index_.end()) return it->second;
    int32_t r = int32_t(rules_.size());
    index_[name] = r;
    names_.push_back(name);
    rules_.emplace_back();
    defined_.push_back(false);
    first_use_.push_back(at);
    return r;
  }

  int32_t new_rule(const std::string& base, Alts alts) {
    std::string name = base + "~" + std::to_string(++generated_);
    int32_t r = rule_index(name, pos_);
    rules_[size_t(r)] = std::move(alts);
    defined_[size_t(r)] = true;
    return r;
  }

  Elem bytes_elem(const ByteSet& bs) {
    std::array<uint64_t, 4> key = {bs.w[0], bs.w[1], bs.w[2], bs.w[3]};
    auto it = set_index_.find(key);
    if (it != set_index_.end()) return {Grammar::Bytes, it->second};
    g_->sets.push_back(bs);
    int32_t i = int32_t(g_->sets.size() - 1);
    set_index_[key] = i;
    return {Grammar::Bytes, i};
  }

  Elem byte_elem(uint8_t b) {
    ByteSet bs;
    bs.set(b);
    return bytes_elem(bs);
  }

  Alts parse_alternatives(bool nested) {
    Alts alts;
    alts.push_back(parse_sequence(nested));
    while (pos_ < s_.size() && s_[pos_] == '|') {
      ++pos_;
      skip_space();
      alts.push_back(parse_sequence(nested));
    }
    return alts;
  }

  Seq parse_sequence(bool nested) {
    Seq seq;
    for (;;) {
      skip_space();
      if (pos_ >= s_.size()) break;
      char c = s_[pos_];
      if (c == '|') break;
      if (c == ')') {
        if (!nested) fail("unmatched ')'");
        break;
      }
      if (!nested && at_rule_start()) break;
      Seq item = parse_item();
      seq.insert(seq.end(), item.begin(), item.end());
      if (seq.size() > kMaxGrammarElems) fail("the grammar is too large");
    }
    return seq;
  }

  uint32_t parse_hex(size_t n) {
    if (pos_ + n > s_.size()) fail("truncated escape");
    uint32_t v = 0;
    for (size_t i = 0; i < n; ++i) {
      char c = s_[pos_ + i];
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) fail("bad hex digit in escape");
      v = v * 16 + uint32_t(d);
    }
    pos_ += n;
    return v;
  }

  // One code point of a literal or class (pos_ at it); handles escapes.
  uint32_t parse_char() {
    if (pos_ >= s_.size()) fail("unexpected end of grammar");
    uint8_t c = uint8_t(s_[pos_]);
    if (c == '\\') {
      ++pos_;
      if (pos_ >= s_.size()) fail("unexpected end of grammar after '\\'");
      char e = s_[pos_++];
      switch (e) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case '0': return 0;
        case '\\': case '"': case '\'': case '[': case ']': case '-': case '^': case '/': case '.': case '|':
        case '(': case ')': case '*': case '+': case '?': case '{': case '}': case '<': case '>': case '#':
          return uint8_t(e);
        case 'x': return parse_hex(2);
        case 'u': return parse_hex(4);
        case 'U': return parse_hex(8);
        default: --pos_; fail(std::string("unknown escape '\\") + e + "'");
      }
    }
    // A UTF-8 sequence of the text itself.
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || pos_ + n > s_.size()) fail("invalid UTF-8 in the grammar");
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t i = 1; i < n; ++i) {
      uint8_t d = uint8_t(s_[pos_ + i]);
      if ((d & 0xC0) != 0x80) fail("invalid UTF-8 in the grammar");
      cp = (cp << 6) | (d & 0x3F);
    }
    pos_ += n;
    return cp;
  }

  void check_cp(uint32_t cp) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail("code point out of range (or a surrogate)");
  }

  // A set of code points -> elements (one Bytes when every member is one
  // byte, else a rule of the UTF-8 alternatives).
  Seq class_elems(const std::vector<Range>& ranges, const std::string& base) {
    if (ranges.empty()) fail("the character class matches nothing");
    ByteSet single;
    bool any_single = false;
    std::vector<ByteSeq> multi;
    for (auto [lo, hi] : ranges) {
      if (lo < 0x80) {
        single.set_range(uint8_t(lo), uint8_t(std::min<uint32_t>(hi, 0x7F)));
        any_single = true;
        if (hi < 0x80) continue;
        lo = 0x80;
      }
      utf8_split(lo, hi, &multi);
    }
    if (multi.empty()) return {bytes_elem(single)};
    Alts alts;
    if (any_single) alts.push_back({bytes_elem(single)});
    // Sequences of one length that differ only in their last byte range share
    // an alternative (fewer matcher stacks).
    std::map<std::vector<std::pair<uint8_t, uint8_t>>, ByteSet> merged;
    std::vector<std::vector<std::pair<uint8_t, uint8_t>>> order;
    for (const ByteSeq& seq : multi) {
      std::vector<std::pair<uint8_t, uint8_t>> head(seq.begin(), seq.end() - 1);
      if (!merged.count(head)) order.push_back(head);
      merged[head].set_range(seq.back().first, seq.back().second);
    }
    for (const auto& head : order) {
      Seq s;
      for (auto [a, b] : head) {
        ByteSet bs;
        bs.set_range(a, b);
        s.push_back(bytes_elem(bs));
      }
      s.push_back(bytes_elem(merged[head]));
      alts.push_back(s);
    }
    return {Elem{Grammar::Ref, new_rule(base, std::move(alts))}};
  }

  Seq parse_class() {
    ++pos_;  // '['
    bool neg = false;
    if (pos_ < s_.size() && s_[pos_] == '^') {
      neg = true;
      ++pos_;
    }
    std::vector<Range> ranges;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated character class");
      if (s_[pos_] == ']') {
        ++pos_;
        break;
      }
      uint32_t lo = parse_char();
      check_cp(lo);
      uint32_t hi = lo;
      if (pos_ + 1 < s_.size() && s_[pos_] == '-' && s_[pos_ + 1] != ']') {
        ++pos_;
        hi = parse_char();
        check_cp(hi);
        if (hi < lo) fail("character range is out of order");
      }
      ranges.push_back({lo, hi});
    }
    ranges = normalize(ranges);
    if (neg) ranges = complement(ranges);
    return class_elems(ranges, "class");
  }

  Seq parse_literal() {
    char quote = s_[pos_++];
    Seq seq;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string literal");
      if (s_[pos_] == quote) {
        ++pos_;
        break;
      }
      if (s_[pos_] == '\n') fail("newline inside a string literal (write \\n)");
      uint32_t cp = parse_char();
      check_cp(cp);
      for (char b : utf8_encode(cp)) seq.push_back(byte_elem(uint8_t(b)));
    }
    return seq;
  }

  Seq parse_token() {
    pos_ += 2;  // "<["
    size_t b = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    if (b == pos_ || pos_ - b > 8) fail("expected a token id in <[...]>");
    long id = std::stol(s_.substr(b, pos_ - b));
    if (s_.compare(pos_, 2, "]>") != 0) fail("expected ']>' after the token id");
    pos_ += 2;
    if (id >= (1L << 24)) fail("token id " + std::to_string(id) + " is too large");
    Seq seq;
    for (char c : control_token_bytes(int32_t(id))) seq.push_back(byte_elem(uint8_t(c)));
    return seq;
  }

  int parse_count() {
    size_t b = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    if (b == pos_) fail("expected a number in {...}");
    if (pos_ - b > 6) fail("repetition count is too large (at most " + std::to_string(kMaxRepeat) + ")");
    int v = std::stoi(s_.substr(b, pos_ - b));
    if (v > kMaxRepeat) fail("repetition count is too large (at most " + std::to_string(kMaxRepeat) + ")");
    return v;
  }

  Seq parse_item() {
    size_t at = pos_;
    char c = s_[pos_];
    Seq atom;
    if (c == '"' || c == '\'') {
      atom = parse_literal();
    } else if (c == '[') {
      atom = parse_class();
    } else if (c == '.') {
      ++pos_;
      atom = class_elems({{0, 0xD7FF}, {0xE000, 0x10FFFF}}, "any");
    } else if (c == '<' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '[') {
      atom = parse_token();
    } else if (c == '(') {
      if (++depth_ > 256) fail("groups are nested too deeply");
      ++pos_;
      skip_space();
      Alts alts = parse_alternatives(true);
      if (pos_ >= s_.size() || s_[pos_] != ')') fail_at(at, "unmatched '('");
      ++pos_;
      --depth_;
      if (alts.size() == 1) atom = alts[0];
      else atom = {Elem{Grammar::Ref, new_rule("group", std::move(alts))}};
    } else if (name_char(c)) {
      std::string name = parse_name();
      atom = {Elem{Grammar::Ref, rule_index(name, at)}};
    } else {
      fail(std::string("unexpected character '") + c + "'");
    }
    // Quantifier (no space before it, as in GBNF).
    if (pos_ >= s_.size()) return atom;
    c = s_[pos_];
    int lo = 1, hi = 1;
    if (c == '*') {
      lo = 0, hi = -1, ++pos_;
    } else if (c == '+') {
      lo = 1, hi = -1, ++pos_;
    } else if (c == '?') {
      lo = 0, hi = 1, ++pos_;
    } else if (c == '{') {
      ++pos_;
      skip_space();
      lo = parse_count();
      skip_space();
      hi = lo;
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        skip_space();
        hi = (pos_ < s_.size() && s_[pos_] == '}') ? -1 : parse_count();
        skip_space();
      }
      if (pos_ >= s_.size() || s_[pos_] != '}') fail("expected '}'");
      ++pos_;
      if (hi >= 0 && hi < lo) fail_at(at, "repetition {n,m} with m < n");
    } else {
      return atom;
    }
    return repeat(atom, lo, hi);
  }

  // atom{lo,hi} (hi < 0: unbounded) as elements.
  Seq repeat(const Seq& atom, int lo, int hi) {
    if (atom.empty()) return {};
    // A multi-element atom is wrapped in a rule so it can be referenced.
    Elem unit = atom.size() == 1 ? atom[0] : Elem{Grammar::Ref, new_rule("seq", {atom})};
    Seq out;
    for (int i = 0; i < lo; ++i) out.push_back(unit);
    if (out.size() > kMaxGrammarElems) fail("the grammar is too large");
    if (hi < 0) {
      // star ::= unit star |
      int32_t r = rule_index("star~" + std::to_string(++generated_), pos_);
      defined_[size_t(r)] = true;
      rules_[size_t(r)] = {{unit, Elem{Grammar::Ref, r}}, {}};
      out.push_back({Grammar::Ref, r});
    } else if (hi > lo) {
      // opt_k ::= unit opt_{k-1} |   (k = hi - lo optional copies, nested)
      int32_t inner = -1;
      for (int k = 0; k < hi - lo; ++k) {
        Seq first = {unit};
        if (inner >= 0) first.push_back({Grammar::Ref, inner});
        inner = new_rule("opt", {first, {}});
      }
      out.push_back({Grammar::Ref, inner});
    }
    return out;
  }

  void flatten(int32_t root) {
    g_->names = names_;
    g_->alts.assign(rules_.size(), {});
    for (size_t r = 0; r < rules_.size(); ++r) {
      for (const Seq& seq : rules_[r]) {
        g_->alts[r].push_back(int32_t(g_->elems.size()));
        g_->elems.insert(g_->elems.end(), seq.begin(), seq.end());
        g_->elems.push_back({Grammar::End, int32_t(r)});
      }
      if (g_->elems.size() > kMaxGrammarElems) throw ParseError("the grammar is too large");
    }
    g_->root = root;
  }

  // Leftmost references (A -> B where everything before B in an alternative
  // of A can be empty). A cycle through a non-tail reference would make the
  // matcher push forever (left recursion); a cycle of tail references only
  // (x* inside x*) is harmless and allowed.
  void check_left_recursion() {
    size_t n = rules_.size();
    std::vector<bool> nullable(n, false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if (nullable[r]) continue;
        for (const Seq& seq : rules_[r]) {
          bool all = true;
          for (const Elem& e : seq)
            if (e.kind == Grammar::Bytes || !nullable[size_t(e.arg)]) {
              all = false;
              break;
            }
          if (all) {
            nullable[r] = changed = true;
            break;
          }
        }
      }
    }
    struct Edge {
      int32_t to;
      bool tail;
    };
    std::vector<std::vector<Edge>> edges(n);
    for (size_t r = 0; r < n; ++r)
      for (const Seq& seq : rules_[r])
        for (size_t k = 0; k < seq.size(); ++k) {
          if (seq[k].kind == Grammar::Bytes) break;
          edges[r].push_back({seq[k].arg, k + 1 == seq.size()});
          if (!nullable[size_t(seq[k].arg)]) break;
        }
    std::vector<int> mark(n, -1);
    int stamp = 0;
    std::function<bool(int32_t, int32_t)> reaches = [&](int32_t from, int32_t target) {
      std::vector<int32_t> stack = {from};
      ++stamp;
      while (!stack.empty()) {
        int32_t x = stack.back();
        stack.pop_back();
        if (x == target) return true;
        if (mark[size_t(x)] == stamp) continue;
        mark[size_t(x)] = stamp;
        for (const Edge& e : edges[size_t(x)]) stack.push_back(e.to);
      }
      return false;
    };
    for (size_t r = 0; r < n; ++r)
      for (const Edge& e : edges[r])
        if (!e.tail && reaches(e.to, int32_t(r)))
          throw ParseError("grammar rule '" + names_[r] + "' is left-recursive (it can reach itself before "
                           "matching any byte); rewrite it with repetition");
  }

  const std::string& s_;
  Grammar* g_;
  size_t pos_ = 0;
  int generated_ = 0;
  std::map<std::string, int32_t> index_;
  std::map<std::array<uint64_t, 4>, int32_t> set_index_;
  int depth_ = 0;
  std::vector<std::string> names_;
  std::vector<Alts> rules_;
  std::vector<bool> defined_;
  std::vector<size_t> first_use_;
};

}  // namespace

std::string parse_grammar(const std::string& text, const std::string& root, Grammar* out) {
  *out = Grammar{};
  try {
    Parser p(text, out);
    p.run(root);
  } catch (const ParseError& e) {
    *out = Grammar{};
    return e.what();
  }
  return "";
}

}  // namespace f8::sampling
