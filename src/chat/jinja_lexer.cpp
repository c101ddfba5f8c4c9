// jinja_lexer.cpp — template text -> tokens, replicating jinja2 3.1's lexer
// with Environment(trim_blocks=True, lstrip_blocks=True) (what transformers'
// _compile_jinja_template uses) and default delimiters:
//  - newlines (\r\n, \r, \n) are normalized to \n and ONE trailing newline
//    of the template is dropped (keep_trailing_newline=False);
//  - `{%-`, `{{-`, `{#-` strip all whitespace before the tag;
//  - `-%}`, `-}}`, `-#}` strip all whitespace after it;
//  - trim_blocks: `%}` / `#}` eat one directly following \n (`+%}` keeps it);
//  - lstrip_blocks: spaces/tabs between a line start and `{%` / `{#` are
//    removed (`{%+` keeps them); `{{` is never lstripped.
#include <cstring>

#include "chat/jinja_ast.h"

namespace f8::chat::jinja {
namespace {

struct Lexer {
  std::string src;
  std::vector<size_t> line_starts;
  std::vector<Token> out;

  void pos_of(size_t p, int* line, int* col) const {
    size_t lo = 0, hi = line_starts.size();
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      if (line_starts[mid] <= p) lo = mid;
      else hi = mid;
    }
    *line = int(lo + 1);
    *col = int(p - line_starts[lo] + 1);
  }
  [[noreturn]] void fail(size_t p, const std::string& msg) const {
    int l, c;
    pos_of(p, &l, &c);
    throw Error(msg, l, c);
  }
  void emit(Tok t, std::string text, size_t p) {
    Token k;
    k.type = t;
    k.text = std::move(text);
    pos_of(p, &k.line, &k.col);
    out.push_back(std::move(k));
  }

  // Length of the whitespace run at p (Python's \s on str patterns).
  size_t ws_len(size_t p) const {
    size_t q = p;
    while (q < src.size()) {
      size_t n = 1;
      uint32_t c = (unsigned char)src[q];
      if (c >= 0x80) {
        // Decode one UTF-8 sequence to test Unicode whitespace.
        int len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        if (q + len > src.size()) break;
        std::vector<uint32_t> cp = utf8_decode(src.substr(q, size_t(len)));
        if (cp.size() != 1) break;
        c = cp[0];
        n = size_t(len);
      }
      if (!py_isspace(c)) break;
      q += n;
    }
    return q - p;
  }

  static std::string rstrip_ws(const std::string& s) { return py_strip(s, false, true, nullptr); }

  void run(const std::string& text) {
    // Normalize newlines and drop one trailing newline, as jinja2 does.
    src.reserve(text.size());
    for (size_t k = 0; k < text.size(); ++k) {
      if (text[k] == '\r') {
        src += '\n';
        if (k + 1 < text.size() && text[k + 1] == '\n') ++k;
      } else {
        src += text[k];
      }
    }
    if (!src.empty() && src.back() == '\n') src.pop_back();
    line_starts.push_back(0);
    for (size_t k = 0; k < src.size(); ++k)
      if (src[k] == '\n') line_starts.push_back(k + 1);

    size_t pos = 0;
    bool line_starting = true;
    while (pos < src.size()) {
      // Earliest tag opener.
      size_t tag = std::string::npos;
      for (size_t k = pos; k + 1 < src.size(); ++k) {
        if (src[k] == '{' && (src[k + 1] == '%' || src[k + 1] == '{' || src[k + 1] == '#')) {
          tag = k;
          break;
        }
      }
      if (tag == std::string::npos) {
        emit(Tok::Data, src.substr(pos), pos);
        break;
      }
      char kind = src[tag + 1];
      size_t after = tag + 2;
      char sign = 0;
      if (after < src.size() && (src[after] == '-' || src[after] == '+')) sign = src[after++];
      std::string data = src.substr(pos, tag - pos);
      if (sign == '-') {
        data = rstrip_ws(data);
      } else if (sign != '+' && kind != '{') {
        size_t l_pos = data.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if (l_pos > 0 || line_starting) {
          bool all_ws = l_pos < data.size() && ws_len_in(data, l_pos) == data.size() - l_pos;
          if (all_ws) data.resize(l_pos);
        }
      }
      if (!data.empty()) emit(Tok::Data, data, pos);
      line_starting = false;

      if (kind == '#') {
        pos = lex_comment(after, tag, &line_starting);
      } else if (kind == '%' && is_raw(after)) {
        pos = lex_raw(tag, &line_starting);
      } else {
        emit(kind == '%' ? Tok::BlockBegin : Tok::VarBegin, "", tag);
        pos = lex_tag(after, kind == '%', &line_starting);
      }
    }
    emit(Tok::Eof, "", src.size());
  }

