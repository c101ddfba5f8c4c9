// jinja.h — f8's Jinja subset interpreter, for chat templates without a
// built-in renderer. Renders byte-identically to Python jinja2 3.1 as
// transformers configures it for apply_chat_template:
//   ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
//                                 extensions=[loopcontrols, AssistantTracker])
//   filters["tojson"] = json.dumps(x, ensure_ascii=False, ...)
//   globals: raise_exception(msg), strftime_now(fmt)
// The subset: text, {{ }}, {# #}, raw; if/elif/else, for/else (loop.*,
// inline `if`), set (incl. ns.attr and block set), macro, call, filter
// blocks, break/continue, generation; expressions with Python operators and literals; the filters,
// tests and str/dict methods that real chat templates use (docs/chat.md).
// Everything else fails with an Error naming line and column.
#pragma once

#include <memory>
#include <string>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace f8::chat::jinja {

// Bounds a hostile template cannot exceed.
struct Limits {
  size_t max_output = size_t(64) << 20;  // bytes of rendered text (and of any one string)
  uint64_t max_steps = 2'000'000;        // nodes + expressions evaluated + loop iterations
};

class Template {
 public:
  // Lexes and parses; throws Error (with line/col) on syntax errors or
  // constructs outside the subset.
  explicit Template(const std::string& source);
  // Renders with the given top-level variables (messages,
  // add_generation_prompt, bos_token, ...). Throws Error on runtime errors,
  // raise_exception() calls and limit overruns.
  // `now` fixes strftime_now's clock (unix seconds, formatted as UTC) for
  // reproducible renders; -1 = the local time at the call.
  std::string render(const Dict& vars, const Limits& limits = {}, int64_t now = -1) const;

 private:
  Body body_;
};

// Internal: the interpreter's filter/test/method tables (jinja_builtins.cpp).
struct Interp;
Value apply_filter(Interp& in, const std::string& name, Value v, Args& a, const Expr& at);
bool apply_test(Interp& in, const std::string& name, const Value& v, Args& a, const Expr& at);
// Returns true and sets *out when `name` is a method of v's type.
bool call_method(Interp& in, const Value& obj, const std::string& name, Args& a, const Expr& at,
                 Value* out);

}  // namespace f8::chat::jinja
