// jinja_macro.cpp — `{% macro %}` and `{% call %}` callables with jinja2's
// calling convention (runtime.Macro.__call__):
//  - positional arguments fill the parameters in order; extra ones go to
//    `varargs` when the body reads it, else the call is an error;
//  - keyword arguments fill the remaining parameters; unknown ones go to
//    `kwargs` when the body reads it, else the call is an error;
//  - a parameter neither passed nor defaulted is Undefined (not an error);
//    defaults are evaluated at call time, after the earlier parameters are
//    bound (so a default may use them);
//  - `caller` is the body of the enclosing {% call %} block, Undefined
//    ("No caller defined") when the macro was not called from one;
//  - the body sees its parameters, the template's top-level names as they
//    are at call time, and the enclosing loop/macro variables as they were
//    when the macro was defined — never the variables of its call site;
//  - the result is the rendered body as a string (autoescape is off).
#include "chat/jinja.h"
#include "chat/jinja_interp.h"

namespace f8::chat::jinja {

Value Interp::make_macro(const Node& n) {
  // Everything but the globals is copied: jinja2 closes over the enclosing
  // frames' values, while top-level names resolve at call time.
  auto captured = std::make_shared<std::vector<Scope>>(scopes.begin() + 1, scopes.end());
  Interp* self = this;
  const Node* def = &n;
  return Value::function(n.name, [self, def, captured](Args& a) { return self->invoke_macro(*def, *captured, a); });
}

namespace {

// Restores the interpreter's scopes, output and loop state however the
// body ends (errors propagate to render(), but the state must stay sound).
struct Frame {
  Interp& in;
  std::vector<Scope> saved;
  std::string* saved_out;
  int saved_loops;
  Frame(Interp& i, std::vector<Scope> inner, std::string* out) : in(i), saved_out(i.out), saved_loops(i.loop_depth) {
    saved = std::move(in.scopes);
    in.scopes = std::move(inner);
    in.scopes.insert(in.scopes.begin(), std::move(saved[0]));  // globals stay live
    in.out = out;
    in.loop_depth = 0;
    ++in.call_depth;
  }
  ~Frame() {
    saved[0] = std::move(in.scopes[0]);
    in.scopes = std::move(saved);
    in.out = saved_out;
    in.loop_depth = saved_loops;
    --in.call_depth;
  }
};

}  // namespace

Value Interp::invoke_macro(const Node& def, const std::vector<Scope>& captured, Args& a) {
  const std::string who = "macro '" + def.name + "'";
  if (call_depth >= kMaxCallDepth)
    throw Error(who + " nested deeper than " + std::to_string(kMaxCallDepth) + " calls (runaway recursion?)");
  const size_t np = def.targets.size();
  if (a.pos.size() > np && !def.uses_varargs)
    throw Error(who + " takes not more than " + std::to_string(np) + " argument(s), got " +
                std::to_string(a.pos.size()));
  Scope local;
  std::vector<bool> given(np, false);
  for (size_t k = 0; k < np && k < a.pos.size(); ++k) {
    local[def.targets[k]] = a.pos[k];
    given[k] = true;
  }
  Dict extra_kw;
  Value caller = Value::undefined("No caller defined");
  for (auto& kv : a.kw) {
    size_t k = 0;
    while (k < np && def.targets[k] != kv.first) ++k;
    if (k < np) {
      if (given[k]) throw Error(who + " got multiple values for argument '" + kv.first + "'");
      local[kv.first] = kv.second;
      given[k] = true;
    } else if (kv.first == "caller" && def.uses_caller) {
      caller = kv.second;
    } else if (def.uses_kwargs) {
      extra_kw.set(kv.first, kv.second);
    } else {
      throw Error(who + " takes no keyword argument '" + kv.first + "'");
    }
  }
  if (def.uses_caller) local["caller"] = caller;
  if (def.uses_varargs) {
    List rest;
    for (size_t k = np; k < a.pos.size(); ++k) rest.push_back(a.pos[k]);
    Value t = Value::array(std::move(rest));
    t.is_tuple = true;
    local["varargs"] = t;
  }
  if (def.uses_kwargs) local["kwargs"] = Value::object(std::move(extra_kw));

  std::string buf;
  std::vector<Scope> inner = captured;
  inner.push_back(std::move(local));
  Frame frame(*this, std::move(inner), &buf);
  // Defaults run inside the macro's scope, left to right; a parameter not
  // bound yet reads as Undefined there (it shadows any outer name).
  for (size_t k = 0; k < np; ++k)
    if (!given[k]) scopes.back()[def.targets[k]] = Value::undefined("parameter '" + def.targets[k] + "' was not provided");
  for (size_t k = 0; k < np; ++k)
    if (!given[k] && def.defaults[k]) scopes.back()[def.targets[k]] = eval(*def.defaults[k]);
  exec(def.body);
  return Value::str(std::move(buf));
}

}  // namespace f8::chat::jinja
