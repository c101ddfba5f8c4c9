// jinja_format.cpp — Python's str.format for templates (jinja2's sandbox
// runs the real one through SandboxedFormatter): `{}` (auto-numbered),
// `{0}`, `{name}`, `!s` / `!r` conversions, `{{` / `}}` escapes. Format
// specs (`{:>8}`) and attribute/index fields (`{0.x}`) are outside the
// subset and fail with a clear error; malformed strings fail as Python does.
#include "chat/jinja.h"
#include "chat/jinja_interp.h"

namespace f8::chat::jinja {

std::string py_format(Interp& in, const std::string& fmt, Args& a, const Expr& at) {
  std::string out;
  int auto_index = 0;  // -1 once a field was numbered by hand
  bool manual = false;
  size_t k = 0;
  while (k < fmt.size()) {
    char c = fmt[k];
    if (c == '}') {
      if (k + 1 < fmt.size() && fmt[k + 1] == '}') {
        out += '}';
        k += 2;
        continue;
      }
      in.fail(at, "str.format: Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      ++k;
      continue;
    }
    if (k + 1 < fmt.size() && fmt[k + 1] == '{') {
      out += '{';
      k += 2;
      continue;
    }
    size_t end = fmt.find('}', k + 1);
    if (end == std::string::npos) in.fail(at, "str.format: expected '}' before end of string");
    std::string field = fmt.substr(k + 1, end - k - 1);
    if (field.find('{') != std::string::npos) in.fail(at, "str.format: nested replacement fields are outside f8's Jinja subset");
    k = end + 1;
    char conv = 0;
    size_t colon = field.find(':');
    if (colon != std::string::npos) {
      if (colon + 1 < field.size()) in.fail(at, "str.format: format specs ('" + field.substr(colon) + "') are outside f8's Jinja subset");
      field.resize(colon);
    }
    size_t bang = field.find('!');
    if (bang != std::string::npos) {
      if (bang + 2 != field.size() || (field[bang + 1] != 's' && field[bang + 1] != 'r'))
        in.fail(at, "str.format: unknown conversion in '{" + field + "}'");
      conv = field[bang + 1];
      field.resize(bang);
    }
    const Value* v = nullptr;
    if (field.empty()) {
      if (manual) in.fail(at, "str.format: cannot switch from manual field specification to automatic field numbering");
      if (size_t(auto_index) >= a.pos.size()) in.fail(at, "str.format: Replacement index " + std::to_string(auto_index) + " out of range for positional args tuple");
      v = &a.pos[size_t(auto_index++)];
    } else if (field.find_first_not_of("0123456789") == std::string::npos) {
      if (auto_index > 0) in.fail(at, "str.format: cannot switch from automatic field numbering to manual field specification");
      manual = true;
      size_t idx = field.size() < 10 ? size_t(std::stoul(field)) : a.pos.size();
      if (idx >= a.pos.size()) in.fail(at, "str.format: Replacement index " + field + " out of range for positional args tuple");
      v = &a.pos[idx];
    } else {
      if (field.find_first_of(".[") != std::string::npos) in.fail(at, "str.format: attribute and index fields are outside f8's Jinja subset");
      for (const auto& kv : a.kw)
        if (kv.first == field) v = &kv.second;
      if (!v) in.fail(at, "str.format: KeyError: '" + field + "'");
    }
    out += conv == 'r' ? py_repr(*v) : py_str(*v);
    in.check_size(at, out.size());
  }
  return out;
}

}  // namespace f8::chat::jinja
