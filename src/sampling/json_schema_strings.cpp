// json_schema_strings.cpp — string contents as grammars: JSON-escaped
// character sets, `pattern` (a regex subset) and `format`.
//
// Everything here describes the text *between the quotes* of a JSON string,
// so a character of the decoded value is written as JSON requires: raw, or
// for ", \ and controls their escape (\" \\ \n \t \r \b \f, else \u00XX).
//
// Regex subset (ECMA-262, which JSON Schema specifies; Python's `re` agrees
// on all of it): literals and escaped punctuation, `.` (not \n \r \u2028
// \u2029), classes [...] / [^...] with ranges, \d \w \s (ASCII) and
// \D \W \S (their complement within ASCII: a subset of both ECMA's and
// Python's meaning, so generated text always matches), \t \n \r \f \v \0
// \xHH \uHHHH \u{H...}, groups (...), (?:...), (?<name>...), alternation,
// quantifiers * + ? {n} {n,} {n,m} (lazy forms accepted: they do not change
// what matches), ^ at the start and $ at the end of a top-level
// alternative. JSON Schema patterns are not anchored: a missing ^ or $
// allows any text before or after. Refused, naming the construct:
// backreferences, lookaround, \b \B, \p{...}, \cX, anchors elsewhere.
#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "sampling/json_schema.h"

