// json_schema_numbers.cpp — integer and decimal ranges as grammars
// (minimum / maximum / exclusive bounds of JSON Schema).
//
// Integers: the classic digit-by-digit construction (as llama.cpp's
// json-schema-to-grammar builds it): split [a, b] by digit count, then a
// same-length range by its first differing digit into "a's digit, then >= the
// rest of a", "digits strictly between, then anything", "b's digit, then <=
// the rest of b".
// Decimals: by integer part: the bound's own integer part constrains the
// fraction (a small automaton over the fraction digits, tight against the
// bound while the digits equal it); integer parts strictly inside are free.
// Negative numbers are "-" and a magnitude > 0, so -0 is never produced.
#include <algorithm>
#include <cctype>
#include <functional>
#include <stdexcept>

#include "sampling/json_schema.h"

namespace f8::sampling {

namespace {

constexpr int kMaxIntDigits = 16;   // unbounded integer parts (as the plain number rule)
constexpr int kMaxFracDigits = 16;  // fraction digits (more when a bound needs them)

// A GBNF literal of digits (built by appending: GCC 12 misreads
// "literal" + std::string temporaries as overlapping copies, -Wrestrict).
std::string quoted(const std::string& digits) {
  std::string s(1, '"');
  s += digits;
  s += '"';
  return s;
}

std::string digit_class(int lo, int hi) {
  std::string s(1, lo == hi ? '"' : '[');
  s += char('0' + lo);
  if (lo != hi) {
    s += '-';
    s += char('0' + hi);
  }
  s += lo == hi ? '"' : ']';
  return s;
}

std::string any_digits(int n) {
  if (n <= 0) return "";
  if (n == 1) return "[0-9]";
  return "[0-9]{" + std::to_string(n) + "}";
}

std::string join_alts(const std::vector<std::string>& alts) {
  if (alts.empty()) return "";
  if (alts.size() == 1) return alts[0];
  std::string s = "(";
  for (size_t i = 0; i < alts.size(); ++i) s += (i ? " | " : "") + alts[i];
  return s + ")";
}

std::string cat(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + " " + b;
}

bool all_char(const std::string& s, char c) { return std::all_of(s.begin(), s.end(), [c](char x) { return x == c; }); }

// Digit strings of length |x| that are >= x (leading zeros allowed).
std::string ge_digits(const std::string& x) {
  if (x.empty() || all_char(x, '0')) return any_digits(int(x.size()));
  int d = x[0] - '0';
  std::vector<std::string> alts = {cat(quoted(x.substr(0, 1)), ge_digits(x.substr(1)))};
  if (d < 9) alts.push_back(cat(digit_class(d + 1, 9), any_digits(int(x.size()) - 1)));
  return join_alts(alts);
}

// ... <= x.
std::string le_digits(const std::string& x) {
  if (x.empty() || all_char(x, '9')) return any_digits(int(x.size()));
  int d = x[0] - '0';
  std::vector<std::string> alts = {cat(quoted(x.substr(0, 1)), le_digits(x.substr(1)))};
  if (d > 0) alts.push_back(cat(digit_class(0, d - 1), any_digits(int(x.size()) - 1)));
  return join_alts(alts);
}

// a <= n <= b, both the same length.
std::string same_len_range(const std::string& a, const std::string& b) {
  if (a == b) return quoted(a);
  size_t i = 0;
  while (a[i] == b[i]) ++i;
  std::string prefix = i ? quoted(a.substr(0, i)) : "";
  int da = a[i] - '0', db = b[i] - '0';
  std::string ra = a.substr(i + 1), rb = b.substr(i + 1);
  int r = int(ra.size());
  if (all_char(ra, '0') && all_char(rb, '9')) return cat(prefix, cat(digit_class(da, db), any_digits(r)));
  std::vector<std::string> alts;
  alts.push_back(cat(digit_class(da, da), ge_digits(ra)));
  if (db - da >= 2) alts.push_back(cat(digit_class(da + 1, db - 1), any_digits(r)));
  alts.push_back(cat(digit_class(db, db), le_digits(rb)));
  return cat(prefix, join_alts(alts));
}

// a <= n <= b over unsigned integers written without leading zeros; b < 0:
// unbounded (at most max(kMaxIntDigits, digits of a) digits).
std::string uint_range(uint64_t a, int64_t b_or_neg) {
  std::string sa = std::to_string(a);
  std::string sb = b_or_neg >= 0 ? std::to_string(uint64_t(b_or_neg))
                                 : std::string(std::max<size_t>(kMaxIntDigits, sa.size()), '9');
  if (b_or_neg >= 0 && uint64_t(b_or_neg) < a) return "";
  std::vector<std::string> alts;
  for (size_t len = sa.size(); len <= sb.size(); ++len) {
    std::string lo = sa;
    if (len != sa.size()) lo = std::string(1, '1').append(len - 1, '0');
    std::string hi = len == sb.size() ? sb : std::string(len, '9');
    alts.push_back(same_len_range(lo, hi));
  }
  return join_alts(alts);
}

uint64_t to_u64(const std::string& digits) {
  if (digits.size() > 18) throw std::out_of_range("bound");
  return std::stoull(digits);
}

// The optional fraction ("" or "." digits) of a number whose integer part
// equals the bounds' integer parts, with 0.f between lo and hi (lo absent =
// no lower constraint, hi absent = none: 0.f < 1 anyway). Digit automaton
// state: position i, tight against lo's / hi's digits so far.
std::string frac_range(const std::optional<std::string>& lo, bool lo_incl, const std::optional<std::string>& hi,
                       bool hi_incl) {
  int D = std::max<int>({kMaxFracDigits, lo ? int(lo->size()) + 1 : 0, hi ? int(hi->size()) + 1 : 0});
  auto lo_digit = [&](int i) { return lo && i < int(lo->size()) ? (*lo)[size_t(i)] - '0' : 0; };
  auto hi_digit = [&](int i) { return hi && i < int(hi->size()) ? (*hi)[size_t(i)] - '0' : 0; };
  auto rest_zero = [](const std::optional<std::string>& s, int i) {
    if (!s) return true;
    for (size_t k = size_t(i); k < s->size(); ++k)
      if ((*s)[k] != '0') return false;
    return true;
  };
  // Digits after the first i (which matched the tight bounds); "" = no
  // completion exists; the result may match the empty string (end here).
  std::function<std::optional<std::string>(int, bool, bool)> gen = [&](int i, bool tl, bool th) -> std::optional<std::string> {
    tl = tl && lo.has_value();
    th = th && hi.has_value();
    bool end_ok = (!tl || (rest_zero(lo, i) && lo_incl)) && (!th || !rest_zero(hi, i) || hi_incl);
    if (!tl && !th) return "[0-9]{0," + std::to_string(D - i) + "}";
    std::vector<std::string> alts;
    if (i < D) {
      int dl = tl ? lo_digit(i) : 0, dh = th ? hi_digit(i) : 9;
      for (int d = dl; d <= dh; ++d) {
        bool ntl = tl && d == dl, nth = th && d == dh;
        if (!ntl && !nth) {
          // Every digit strictly inside: one alternative for the run.
          int e = dh - (th ? 1 : 0);
          alts.push_back(cat(digit_class(d, e), "[0-9]{0," + std::to_string(D - i - 1) + "}"));
          d = e;
          continue;
        }
        auto rest = gen(i + 1, ntl, nth);
        if (rest) alts.push_back(cat(digit_class(d, d), *rest));
      }
    }
    if (alts.empty() && !end_ok) return std::nullopt;
    std::string body = join_alts(alts);
    if (!end_ok) return body;
    return alts.empty() ? std::string("\"\"") : "(" + body + ")?";
  };
  bool tl = lo.has_value(), th = hi.has_value();
  bool end_ok = (!tl || (rest_zero(lo, 0) && lo_incl)) && (!th || !rest_zero(hi, 0) || hi_incl);
  // The first digit must exist once there is a '.': enumerate it here.
  std::vector<std::string> alts;
  int dl = tl ? lo_digit(0) : 0, dh = th ? hi_digit(0) : 9;
  for (int d = dl; d <= dh; ++d) {
    bool ntl = tl && d == dl, nth = th && d == dh;
    auto rest = gen(1, ntl, nth);
    if (rest) alts.push_back(cat("\"." + std::to_string(d) + "\"", *rest == "\"\"" ? "" : *rest));
  }
  std::string dot = join_alts(alts);
  if (dot.empty()) return end_ok ? "\"\"" : "";
  return end_ok ? "(" + dot + ")?" : dot;
}

// Magnitudes (non-negative decimals) between lo and hi; "" when empty.
std::string magnitude_range(const NumBound& lo, const std::optional<NumBound>& hi) {
  uint64_t A = to_u64(lo.value.int_part);
  std::optional<std::string> fa;
  if (!(lo.value.frac.empty() && lo.inclusive)) fa = lo.value.frac;  // frac >= 0 inclusive: no constraint
  std::string free_frac = "(\".\" [0-9]{1," + std::to_string(kMaxFracDigits) + "})?";
  std::vector<std::string> alts;
  auto add = [&](const std::string& ip, const std::string& fr) {
    if (!ip.empty() && !fr.empty()) alts.push_back(cat(ip, fr == "\"\"" ? "" : fr));
  };
  if (!hi) {
    add(quoted(lo.value.int_part), frac_range(fa, lo.inclusive, std::nullopt, true));
    add(uint_range(A + 1, -1), free_frac);
    return join_alts(alts);
  }
  uint64_t B = to_u64(hi->value.int_part);
  if (A > B) return "";
  if (A == B) {
    add(quoted(lo.value.int_part), frac_range(fa, lo.inclusive, hi->value.frac, hi->inclusive));
    return join_alts(alts);
  }
  add(quoted(lo.value.int_part), frac_range(fa, lo.inclusive, std::nullopt, true));
  if (A + 1 <= B - 1) add(uint_range(A + 1, int64_t(B - 1)), free_frac);
  add(quoted(hi->value.int_part), frac_range(std::nullopt, true, hi->value.frac, hi->inclusive));
  return join_alts(alts);
}

}  // namespace

std::optional<Decimal> Decimal::parse(const std::string& text) {
  size_t i = 0;
  Decimal d;
  if (i < text.size() && text[i] == '-') {
    d.neg = true;
    ++i;
  }
  std::string digits;
  int point = -1;
  for (; i < text.size() && (std::isdigit(uint8_t(text[i])) || text[i] == '.'); ++i) {
    if (text[i] == '.') {
      if (point >= 0) return std::nullopt;
      point = int(digits.size());
    } else {
      digits += text[i];
    }
  }
  if (digits.empty()) return std::nullopt;
  if (point < 0) point = int(digits.size());
  long exp = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) eneg = text[i++] == '-';
    if (i >= text.size()) return std::nullopt;
    for (; i < text.size() && std::isdigit(uint8_t(text[i])); ++i) {
      exp = exp * 10 + (text[i] - '0');
      if (exp > 400) return std::nullopt;
    }
    if (eneg) exp = -exp;
  }
  if (i != text.size()) return std::nullopt;
  long p = point + exp;
  std::string ip, fp;
  if (p <= 0) {
    ip = "0";
    fp = std::string(size_t(-p), '0') + digits;
  } else if (p >= long(digits.size())) {
    ip = digits + std::string(size_t(p - long(digits.size())), '0');
  } else {
    ip = digits.substr(0, size_t(p));
    fp = digits.substr(size_t(p));
  }
  size_t nz = ip.find_first_not_of('0');
  d.int_part = nz == std::string::npos ? "0" : ip.substr(nz);
  while (!fp.empty() && fp.back() == '0') fp.pop_back();
  d.frac = fp;
  if (d.is_zero()) d.neg = false;
  return d;
}

