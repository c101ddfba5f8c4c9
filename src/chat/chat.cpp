// chat.cpp — engine selection and conversation input (plain messages or
// JSON) for chat template rendering.
#include "chat/chat.h"

#include <nlohmann/json.hpp>

namespace f8::chat {
namespace {

using jinja::Dict;
using jinja::Value;
using ojson = nlohmann::ordered_json;  // keeps key order (tojson shows it)

constexpr int kMaxJsonDepth = 64;

Value from_json(const ojson& j) {
  switch (j.type()) {
    case ojson::value_t::null: return Value::none();
    case ojson::value_t::boolean: return Value::boolean(j.get<bool>());
    case ojson::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case ojson::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > uint64_t(INT64_MAX)) return Value::real(double(u));
      return Value::integer(int64_t(u));
    }
    case ojson::value_t::number_float: return Value::real(j.get<double>());
    case ojson::value_t::string: return Value::str(j.get<std::string>());
    case ojson::value_t::array: {
      jinja::List l;
      for (const auto& x : j) l.push_back(from_json(x));
      return Value::array(std::move(l));
    }
    case ojson::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d.set(it.key(), from_json(it.value()));
      return Value::object(std::move(d));
    }
    default: return Value::none();
  }
}

Dict make_vars(Value messages, const Options& opt) {
  Dict vars;
  vars.set("messages", std::move(messages));
  vars.set("add_generation_prompt", Value::boolean(opt.add_generation_prompt));
  vars.set("bos_token", Value::str(opt.bos_token));
  vars.set("eos_token", Value::str(opt.eos_token));
  // transformers passes these (None unless given).
  vars.set("tools", Value::none());
  vars.set("documents", Value::none());
  for (const auto& kv : opt.vars.items) vars.set(kv.first, kv.second);
  return vars;
}

// Variables the caller sets through their own options, never through kwargs.
bool reserved_var(const std::string& k) {
  return k == "messages" || k == "add_generation_prompt" || k == "bos_token" || k == "eos_token";
}

Result fail(ErrorKind k, std::string msg) {
  Result r;
  r.error_kind = k;
  r.error = std::move(msg);
  return r;
}

Result run_jinja(const std::string& tmpl, Value messages, const Options& opt) {
  Result r;
  r.engine = Engine::Jinja;
  try {
    jinja::Template t(tmpl);
    r.text = t.render(make_vars(std::move(messages), opt), opt.limits, opt.now);
  } catch (const jinja::Error& e) {
    std::string where = e.line ? "line " + std::to_string(e.line) + " column " + std::to_string(e.col) + ": " : "";
    return fail(ErrorKind::Template, "chat template: " + where + e.what());
  }
  return r;
}

Result run_builtin(const Recognized& rec, const std::vector<Message>& msgs, const Options& opt) {
  Result r;
  r.engine = Engine::Builtin;
  std::string err;
  if (!render_builtin(rec, msgs, opt, &r.text, &err)) return fail(ErrorKind::Template, "chat template: " + err);
  return r;
}

Value messages_value(const std::vector<Message>& msgs) {
  jinja::List l;
  for (const auto& m : msgs) {
    Dict d;
    d.set("role", Value::str(m.role));
    d.set("content", Value::str(m.content));
    l.push_back(Value::object(std::move(d)));
  }
  return Value::array(std::move(l));
}

}  // namespace

const char* engine_name(Engine e) {
  switch (e) {
    case Engine::Builtin: return "builtin";
    case Engine::Jinja: return "jinja";
    default: return "auto";
  }
}

static const char kVarsNeedJinja[] =
    "chat template: the built-in renderers take no template variables (tools, documents, "
    "chat_template_kwargs); use the Jinja engine";

Result render(const std::string& tmpl, const std::vector<Message>& msgs, const Options& opt, Engine engine) {
  if (engine != Engine::Jinja) {
    Recognized rec = recognize(tmpl);
    if (rec.family != Family::Unknown && opt.vars.items.empty()) return run_builtin(rec, msgs, opt);
    if (engine == Engine::Builtin)
      return fail(ErrorKind::Unsupported, rec.family != Family::Unknown
                                              ? kVarsNeedJinja
                                              : "chat template: not one of the built-in families (chatml, llama2, "
                                                "llama3, mistral); use the Jinja engine");
  }
  return run_jinja(tmpl, messages_value(msgs), opt);
}

