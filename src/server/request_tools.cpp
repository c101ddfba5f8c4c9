// request_tools.cpp — the structured-output and tool-calling fields of a
// request (request_json.h): response_format, tools, tool_choice,
// parallel_tool_calls, and the tool_calls / tool_call_id of messages.
// Shapes as OpenAI documents them; every refusal is a 400 naming the field.
#include <set>

#include "server/request_json.h"

namespace f8srv::reqjson {

namespace {

// OpenAI's rule for function and schema names.
bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

}  // namespace

bool parse_response_format(const json& j, ParsedRequest* out, ApiError* err) {
  const json* v = field(j, "response_format");
  if (!v) return true;
  const char* P = "response_format";
  if (!v->is_object() || !v->contains("type") || !(*v)["type"].is_string()) {
    *err = bad_request("'response_format' must be an object with a string 'type'", P);
    return false;
  }
  std::string type = (*v)["type"].get<std::string>();
  if (type == "text") return true;
  if (type == "json_object") {
    out->response_format = type;
    return true;
  }
  if (type != "json_schema") {
    *err = bad_request("'response_format.type' must be 'text', 'json_object' or 'json_schema', got '" + type + "'", P);
    return false;
  }
  const json* js = field(*v, "json_schema");
  if (!js || !js->is_object()) {
    *err = bad_request("'response_format.json_schema' must be an object with a 'schema'", P);
    return false;
  }
  if (const json* name = field(*js, "name"); name && !(name->is_string() && valid_name(name->get<std::string>()))) {
    *err = bad_request("'response_format.json_schema.name' must be 1-64 characters of a-z, A-Z, 0-9, _ and -", P);
    return false;
  }
  if (const json* strict = field(*js, "strict"); strict && !strict->is_boolean()) {
    *err = bad_request("'response_format.json_schema.strict' must be a boolean", P);
    return false;
  }
  const json* schema = field(*js, "schema");
  if (!schema || !(schema->is_object() || schema->is_boolean())) {
    *err = bad_request("'response_format.json_schema.schema' must be a JSON Schema (an object)", P);
    return false;
  }
  out->response_format = type;
  out->json_schema = dump(*schema);
  return true;
}

bool parse_tools(const json& j, ParsedRequest* out, ApiError* err) {
  if (const json* v = field(j, "tools")) {
    if (!v->is_array()) {
      *err = type_error("tools", "an array", *v);
      return false;
    }
    if (v->size() > kMaxTools) {
      *err = bad_request("'tools' may hold at most " + std::to_string(kMaxTools) + " functions", "tools");
      return false;
    }
    std::set<std::string> names;
    for (size_t i = 0; i < v->size(); ++i) {
      const json& t = (*v)[i];
      std::string where = "'tools[" + std::to_string(i) + "]";
      if (!t.is_object()) {
        *err = bad_request(where + "' must be an object", "tools");
        return false;
      }
      if (const json* type = field(t, "type"); !type || !type->is_string() || type->get<std::string>() != "function") {
        *err = bad_request(where + ".type' must be 'function'", "tools");
        return false;
      }
      const json* f = field(t, "function");
      if (!f || !f->is_object()) {
        *err = bad_request(where + ".function' must be an object", "tools");
        return false;
      }
      ToolSpec spec;
      const json* name = field(*f, "name");
      if (!name || !name->is_string() || !valid_name(name->get<std::string>())) {
        *err = bad_request(where + ".function.name' must be 1-64 characters of a-z, A-Z, 0-9, _ and -", "tools");
        return false;
      }
      spec.name = name->get<std::string>();
      if (!names.insert(spec.name).second) {
        *err = bad_request("'tools' names '" + spec.name + "' twice", "tools");
        return false;
      }
      if (const json* d = field(*f, "description")) {
        if (!d->is_string()) {
          *err = bad_request(where + ".function.description' must be a string", "tools");
          return false;
        }
        spec.description = d->get<std::string>();
      }
      if (const json* p = field(*f, "parameters")) {
        if (!p->is_object()) {
          *err = bad_request(where + ".function.parameters' must be a JSON Schema object", "tools");
          return false;
        }
        spec.parameters = dump(*p);
      }
      if (const json* s = field(*f, "strict"); s && !s->is_boolean()) {
        *err = bad_request(where + ".function.strict' must be a boolean", "tools");
        return false;
      }
      out->tools.push_back(spec);
    }
    out->tools_json = dump(*v);
  }
  if (const json* c = field(j, "tool_choice")) {
    if (c->is_string()) {
      std::string s = c->get<std::string>();
      if (s == "auto") out->tool_choice = ToolChoice::Auto;
      else if (s == "none") out->tool_choice = ToolChoice::None;
      else if (s == "required") out->tool_choice = ToolChoice::Required;
      else {
        *err = bad_request("'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": "
                           "{\"name\": ...}}, got '" + s + "'",
                           "tool_choice");
        return false;
      }
    } else if (c->is_object()) {
      const json* f = field(*c, "function");
      const json* n = f && f->is_object() ? field(*f, "name") : nullptr;
      if (!n || !n->is_string()) {
        *err = bad_request("'tool_choice.function.name' must be a string", "tool_choice");
        return false;
      }
      out->tool_choice = ToolChoice::Named;
      out->tool_choice_name = n->get<std::string>();
      bool found = false;
      for (const ToolSpec& t : out->tools) found |= t.name == out->tool_choice_name;
      if (!found) {
        *err = bad_request("'tool_choice' names '" + out->tool_choice_name + "', which is not in 'tools'", "tool_choice");
        return false;
      }
    } else {
      *err = type_error("tool_choice", "a string or an object", *c);
      return false;
    }
    if (out->tools.empty() && (out->tool_choice == ToolChoice::Required || out->tool_choice == ToolChoice::Named)) {
      *err = bad_request("'tool_choice' '" + std::string(out->tool_choice == ToolChoice::Required ? "required" : "function") +
                             "' needs 'tools'",
                         "tool_choice");
      return false;
    }
  }
  return get_bool(j, "parallel_tool_calls", &out->parallel_tool_calls, err);
}

bool parse_message_tools(const json& m, size_t i, ChatMessage* out, ApiError* err) {
  std::string where = "'messages[" + std::to_string(i) + "]";
  if (out->role == "assistant") {
    const json* tc = field(m, "tool_calls");
    if (!tc) return true;
    if (!tc->is_array()) {
      *err = bad_request(where + ".tool_calls' must be an array", "messages");
      return false;
    }
    json calls = json::array();
    for (size_t k = 0; k < tc->size(); ++k) {
      const json& c = (*tc)[k];
      std::string cw = where + ".tool_calls[" + std::to_string(k) + "]";
      const json* f = c.is_object() ? field(c, "function") : nullptr;
      const json* name = f && f->is_object() ? field(*f, "name") : nullptr;
      if (!name || !name->is_string()) {
        *err = bad_request(cw + ".function.name' must be a string", "messages");
        return false;
      }
      json args = json::object();
      if (const json* a = field(*f, "arguments")) {
        if (a->is_string()) {
          // Templates read arguments as an object (vLLM passes them parsed too).
          json parsed = json::parse(a->get<std::string>(), nullptr, false);
          args = !parsed.is_discarded() && parsed.is_object() ? parsed : *a;
        } else if (a->is_object()) {
          args = *a;
        } else {
          *err = bad_request(cw + ".function.arguments' must be a string (JSON text)", "messages");
          return false;
        }
      }
      json id = "";
      if (const json* idv = field(c, "id")) {
        if (!idv->is_string()) {
          *err = bad_request(cw + ".id' must be a string", "messages");
          return false;
        }
        id = *idv;
      }
      calls.push_back({{"id", id}, {"type", "function"}, {"function", {{"name", *name}, {"arguments", args}}}});
    }
    if (!calls.empty()) out->tool_calls_json = dump(calls);
    return true;
  }
  if (out->role == "tool") {
    if (!get_string(m, "tool_call_id", &out->tool_call_id, err) || !get_string(m, "name", &out->name, err)) {
      err->message = where + "." + err->message.substr(1);
      err->param = "messages";
      return false;
    }
  }
  return true;
}

}  // namespace f8srv::reqjson