  size_t ws_len_in(const std::string& s, size_t p) const {
    Lexer tmp;
    tmp.src = s;
    return tmp.ws_len(p);
  }

  size_t lex_comment(size_t body, size_t open, bool* line_starting) {
    size_t q = src.find("#}", body);
    if (q == std::string::npos) fail(open, "unclosed comment (missing '#}')");
    size_t end = q + 2;
    if (q > body && src[q - 1] == '-') {
      end += ws_len(end);
    } else if (q > body && src[q - 1] == '+') {
      // keep the newline
    } else if (end < src.size() && src[end] == '\n') {
      ++end;
    }
    *line_starting = src[end - 1] == '\n';
    return end;
  }

  // `{% raw %}` (with optional -/+ markers): the body is emitted verbatim.
  bool is_raw(size_t p) const {
    size_t q = p + ws_len(p);
    if (src.compare(q, 3, "raw") != 0) return false;
    q += 3;
    if (q < src.size() && (isalnum((unsigned char)src[q]) || src[q] == '_')) return false;
    q += ws_len(q);
    return src.compare(q, 2, "%}") == 0 || src.compare(q, 3, "-%}") == 0;
  }
  size_t lex_raw(size_t open, bool* line_starting) {
    size_t q = src.find("raw", open) + 3;
    q += ws_len(q);
    if (src[q] == '-') {
      q += 3;
      q += ws_len(q);
    } else {
      q += 2;  // the raw opening tag is not trimmed (jinja2 has no \n? here)
    }
    size_t body = q;
    for (size_t k = body; k + 1 < src.size(); ++k) {
      if (src[k] != '{' || src[k + 1] != '%') continue;
      size_t m = k + 2;
      char sign = 0;
      if (m < src.size() && (src[m] == '-' || src[m] == '+')) sign = src[m++];
      m += ws_len(m);
      if (src.compare(m, 6, "endraw") != 0) continue;
      m += 6;
      m += ws_len(m);
      std::string data = src.substr(body, k - body);
      if (sign == '-') data = rstrip_ws(data);
      size_t end;
      if (src.compare(m, 3, "-%}") == 0) {
        end = m + 3;
        end += ws_len(end);
      } else if (src.compare(m, 3, "+%}") == 0) {
        end = m + 3;
      } else if (src.compare(m, 2, "%}") == 0) {
        end = m + 2;
        if (end < src.size() && src[end] == '\n') ++end;
      } else {
        fail(m, "expected '%}' after 'endraw'");
      }
      if (!data.empty()) emit(Tok::Data, data, body);
      *line_starting = src[end - 1] == '\n';
      return end;
    }
    fail(open, "missing '{% endraw %}'");
  }