// Parses JSON with bounded nesting (the callback keeps hostile input from
// exhausting the stack).
static bool parse_json(const std::string& text, ojson* j, std::string* err) {
  try {
    *j = ojson::parse(text, [](int depth, ojson::parse_event_t, ojson&) {
      if (depth > kMaxJsonDepth) throw std::runtime_error("nesting deeper than 64 levels");
      return true;
    });
  } catch (const std::exception& e) {
    *err = e.what();
    return false;
  }
  return true;
}

bool parse_template_kwargs(const std::string& text, Dict* vars, std::string* err) {
  ojson j;
  if (!parse_json(text, &j, err)) {
    *err = "chat template kwargs: invalid JSON: " + *err;
    return false;
  }
  if (!j.is_object()) {
    *err = std::string("chat template kwargs: expected a JSON object, got ") + j.type_name();
    return false;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (reserved_var(it.key())) {
      *err = "chat template kwargs: '" + it.key() + "' is set by f8 itself; use its own option";
      return false;
    }
    vars->set(it.key(), from_json(it.value()));
  }
  return true;
}

Result render_vars_json(const std::string& tmpl, const std::string& vars_json, const jinja::Limits& limits) {
  ojson j;
  std::string err;
  if (!parse_json(vars_json, &j, &err)) return fail(ErrorKind::InvalidArgument, "variables JSON: " + err);
  if (!j.is_object()) return fail(ErrorKind::InvalidArgument, "variables JSON: expected an object");
  Value v = from_json(j);
  Result r;
  r.engine = Engine::Jinja;
  try {
    jinja::Template t(tmpl);
    r.text = t.render(*v.dict, limits);
  } catch (const jinja::Error& e) {
    std::string where = e.line ? "line " + std::to_string(e.line) + " column " + std::to_string(e.col) + ": " : "";
    return fail(ErrorKind::Template, "chat template: " + where + e.what());
  }
  return r;
}

Result render_json(const std::string& tmpl, const std::string& text, const Options& opt, Engine engine) {
  ojson j;
  std::string err;
  if (!parse_json(text, &j, &err)) return fail(ErrorKind::InvalidArgument, "conversation JSON: " + err);
  const ojson* list = &j;
  Options o = opt;
  if (j.is_object()) {
    auto it = j.find("messages");
    if (it == j.end()) return fail(ErrorKind::InvalidArgument, "conversation JSON: object has no \"messages\" key");
    list = &*it;
    for (const char* k : {"tools", "documents"}) {
      auto v = j.find(k);
      if (v == j.end() || v->is_null()) continue;
      if (!v->is_array())
        return fail(ErrorKind::InvalidArgument, std::string("conversation JSON: \"") + k + "\" must be a list, got " +
                                                    v->type_name());
      o.vars.set(k, from_json(*v));
    }
    auto kw = j.find("chat_template_kwargs");
    if (kw != j.end() && !kw->is_null()) {
      if (!kw->is_object())
        return fail(ErrorKind::InvalidArgument,
                    std::string("conversation JSON: \"chat_template_kwargs\" must be an object, got ") +
                        kw->type_name());
      if (!parse_template_kwargs(kw->dump(), &o.vars, &err)) return fail(ErrorKind::InvalidArgument, err);
    }
  }
  if (!list->is_array())
    return fail(ErrorKind::InvalidArgument, "conversation JSON: expected a list of messages or {\"messages\": [...]}");
  std::vector<Message> plain;
  bool is_plain = true;
  for (size_t i = 0; i < list->size(); ++i) {
    const ojson& m = (*list)[i];
    if (!m.is_object())
      return fail(ErrorKind::InvalidArgument, "conversation JSON: message " + std::to_string(i) + " is not an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      return fail(ErrorKind::InvalidArgument, "conversation JSON: message " + std::to_string(i) +
                                                  " has no string \"role\"");
    auto content = m.find("content");
    if (m.size() != 2 || content == m.end() || !content->is_string()) {
      is_plain = false;
    } else {
      plain.push_back({role->get<std::string>(), content->get<std::string>()});
    }
  }
  if (engine != Engine::Jinja) {
    Recognized rec = recognize(tmpl);
    if (rec.family != Family::Unknown && is_plain && o.vars.items.empty()) return run_builtin(rec, plain, o);
    if (engine == Engine::Builtin)
      return fail(ErrorKind::Unsupported, rec.family == Family::Unknown
                                              ? "chat template: not one of the built-in families; use the Jinja engine"
                                          : !is_plain ? "chat template: the built-in renderer takes only plain "
                                                        "{role, content} string messages; use the Jinja engine"
                                                      : kVarsNeedJinja);
  }
  return run_jinja(tmpl, from_json(*list), o);
}

}  // namespace f8::chat
