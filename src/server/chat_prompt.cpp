// chat_prompt.cpp — a chat request's prompt: the model's chat template over
// the conversation, with tools, assistant tool calls and tool results.
//
// Plain conversations (no tools, no tool messages) render exactly as before
// (f8_chat_apply_template: the built-in renderers where they apply), so
// greedy output still equals `f8 generate --chat`. Otherwise the
// conversation goes to the template as JSON (f8_chat_render_json): `tools`
// as sent, assistant `tool_calls` with their arguments as objects (as the
// templates expect them; OpenAI sends a string), role "tool" messages with
// their tool_call_id.
//
// Templates differ in what they show. Once per model the template is
// probed with marker names: does it print the tools, an assistant's
// tool_calls, a tool result? Whatever it does not print (or every part,
// when the template's call syntax is not one tool_calls.h knows) is written
// in the Hermes form the parser then reads:
//   tools       -> a system message listing the functions in <tools></tools>
//                  and asking for <tool_call>{"name": .., "arguments": ..}</tool_call>
//   tool_calls  -> the assistant's content, one <tool_call> block per call
//   tool result -> a user message <tool_response>...</tool_response>
// Mistral's templates want 9-character alphanumeric call ids: other ids
// are mapped to such ids (the same id maps to the same one).
#include <nlohmann/json.hpp>

#include "server/runtime_f8.h"

namespace f8srv {

namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

const char* kProbeTool = "f8_probe_tool_3q7";
const char* kProbeCall = "f8_probe_call_3q7";
const char* kProbeResult = "f8_probe_result_3q7";

json probe_tools() {
  return json::array({{{"type", "function"},
                       {"function",
                        {{"name", kProbeTool},
                         {"description", "probe"},
                         {"parameters", {{"type", "object"}, {"properties", json::object()}}}}}}});
}

std::string mistral_id(const std::string& id) {
  bool ok = id.size() == 9;
  for (char c : id) ok = ok && std::isalnum(uint8_t(c));
  if (ok) return id;
  uint64_t h = 1469598103934665603ull;
  for (char c : id) h = (h ^ uint8_t(c)) * 1099511628211ull;
  static const char* a = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s;
  for (int i = 0; i < 9; ++i, h /= 62) s += a[h % 62];
  return s;
}

std::string polyfill_system(const std::vector<ToolSpec>& tools, const std::string& tools_json) {
  json arr = json::parse(tools_json, nullptr, false);
  std::string list;
  if (arr.is_array())
    for (const json& t : arr) list += dump(t) + "\n";
  else
    for (const ToolSpec& t : tools) list += "{\"type\": \"function\", \"function\": {\"name\": \"" + t.name + "\"}}\n";
  return "You can call functions to help with the user's request. They are listed here as JSON, within "
         "<tools></tools>:\n<tools>\n" +
         list +
         "</tools>\nTo call a function, write a JSON object with its name and arguments within "
         "<tool_call></tool_call> tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
         "</tool_call>";
}

}  // namespace

bool ModelText::render(const std::string& conv_json, std::string* text, ApiError* err) const {
  const char* own = f8_model_chat_template(model_);
  const char* tmpl = (own && *own) ? nullptr : f8_chat_builtin_template("chatml");
  f8_chat_params cp = f8_chat_default_params();
  size_t len = 0;
  f8_status st = f8_chat_render_json(model_, tmpl, conv_json.c_str(), &cp, nullptr, 0, &len);
  if (st == F8_OK || st == F8_ERR_BUFFER_TOO_SMALL) {
    text->assign(len + 1, '\0');
    st = f8_chat_render_json(model_, tmpl, conv_json.c_str(), &cp, text->data(), text->size(), &len);
    text->resize(len);
  }
  if (st == F8_OK) return true;
  if (!err) return false;
  if (st == F8_ERR_INVALID_ARGUMENT && conv_json.find("\"chat_template_kwargs\"") != std::string::npos)
    *err = bad_request(f8_last_error(), "chat_template_kwargs");  // e.g. a kwarg that sets `messages`
  else if (st == F8_ERR_TEMPLATE || st == F8_ERR_INVALID_ARGUMENT)
    *err = bad_request(std::string("chat template: ") + f8_last_error(), "messages");
  else
    *err = ApiError{500, std::string("chat template: ") + f8_last_error(), "server_error", "", ""};
  return false;
}

const ModelText::ToolSupport& ModelText::tool_support() const {
  std::call_once(probe_once_, [this] {
    const char* own = f8_model_chat_template(model_);
    std::string tmpl = own && *own ? own : "";
    if (!tool_format_recognized(tmpl)) return;  // Hermes for everything
    support_.format = detect_tool_format(tmpl);
    std::string text;
    json conv = {{"messages", json::array({{{"role", "user"}, {"content", "x"}}})}, {"tools", probe_tools()}};
    support_.tools = render(dump(conv), &text, nullptr) && text.find(kProbeTool) != std::string::npos;
    json call = {{"id", "abcdefghi"},
                 {"type", "function"},
                 {"function", {{"name", kProbeCall}, {"arguments", {{"k", "v"}}}}}};
    conv["messages"] = json::array({{{"role", "user"}, {"content", "x"}},
                                    {{"role", "assistant"}, {"content", ""}, {"tool_calls", json::array({call})}},
                                    {{"role", "tool"}, {"tool_call_id", "abcdefghi"}, {"content", kProbeResult}},
                                    {{"role", "user"}, {"content", "y"}}});
    if (render(dump(conv), &text, nullptr)) {
      support_.calls = text.find(kProbeCall) != std::string::npos;
      support_.results = text.find(kProbeResult) != std::string::npos;
    }
    // A template that shows neither tools nor calls uses no syntax of its own.
    if (!support_.tools && !support_.calls) support_ = ToolSupport{};
  });
  return support_;
}