int compare(const Decimal& a, const Decimal& b) {
  if (a.neg != b.neg) return a.neg ? -1 : 1;
  int mag;
  if (a.int_part.size() != b.int_part.size()) {
    mag = a.int_part.size() < b.int_part.size() ? -1 : 1;
  } else if (a.int_part != b.int_part) {
    mag = a.int_part < b.int_part ? -1 : 1;
  } else {
    size_t n = std::max(a.frac.size(), b.frac.size());
    std::string fa = a.frac + std::string(n - a.frac.size(), '0');
    std::string fb = b.frac + std::string(n - b.frac.size(), '0');
    mag = fa == fb ? 0 : fa < fb ? -1 : 1;
  }
  return a.neg ? -mag : mag;
}

std::string integer_range_gbnf(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  if (lo && *lo == INT64_MIN) lo = INT64_MIN + 1;
  if (lo && hi && *lo > *hi) return "";
  std::vector<std::string> alts;
  // Negative side: "-" and a magnitude in [max(1, -hi), -lo].
  if (!lo || *lo < 0) {
    uint64_t m_lo = hi && *hi < 0 ? uint64_t(-*hi) : 1;
    std::string r = uint_range(m_lo, lo ? -*lo : -1);
    if (!r.empty()) alts.push_back("\"-\" " + r);
  }
  // Non-negative side.
  if (!hi || *hi >= 0) {
    uint64_t a = lo && *lo > 0 ? uint64_t(*lo) : 0;
    std::string r = uint_range(a, hi ? *hi : -1);
    if (!r.empty()) alts.push_back(r);
  }
  return join_alts(alts);
}

