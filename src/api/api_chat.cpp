// api_chat.cpp — the chat section of f8.h over f8::chat (src/chat).
#include <cstring>
#include <string>
#include <vector>

#include "api/api_error.h"
#include "api/model_handle.h"
#include "chat/chat.h"

using f8api::guarded;
using f8api::put_text;
using f8api::set_error;

namespace {

// Params from the caller, tolerant of older/smaller structs (struct_size).
f8_chat_params read_params(const f8_chat_params* p) {
  f8_chat_params out = f8_chat_default_params();
  if (p && p->struct_size >= sizeof(size_t))
    std::memcpy(&out, p, std::min(p->struct_size, sizeof(out)));
  out.struct_size = sizeof(out);
  return out;
}

f8_status check_params(const char* fn, const f8_chat_params& p) {
  if (p.engine != F8_CHAT_ENGINE_AUTO && p.engine != F8_CHAT_ENGINE_BUILTIN && p.engine != F8_CHAT_ENGINE_JINJA)
    return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": unknown engine " + std::to_string(int(p.engine)));
  return F8_OK;
}

f8::chat::Options make_options(const f8_chat_params& p, const f8_model* model) {
  f8::chat::Options o;
  o.add_generation_prompt = p.add_generation_prompt;
  o.bos_token = p.bos_token ? p.bos_token : model ? model->bos_token : "";
  o.eos_token = p.eos_token ? p.eos_token : model ? model->eos_token : "";
  return o;
}

f8::chat::Engine engine_of(const f8_chat_params& p) {
  return p.engine == F8_CHAT_ENGINE_BUILTIN ? f8::chat::Engine::Builtin
         : p.engine == F8_CHAT_ENGINE_JINJA ? f8::chat::Engine::Jinja
                                            : f8::chat::Engine::Auto;
}


f8_status finish(const char* fn, const f8::chat::Result& r, char* buf, size_t capacity, size_t* len) {
  switch (r.error_kind) {
    case f8::chat::ErrorKind::None: return put_text(fn, r.text, buf, capacity, len);
    case f8::chat::ErrorKind::Template: return set_error(F8_ERR_TEMPLATE, std::string(fn) + ": " + r.error);
    case f8::chat::ErrorKind::InvalidArgument: return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": " + r.error);
    case f8::chat::ErrorKind::Unsupported: return set_error(F8_ERR_UNSUPPORTED, std::string(fn) + ": " + r.error);
  }
  return set_error(F8_ERR_INTERNAL, std::string(fn) + ": unknown chat error");
}

f8_status render_messages(const char* fn, const f8_model* model, const char* tmpl, const f8_chat_message* messages,
                          size_t n, const f8_chat_params* params, char* buf, size_t capacity, size_t* len) {
  if (!len) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": len is NULL");
  *len = 0;
  if (!messages && n) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": messages is NULL");
  if (!buf && capacity) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": buf is NULL but capacity > 0");
  f8_chat_params p = read_params(params);
  if (f8_status s = check_params(fn, p); s != F8_OK) return s;
  std::vector<f8::chat::Message> msgs;
  msgs.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (!messages[i].role || !messages[i].content)
      return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": message " + std::to_string(i) +
                                                    " has a NULL role or content");
    msgs.push_back({messages[i].role, messages[i].content});
  }
  f8::chat::Result r = f8::chat::render(tmpl, msgs, make_options(p, model), engine_of(p));
  return finish(fn, r, buf, capacity, len);
}

}  // namespace

extern "C" {

f8_chat_params f8_chat_default_params(void) {
  f8_chat_params p;
  std::memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  p.add_generation_prompt = true;
  p.bos_token = nullptr;
  p.eos_token = nullptr;
  p.engine = F8_CHAT_ENGINE_AUTO;
  return p;
}

f8_status f8_chat_apply_template(const f8_model* model, const f8_chat_message* messages, size_t n_messages,
                                 const f8_chat_params* params, char* buf, size_t capacity, size_t* len) {
  return guarded("f8_chat_apply_template", [&]() -> f8_status {
    const char* fn = "f8_chat_apply_template";
    if (len) *len = 0;
    if (!model) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": model is NULL");
    if (model->chat_template.empty())
      return set_error(F8_ERR_UNSUPPORTED, std::string(fn) + ": the model file has no chat template "
                                                             "(chat.template); pass one with f8_chat_template_render");
    return render_messages(fn, model, model->chat_template.c_str(), messages, n_messages, params, buf, capacity, len);
  });
}

f8_status f8_chat_template_render(const char* tmpl, const f8_chat_message* messages, size_t n_messages,
                                  const f8_chat_params* params, char* buf, size_t capacity, size_t* len) {
  return guarded("f8_chat_template_render", [&]() -> f8_status {
    if (!tmpl) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_chat_template_render: tmpl is NULL");
    return render_messages("f8_chat_template_render", nullptr, tmpl, messages, n_messages, params, buf, capacity,
                           len);
  });
}

f8_status f8_chat_render_json(const f8_model* model, const char* tmpl, const char* conversation_json,
                              const f8_chat_params* params, char* buf, size_t capacity, size_t* len) {
  return guarded("f8_chat_render_json", [&]() -> f8_status {
    const char* fn = "f8_chat_render_json";
    if (!len) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": len is NULL");
    *len = 0;
    if (!conversation_json) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": conversation_json is NULL");
    if (!buf && capacity) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": buf is NULL but capacity > 0");
    if (!tmpl) {
      if (!model) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": tmpl and model are both NULL");
      if (model->chat_template.empty())
        return set_error(F8_ERR_UNSUPPORTED, std::string(fn) + ": the model file has no chat template (chat.template)");
      tmpl = model->chat_template.c_str();
    }
    f8_chat_params p = read_params(params);
    if (f8_status s = check_params(fn, p); s != F8_OK) return s;
    f8::chat::Result r = f8::chat::render_json(tmpl, conversation_json, make_options(p, model), engine_of(p));
    return finish(fn, r, buf, capacity, len);
  });
}

const char* f8_model_chat_template(const f8_model* model) { return model ? model->chat_template.c_str() : nullptr; }

const char* f8_chat_builtin_template(const char* name) {
  if (!name) return nullptr;
  try {
    return f8::chat::builtin_template(name);
  } catch (...) {
    return nullptr;
  }
}

const char* f8_chat_template_family(const char* tmpl) {
  if (!tmpl) return "";
  try {
    return f8::chat::family_name(f8::chat::recognize(tmpl).family);
  } catch (...) {
    return "";
  }
}

}  // extern "C"