ToolFormat ModelText::tool_format() const { return tool_support().format; }

bool ModelText::chat_prompt(const std::vector<ChatMessage>& msgs, const std::string& kwargs_json,
                            const std::vector<ToolSpec>& tools, const std::string& tools_json,
                            std::vector<int32_t>* out, ApiError* err) const {
  bool tool_parts = !tools.empty();
  for (const ChatMessage& m : msgs) tool_parts |= !m.tool_calls_json.empty() || m.role == "tool";
  std::string text;
  if (!tool_parts && kwargs_json.empty()) {
    // Plain: role/content messages, as `f8 generate --chat` renders them.
    std::vector<f8_chat_message> cm;
    cm.reserve(msgs.size());
    for (const ChatMessage& m : msgs) cm.push_back({m.role.c_str(), m.content.c_str()});
    f8_chat_params cp = f8_chat_default_params();
    const char* own = f8_model_chat_template(model_);
    const char* tmpl = (own && *own) ? nullptr : f8_chat_builtin_template("chatml");
    auto go = [&](char* buf, size_t cap, size_t* len) {
      return tmpl ? f8_chat_template_render(tmpl, cm.data(), cm.size(), &cp, buf, cap, len)
                  : f8_chat_apply_template(model_, cm.data(), cm.size(), &cp, buf, cap, len);
    };
    size_t len = 0;
    f8_status st = go(nullptr, 0, &len);
    if (st == F8_OK || st == F8_ERR_BUFFER_TOO_SMALL) {
      text.assign(len + 1, '\0');
      st = go(text.data(), text.size(), &len);
      text.resize(len);
    }
    if (st == F8_ERR_TEMPLATE || st == F8_ERR_INVALID_ARGUMENT) {
      *err = bad_request(std::string("chat template: ") + f8_last_error(), "messages");
      return false;
    }
    if (st != F8_OK) {
      *err = ApiError{500, std::string("chat template: ") + f8_last_error(), "server_error", "", ""};
      return false;
    }
  } else {
    const ToolSupport& sup = tool_support();
    bool mistral_ids = sup.format == ToolFormat::Mistral || sup.format == ToolFormat::MistralV11;
    json messages = json::array();
    bool system_seen = false;
    for (const ChatMessage& m : msgs) {
      json jm = {{"role", m.role}, {"content", m.content_null ? json(nullptr) : json(m.content)}};
      if (!m.tool_calls_json.empty()) {
        json calls = json::parse(m.tool_calls_json);
        if (mistral_ids)
          for (json& c : calls) c["id"] = mistral_id(c.value("id", ""));
        if (sup.calls) {
          jm["tool_calls"] = calls;
          if (m.content_null) jm["content"] = "";
        } else {
          std::string content = m.content;
          for (const json& c : calls) {
            json call = {{"name", c["function"]["name"]}, {"arguments", c["function"]["arguments"]}};
            if (!content.empty()) content += '\n';
            content += "<tool_call>\n" + dump(call) + "\n</tool_call>";
          }
          jm["content"] = content;
        }
      }
      if (m.role == "tool") {
        if (sup.results) {
          if (!m.tool_call_id.empty()) jm["tool_call_id"] = mistral_ids ? mistral_id(m.tool_call_id) : m.tool_call_id;
          if (!m.name.empty()) jm["name"] = m.name;
        } else {
          std::string block = "<tool_response>\n" + m.content + "\n</tool_response>";
          // Consecutive results become one user turn (templates that want
          // alternating roles).
          if (!messages.empty() && messages.back().value("f8_tool_result", false)) {
            messages.back()["content"] = messages.back()["content"].get<std::string>() + "\n" + block;
            continue;
          }
          jm = {{"role", "user"}, {"content", block}, {"f8_tool_result", true}};
        }
      }
      if (m.role == "system" && !system_seen && !tools.empty() && !sup.tools) {
        jm["content"] = m.content + "\n\n" + polyfill_system(tools, tools_json);
        system_seen = true;
      }
      messages.push_back(jm);
    }
    for (json& jm : messages) jm.erase("f8_tool_result");
    if (!tools.empty() && !sup.tools && !system_seen)
      messages.insert(messages.begin(), json{{"role", "system"}, {"content", polyfill_system(tools, tools_json)}});
    json conv = {{"messages", messages}};
    if (!tools.empty() && sup.tools) conv["tools"] = json::parse(tools_json);
    if (!kwargs_json.empty()) conv["chat_template_kwargs"] = json::parse(kwargs_json);  // checked by the parser
    if (!render(dump(conv), &text, err)) return false;
  }
  // As `f8 generate --chat`: the template writes its own BOS text.
  return tokenize(text, /*add_special=*/false, /*parse_special=*/true, out, err);
}

}  // namespace f8srv