std::string number_range_gbnf(const std::optional<NumBound>& lo, const std::optional<NumBound>& hi) {
  try {
    std::vector<std::string> alts;
    Decimal zero;
    // Negative side: x = -m, m > 0; x >= lo <=> m <= -lo; x <= hi < 0 <=> m >= -hi.
    bool has_neg = !lo || lo->value.neg;
    if (has_neg && hi && !hi->value.neg) has_neg = true;  // hi >= 0 leaves all negatives up to lo
    if (has_neg) {
      NumBound mlo{zero, false};  // m > 0
      if (hi && hi->value.neg) {
        mlo = *hi;
        mlo.value.neg = false;
      }
      std::optional<NumBound> mhi;
      if (lo) {
        mhi = *lo;
        mhi->value.neg = false;
      }
      bool empty = mhi && (compare(mlo.value, mhi->value) > 0 ||
                           (compare(mlo.value, mhi->value) == 0 && !(mlo.inclusive && mhi->inclusive)));
      if (!empty) {
        std::string r = magnitude_range(mlo, mhi);
        if (!r.empty()) alts.push_back("\"-\" " + r);
      }
    }
    // Non-negative side: x >= max(lo, 0), x <= hi.
    bool has_pos = !hi || !hi->value.neg;
    if (has_pos && hi && hi->value.is_zero() && !hi->inclusive) has_pos = false;
    if (has_pos) {
      NumBound plo{zero, true};
      if (lo && !lo->value.neg) plo = *lo;
      bool empty = hi && (compare(plo.value, hi->value) > 0 ||
                          (compare(plo.value, hi->value) == 0 && !(plo.inclusive && hi->inclusive)));
      if (!empty) {
        std::string r = magnitude_range(plo, hi);
        if (!r.empty()) alts.push_back(r);
      }
    }
    return join_alts(alts);
  } catch (const std::out_of_range&) {
    throw std::invalid_argument("a bound's integer part has more than 18 digits");
  }
}

}  // namespace f8::sampling