namespace f8::sampling {

namespace {

CodeRanges norm(CodeRanges r) {
  std::sort(r.begin(), r.end());
  CodeRanges out;
  for (auto x : r) {
    if (x.first > x.second) continue;
    if (!out.empty() && x.first <= out.back().second + 1)
      out.back().second = std::max(out.back().second, x.second);
    else
      out.push_back(x);
  }
  return out;
}

CodeRanges complement_in(const CodeRanges& r, uint32_t lo, uint32_t hi) {
  CodeRanges out;
  uint32_t next = lo;
  for (auto [a, b] : norm(r)) {
    if (b < lo || a > hi) continue;
    if (a > next) out.push_back({next, a - 1});
    next = std::max(next, b + 1);
  }
  if (next <= hi) out.push_back({next, hi});
  return out;
}

CodeRanges intersect(const CodeRanges& a, const CodeRanges& b) {
  CodeRanges out;
  for (auto [x1, y1] : a)
    for (auto [x2, y2] : b) {
      uint32_t lo = std::max(x1, x2), hi = std::min(y1, y2);
      if (lo <= hi) out.push_back({lo, hi});
    }
  return norm(out);
}

std::string class_char(uint32_t c) {
  char buf[16];
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return std::string(1, char(c));
  if (c <= 0xFFFF) snprintf(buf, sizeof buf, "\\u%04X", c);
  else snprintf(buf, sizeof buf, "\\U%08X", c);
  return buf;
}

const CodeRanges kDigit = {{'0', '9'}};
const CodeRanges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const CodeRanges kSpace = {{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}, {0x1680, 0x1680}, {0x2000, 0x200A},
                           {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
const CodeRanges kDot = {{0, 9}, {11, 12}, {14, 0x2027}, {0x202A, 0x10FFFF}};
const CodeRanges kAll = {{0, 0x10FFFF}};

// ---------------------------------------------------------------- regex AST
struct Re {
  enum Kind { Set, Seq, Alt, Repeat } kind = Seq;
  CodeRanges set;
  std::vector<Re> kids;
  int lo = 1, hi = 1;  // Repeat; hi < 0 = unbounded
};

struct RegexError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class RegexParser {
 public:
  explicit RegexParser(const std::string& p) : p_(p) {}

  // Top level: alternatives, each with optional ^ / $ anchors.
  Re parse_top() {
    Re alt;
    alt.kind = Re::Alt;
    do {
      bool start = false, end = false;
      if (peek() == '^') {
        start = true;
        ++i_;
      }
      Re seq = parse_seq(&end);
      Re full;
      full.kind = Re::Seq;
      if (!start) full.kids.push_back(star(kAll));
      full.kids.push_back(seq);
      if (!end) full.kids.push_back(star(kAll));
      alt.kids.push_back(full);
    } while (eat('|'));
    if (i_ < p_.size()) fail("unbalanced ')'");
    return alt;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw RegexError(what + " (at offset " + std::to_string(i_) + " of the pattern)");
  }
  int peek() const { return i_ < p_.size() ? uint8_t(p_[i_]) : -1; }
  bool eat(char c) {
    if (peek() == uint8_t(c)) {
      ++i_;
      return true;
    }
    return false;
  }

  static Re star(const CodeRanges& set) {
    Re s;
    s.kind = Re::Set;
    s.set = set;
    Re r;
    r.kind = Re::Repeat;
    r.lo = 0;
    r.hi = -1;
    r.kids.push_back(s);
    return r;
  }

  // One UTF-8 code point of the pattern text.
  uint32_t next_cp() {
    uint8_t c = uint8_t(p_[i_]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    if (i_ + n > p_.size()) fail("invalid UTF-8");
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (uint8_t(p_[i_ + k]) & 0x3F);
    i_ += n;
    return cp;
  }

  uint32_t hex(size_t n) {
    if (i_ + n > p_.size()) fail("truncated escape");
    uint32_t v = 0;
    for (size_t k = 0; k < n; ++k) {
      char c = p_[i_ + k];
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) fail("bad hex escape");
      v = v * 16 + uint32_t(d);
    }
    i_ += n;
    return v;
  }

  // After '\': a set (class escapes) or one code point.
  CodeRanges parse_escape(bool in_class) {
    if (i_ >= p_.size()) fail("pattern ends with '\\'");
    char e = p_[i_++];
    auto one = [](uint32_t c) { return CodeRanges{{c, c}}; };
    switch (e) {
      case 'd': return kDigit;
      case 'D': return complement_in(kDigit, 0, 0x7F);
      case 'w': return kWord;
      case 'W': return complement_in(kWord, 0, 0x7F);
      case 's': return kSpace;
      case 'S': return complement_in(kSpace, 0, 0x7F);
      case 't': return one('\t');
      case 'n': return one('\n');
      case 'r': return one('\r');
      case 'f': return one('\f');
      case 'v': return one('\v');
      case '0':
        if (peek() >= '0' && peek() <= '9') fail("octal escapes are not supported");
        return one(0);
      case 'x': return one(hex(2));
      case 'u':
        if (eat('{')) {
          size_t b = i_;
          while (i_ < p_.size() && p_[i_] != '}') ++i_;
          if (i_ >= p_.size() || i_ == b || i_ - b > 6) fail("bad \\u{...} escape");
          size_t save = i_;
          i_ = b;
          uint32_t v = hex(save - b);
          ++i_;
          if (v > 0x10FFFF) fail("code point out of range");
          return one(v);
        } else {
          uint32_t v = hex(4);
          if (v >= 0xD800 && v <= 0xDFFF) fail("surrogate escapes (\\uD800-\\uDFFF) are not supported");
          return one(v);
        }
      case 'b':
        if (in_class) return one('\b');
        fail("word boundaries (\\b) are not supported");
      case 'B': fail("word boundaries (\\B) are not supported");
      case 'p': case 'P': fail("Unicode property escapes (\\p{...}) are not supported");
      case 'c': fail("control escapes (\\cX) are not supported");
      case 'k': fail("named backreferences (\\k<...>) are not supported");
      default:
        if (e >= '1' && e <= '9') fail("backreferences are not supported");
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) fail(std::string("unknown escape \\") + e);
        --i_;
        return one(next_cp());
    }
  }

  CodeRanges parse_class() {
    bool neg = eat('^');
    CodeRanges set;
    bool first = true;
    while (true) {
      if (i_ >= p_.size()) fail("unterminated character class");
      if (peek() == ']' && !first) {
        ++i_;
        break;
      }
      if (peek() == ']' && first) {  // "[]" matches nothing in ECMA; refuse
        fail("empty character class");
      }
      first = false;
      CodeRanges a;
      bool single = true;
      if (eat('\\')) {
        a = parse_escape(true);
        single = a.size() == 1 && a[0].first == a[0].second;
      } else {
        uint32_t c = next_cp();
        a = {{c, c}};
      }
      if (single && peek() == '-' && i_ + 1 < p_.size() && p_[i_ + 1] != ']') {
        ++i_;
        CodeRanges b;
        if (eat('\\')) b = parse_escape(true);
        else {
          uint32_t c = next_cp();
          b = {{c, c}};
        }
        if (b.size() != 1 || b[0].first != b[0].second) fail("a class escape cannot end a range");
        if (b[0].first < a[0].first) fail("character range is out of order");
        set.push_back({a[0].first, b[0].first});
      } else {
        set.insert(set.end(), a.begin(), a.end());
      }
    }
    set = norm(set);
    // A negated class keeps to what the positive parts allow in both regex
    // dialects: complement within all code points (no \d \w \s inside makes
    // the dialects differ).
    return neg ? complement_in(set, 0, 0x10FFFF) : set;
  }

  Re parse_atom() {
    Re r;
    r.kind = Re::Set;
    int c = peek();
    if (c == '(') {
      ++i_;
      if (eat('?')) {
        if (eat(':')) {
        } else if (peek() == '<' && i_ + 1 < p_.size() && p_[i_ + 1] != '=' && p_[i_ + 1] != '!') {
          while (i_ < p_.size() && p_[i_] != '>') ++i_;
          if (!eat('>')) fail("unterminated group name");
        } else {
          fail("lookaround and other (?...) groups are not supported");
        }
      }
      if (++depth_ > 100) fail("groups nested too deeply");
      Re alt;
      alt.kind = Re::Alt;
      do {
        bool end = false;
        alt.kids.push_back(parse_seq(&end));
        if (end) fail("'$' inside a group is not supported");
      } while (eat('|'));
      if (!eat(')')) fail("missing ')'");
      --depth_;
      return alt;
    }
    if (c == '[') {
      ++i_;
      r.set = parse_class();
      return r;
    }
    if (c == '.') {
      ++i_;
      r.set = kDot;
      return r;
    }
    if (c == '\\') {
      ++i_;
      r.set = parse_escape(false);
      return r;
    }
    if (c == '^') fail("'^' is supported only at the start of the pattern");
    if (c == '*' || c == '+' || c == '?') fail("nothing to repeat");
    uint32_t cp = next_cp();
    r.set = {{cp, cp}};
    return r;
  }

  // {n}, {n,}, {n,m} at i_ (after '{'); false (i_ restored) when it is a literal '{'.
  bool parse_braces(int* lo, int* hi) {
    size_t save = i_;
    auto num = [&](int* out) {
      size_t b = i_;
      while (i_ < p_.size() && p_[i_] >= '0' && p_[i_] <= '9') ++i_;
      if (b == i_ || i_ - b > 5) return false;
      *out = std::stoi(p_.substr(b, i_ - b));
      return true;
    };
    if (!num(lo)) {
      i_ = save;
      return false;
    }
    *hi = *lo;
    if (eat(',')) {
      if (peek() == '}') *hi = -1;
      else if (!num(hi)) {
        i_ = save;
        return false;
      }
    }
    if (!eat('}')) {
      i_ = save;
      return false;
    }
    if (*hi >= 0 && *hi < *lo) fail("quantifier {n,m} with m < n");
    if (*lo > 1000 || *hi > 1000) fail("quantifier counts above 1000 are not supported");
    return true;
  }

  Re parse_seq(bool* end_anchor) {
    Re seq;
    seq.kind = Re::Seq;
    while (i_ < p_.size()) {
      int c = peek();
      if (c == '|' || c == ')') break;
      if (c == '$') {
        ++i_;
        if (i_ < p_.size() && peek() != '|' && peek() != ')') fail("'$' is supported only at the end of the pattern");
        *end_anchor = true;
        break;
      }
      Re atom = parse_atom();
      // Quantifiers.
      int lo = 1, hi = 1;
      bool quant = true;
      c = peek();
      if (c == '*') lo = 0, hi = -1, ++i_;
      else if (c == '+') lo = 1, hi = -1, ++i_;
      else if (c == '?') lo = 0, hi = 1, ++i_;
      else if (c == '{') {
        ++i_;
        if (!parse_braces(&lo, &hi)) {
          --i_;
          quant = false;
        }
      } else {
        quant = false;
      }
      if (quant) {
        eat('?');  // lazy: same language
        int n = peek();
        if (n == '*' || n == '+' || n == '?' || (n == '{' && i_ + 1 < p_.size() && std::isdigit(uint8_t(p_[i_ + 1]))))
          fail("nothing to repeat");
        Re rep;
        rep.kind = Re::Repeat;
        rep.lo = lo;
        rep.hi = hi;
        rep.kids.push_back(atom);
        seq.kids.push_back(rep);
      } else {
        seq.kids.push_back(atom);
      }
    }
    return seq;
  }

  const std::string& p_;
  size_t i_ = 0;
  int depth_ = 0;
};

std::string emit(const Re& r) {
  switch (r.kind) {
    case Re::Set: return json_char_gbnf(r.set);
    case Re::Seq: {
      std::string s;
      for (const Re& k : r.kids) {
        std::string e = emit(k);
        if (e.empty()) continue;
        s += (s.empty() ? "" : " ") + e;
      }
      return s.empty() ? "" : "(" + s + ")";
    }
    case Re::Alt: {
      if (r.kids.size() == 1) return emit(r.kids[0]);
      std::string s = "(";
      for (size_t i = 0; i < r.kids.size(); ++i) {
        std::string e = emit(r.kids[i]);
        s += (i ? " | " : "") + (e.empty() ? "\"\"" : e);
      }
      return s + ")";
    }
    case Re::Repeat: {
      std::string e = emit(r.kids[0]);
      if (e.empty() || r.hi == 0) return "";
      if (r.lo == 0 && r.hi < 0) return e + "*";
      if (r.lo == 1 && r.hi < 0) return e + "+";
      if (r.lo == 0 && r.hi == 1) return e + "?";
      if (r.lo == 1 && r.hi == 1) return e;
      return e + "{" + std::to_string(r.lo) + (r.hi == r.lo ? "" : "," + (r.hi < 0 ? "" : std::to_string(r.hi))) + "}";
    }
  }
  return "";
}

}  // namespace

std::string json_char_gbnf(const CodeRanges& set_in) {
  CodeRanges set = norm(set_in);
  // Surrogates cannot be written (raw or as a lone \u escape).
  set = intersect(set, {{0, 0xD7FF}, {0xE000, 0x10FFFF}});
  CodeRanges raw = intersect(set, {{0x20, 0x21}, {0x23, 0x5B}, {0x5D, 0x10FFFF}});
  std::vector<std::string> alts;
  if (!raw.empty()) {
    std::string c = "[";
    for (auto [a, b] : raw) {
      c += class_char(a);
      if (a != b) c.append(1, '-').append(class_char(b));
    }
    alts.push_back(c + "]");
  }
  for (auto [a, b] : set) {
    for (uint32_t c = a; c <= b && c < 0x20; ++c) {
      const char* esc = c == '\n' ? "n" : c == '\t' ? "t" : c == '\r' ? "r" : c == '\b' ? "b" : c == '\f' ? "f" : nullptr;
      char buf[16];
      if (esc) snprintf(buf, sizeof buf, "\"\\\\%s\"", esc);
      else snprintf(buf, sizeof buf, "\"\\\\u%04x\"", c);
      alts.push_back(buf);
    }
    if (a <= '"' && '"' <= b) alts.push_back("\"\\\\\\\"\"");
    if (a <= '\\' && '\\' <= b) alts.push_back("\"\\\\\\\\\"");
  }
  if (alts.empty()) return "";
  if (alts.size() == 1) return alts[0];
  std::string s = "(";
  for (size_t i = 0; i < alts.size(); ++i) s += (i ? " | " : "") + alts[i];
  return s + ")";
}

bool regex_to_gbnf(const std::string& pattern, std::string* gbnf, std::string* err) {
  try {
    RegexParser p(pattern);
    Re r = p.parse_top();
    *gbnf = emit(r);
    if (gbnf->empty()) *gbnf = "\"\"";
    return true;
  } catch (const RegexError& e) {
    *err = e.what();
    return false;
  }
}

std::string format_gbnf(const std::string& f) {
  // Dates that exist (month lengths, Feb 29 in leap years only), years 0001-9999.
  static const std::string year = "([1-9] [0-9]{3} | \"0\" [1-9] [0-9]{2} | \"00\" [1-9] [0-9] | \"000\" [1-9])";
  static const std::string leap4 = "(\"0\" [48] | [2468] [048] | [13579] [26])";
  static const std::string date =
      "(" + year + " \"-\" ((\"0\" [13578] | \"1\" [02]) \"-\" (\"0\" [1-9] | [12] [0-9] | \"3\" [01])"
      " | (\"0\" [469] | \"11\") \"-\" (\"0\" [1-9] | [12] [0-9] | \"30\")"
      " | \"02-\" (\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8]))"
      " | ([0-9] [0-9] " + leap4 + " | " + leap4 + " \"00\") \"-02-29\")";
  static const std::string hh = "([01] [0-9] | \"2\" [0-3])";
  static const std::string time = "(" + hh + " \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]{1,6})? (\"Z\" | [+-] " +
                                  hh + " \":\" [0-5] [0-9]))";
  static const std::string hex = "[0-9a-f]";
  if (f == "date") return date;
  if (f == "time") return time;
  if (f == "date-time") return "(" + date + " \"T\" " + time + ")";
  if (f == "uuid")
    return "(" + hex + "{8} \"-\" " + hex + "{4} \"-\" " + hex + "{4} \"-\" " + hex + "{4} \"-\" " + hex + "{12})";
  if (f == "email") {
    std::string atext = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\-]";
    std::string label = "[A-Za-z0-9] ([A-Za-z0-9\\-]{0,61} [A-Za-z0-9])?";
    return "(" + atext + "{1,64} (\".\" " + atext + "{1,64}){0,4} \"@\" " + label + " (\".\" " + label + "){1,4})";
  }
  if (f == "ipv4") {
    std::string octet = "(\"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9] [0-9] | [0-9])";
    return "(" + octet + " \".\" " + octet + " \".\" " + octet + " \".\" " + octet + ")";
  }
  return "";
}

}  // namespace f8::sampling