  // Expression tokens up to the closing delimiter (outside brackets).
  size_t lex_tag(size_t p, bool block, bool* line_starting) {
    int depth = 0;
    size_t open = p;
    while (true) {
      if (p >= src.size()) fail(open, block ? "unclosed block tag (missing '%}')" : "unclosed '{{' (missing '}}')");
      if (depth == 0) {
        const char* close = block ? "%}" : "}}";
        if (src.compare(p, 3, std::string("-") + close) == 0) {
          emit(block ? Tok::BlockEnd : Tok::VarEnd, "", p);
          size_t end = p + 3;
          end += ws_len(end);
          *line_starting = src[end - 1] == '\n';
          return end;
        }
        if (block && src.compare(p, 3, "+%}") == 0) {
          emit(Tok::BlockEnd, "", p);
          *line_starting = false;
          return p + 3;
        }
        if (src.compare(p, 2, close) == 0) {
          emit(block ? Tok::BlockEnd : Tok::VarEnd, "", p);
          size_t end = p + 2;
          if (block && end < src.size() && src[end] == '\n') ++end;
          *line_starting = src[end - 1] == '\n';
          return end;
        }
      }
      size_t w = ws_len(p);
      if (w) {
        p += w;
        continue;
      }
      unsigned char c = (unsigned char)src[p];
      if (isdigit(c)) {
        p = lex_number(p);
      } else if (isalpha(c) || c == '_') {
        size_t q = p;
        while (q < src.size() && (isalnum((unsigned char)src[q]) || src[q] == '_')) ++q;
        emit(Tok::Name, src.substr(p, q - p), p);
        p = q;
      } else if (c == '\'' || c == '"') {
        p = lex_string(p);
      } else {
        static const char* two[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op;
        for (const char* t : two)
          if (src.compare(p, 2, t) == 0) op = t;
        if (op.empty()) {
          if (!std::strchr("+-/*%~[](){}<>=.:|,;", c)) fail(p, std::string("unexpected character '") + char(c) + "'");
          op = std::string(1, char(c));
        }
        if (op == "(" || op == "[" || op == "{") ++depth;
        if (op == ")" || op == "]" || op == "}") {
          if (depth == 0) fail(p, "unexpected '" + op + "'");
          --depth;
        }
        emit(Tok::Op, op, p);
        p += op.size();
      }
    }
  }

  size_t lex_number(size_t p) {
    size_t q = p;
    auto digits = [&](size_t& r) {
      size_t s = r;
      while (r < src.size() && (isdigit((unsigned char)src[r]) || (src[r] == '_' && r > s))) ++r;
      return r > s;
    };
    digits(q);
    bool is_float = false;
    if (q + 1 < src.size() && src[q] == '.' && isdigit((unsigned char)src[q + 1])) {
      ++q;
      digits(q);
      is_float = true;
    }
    if (q < src.size() && (src[q] == 'e' || src[q] == 'E')) {
      size_t r = q + 1;
      if (r < src.size() && (src[r] == '+' || src[r] == '-')) ++r;
      if (r < src.size() && isdigit((unsigned char)src[r])) {
        digits(r);
        q = r;
        is_float = true;
      }
    }
    std::string t;
    for (size_t k = p; k < q; ++k)
      if (src[k] != '_') t += src[k];
    Token k;
    pos_of(p, &k.line, &k.col);
    k.text = t;
    if (is_float) {
      k.type = Tok::Float;
      k.fval = std::strtod(t.c_str(), nullptr);
    } else {
      k.type = Tok::Int;
      errno = 0;
      k.ival = std::strtoll(t.c_str(), nullptr, 10);
      if (errno == ERANGE) fail(p, "integer literal out of range: " + t);
    }
    out.push_back(k);
    return q;
  }

  // Python 'unicode-escape' decoding of the literal body (what jinja2 does).
  size_t lex_string(size_t p) {
    char q = src[p];
    std::string v;
    size_t k = p + 1;
    while (true) {
      if (k >= src.size()) fail(p, "unterminated string literal");
      char c = src[k];
      if (c == q) break;
      if (c != '\\') {
        v += c;
        ++k;
        continue;
      }
      if (k + 1 >= src.size()) fail(p, "unterminated string literal");
      char e = src[k + 1];
      k += 2;
      auto hex = [&](int n) -> uint32_t {
        if (k + size_t(n) > src.size()) fail(k, "truncated escape in string literal");
        uint32_t cp = 0;
        for (int j = 0; j < n; ++j) {
          char h = src[k + size_t(j)];
          int d = isdigit((unsigned char)h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
          if (d < 0) fail(k, "bad hex digit in string escape");
          cp = cp * 16 + uint32_t(d);
        }
        k += size_t(n);
        return cp;
      };
      switch (e) {
        case 'n': v += '\n'; break;
        case 't': v += '\t'; break;
        case 'r': v += '\r'; break;
        case '\\': v += '\\'; break;
        case '\'': v += '\''; break;
        case '"': v += '"'; break;
        case 'a': v += '\a'; break;
        case 'b': v += '\b'; break;
        case 'f': v += '\f'; break;
        case 'v': v += '\v'; break;
        case '\n': break;  // line continuation
        case 'x': utf8_append(v, hex(2)); break;
        case 'u': utf8_append(v, hex(4)); break;
        case 'U': {
          uint32_t cp = hex(8);
          if (cp > 0x10FFFF) fail(k, "escape \\U out of range");
          utf8_append(v, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = uint32_t(e - '0');
            for (int j = 0; j < 2 && k < src.size() && src[k] >= '0' && src[k] <= '7'; ++j)
              cp = cp * 8 + uint32_t(src[k++] - '0');
            utf8_append(v, cp);
          } else {
            v += '\\';  // unknown escapes stay as written
            v += e;
          }
      }
    }
    emit(Tok::String, v, p);
    return k + 1;
  }
};

}  // namespace

std::vector<Token> lex(const std::string& source) {
  Lexer lx;
  lx.run(source);
  return std::move(lx.out);
}

}  // namespace f8::chat::jinja
