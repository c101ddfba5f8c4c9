// request.cpp — strict parsing of OpenAI request bodies (see request.h).
#include "server/request.h"

#include <cmath>

#include "server/request_json.h"

namespace f8srv {

using reqjson::json;

namespace reqjson {

// nlohmann's parser recurses once per nesting level; a body of a million
// '[' would overflow the stack. Bodies nested deeper than this are rejected
// before parsing (no OpenAI request needs more than ~6 levels).
constexpr int kMaxDepth = 64;

bool nesting_ok(const std::string& s) {
  int depth = 0;
  bool in_str = false, esc = false;
  for (char c : s) {
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    case json::value_t::number_float: return "number";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    default: return "value";
  }
}

bool parse_object(const std::string& body, json* out, ApiError* err) {
  if (!nesting_ok(body)) {
    *err = bad_request("request body is nested deeper than " + std::to_string(kMaxDepth) + " levels");
    return false;
  }
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    *err = bad_request("request body is not valid JSON (UTF-8 text expected)");
    return false;
  }
  if (!j.is_object()) {
    *err = bad_request(std::string("request body must be a JSON object, got ") + type_name(j));
    return false;
  }
  *out = std::move(j);
  return true;
}

const json* field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

ApiError type_error(const char* key, const char* want, const json& v) {
  return bad_request(std::string("'") + key + "' must be " + want + ", got " + type_name(v), key);
}

bool get_number(const json& j, const char* key, double lo, double hi, float* out, ApiError* err) {
  const json* v = field(j, key);
  if (!v) return true;
  if (!v->is_number()) {
    *err = type_error(key, "a number", *v);
    return false;
  }
  double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) {
    char buf[160];
    snprintf(buf, sizeof buf, "'%s' must be in [%g, %g], got %g", key, lo, hi, d);
    *err = bad_request(buf, key);
    return false;
  }
  *out = static_cast<float>(d);
  return true;
}

bool get_int(const json& j, const char* key, int64_t lo, int64_t hi, int64_t* out, bool* present,
             ApiError* err) {
  const json* v = field(j, key);
  if (present) *present = v != nullptr;
  if (!v) return true;
  if (!v->is_number_integer()) {
    *err = type_error(key, "an integer", *v);
    return false;
  }
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    *err = bad_request(std::string("'") + key + "' is out of range", key);
    return false;
  }
  int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) {
    *err = bad_request(std::string("'") + key + "' must be in [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "], got " + std::to_string(x),
                       key);
    return false;
  }
  *out = x;
  return true;
}

bool get_bool(const json& j, const char* key, bool* out, ApiError* err) {
  const json* v = field(j, key);
  if (!v) return true;
  if (!v->is_boolean()) {
    *err = type_error(key, "a boolean", *v);
    return false;
  }
  *out = v->get<bool>();
  return true;
}

bool get_string(const json& j, const char* key, std::string* out, ApiError* err) {
  const json* v = field(j, key);
  if (!v) return true;
  if (!v->is_string()) {
    *err = type_error(key, "a string", *v);
    return false;
  }
  *out = v->get<std::string>();
  return true;
}

}  // namespace reqjson

namespace {

using namespace reqjson;

bool parse_stop(const json& j, std::vector<std::string>* out, ApiError* err) {
  const json* v = field(j, "stop");
  if (!v) return true;
  std::vector<std::string> stops;
  if (v->is_string()) {
    stops.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    if (v->size() > kMaxStop) {
      *err = bad_request("'stop' may hold at most " + std::to_string(kMaxStop) + " strings, got " +
                             std::to_string(v->size()),
                         "stop");
      return false;
    }
    for (const json& s : *v) {
      if (!s.is_string()) {
        *err = bad_request(std::string("'stop' entries must be strings, got ") + type_name(s), "stop");
        return false;
      }
      stops.push_back(s.get<std::string>());
    }
  } else {
    *err = type_error("stop", "a string or an array of strings", *v);
    return false;
  }
  for (const std::string& s : stops) {
    if (s.empty()) {
      *err = bad_request("'stop' strings must not be empty", "stop");
      return false;
    }
    if (s.size() > kMaxStopBytes) {
      *err = bad_request("'stop' strings must be at most " + std::to_string(kMaxStopBytes) + " bytes",
                         "stop");
      return false;
    }
  }
  *out = std::move(stops);
  return true;
}

// Fields f8 does not implement: accepted only in their "off" form so a
// client never silently gets something other than it asked for.
bool reject_unsupported(const json& j, bool chat, ApiError* err) {
  if (!chat) {
    int64_t best_of = 1;
    if (!get_int(j, "best_of", 1, 1, &best_of, nullptr, err)) {
      err->message = "'best_of' must be 1 (use 'n' for several choices)";
      return false;
    }
    bool echo = false;
    if (!get_bool(j, "echo", &echo, err)) return false;
    if (echo) {
      *err = bad_request("'echo' is not supported", "echo");
      return false;
    }
    std::string suffix;
    if (!get_string(j, "suffix", &suffix, err)) return false;
    if (!suffix.empty()) {
      *err = bad_request("'suffix' is not supported", "suffix");
      return false;
    }
  }
  if (const json* v = field(j, "functions")) {
    if (!v->is_array()) {
      *err = type_error("functions", "an array", *v);
      return false;
    }
    if (!v->empty()) {
      *err = bad_request("'functions' (the deprecated form of tool calling) is not supported; use 'tools'", "functions");
      return false;
    }
  }
  return true;
}

// n, logprobs / top_logprobs, logit_bias.
bool parse_choices_and_logprobs(const json& j, bool chat, ParsedRequest* out, ApiError* err) {
  int64_t n = 1;
  if (!get_int(j, "n", 1, kMaxChoices, &n, nullptr, err)) return false;
  out->n = int32_t(n);
  if (chat) {
    bool lp = false;
    if (!get_bool(j, "logprobs", &lp, err)) return false;
    int64_t top = 0;
    bool has_top = false;
    if (!get_int(j, "top_logprobs", 0, kMaxTopLogprobs, &top, &has_top, err)) return false;
    if (has_top && !lp) {
      *err = bad_request("'top_logprobs' needs 'logprobs': true", "top_logprobs");
      return false;
    }
    out->gen.top_logprobs = lp ? int32_t(top) : -1;
  } else {
    int64_t lp = -1;
    bool has = false;
    if (!get_int(j, "logprobs", 0, kMaxTopLogprobs, &lp, &has, err)) return false;
    out->gen.top_logprobs = has ? int32_t(lp) : -1;
  }
  if (const json* v = field(j, "logit_bias")) {
    if (!v->is_object()) {
      *err = type_error("logit_bias", "an object mapping token ids to biases", *v);
      return false;
    }
    if (v->size() > kMaxLogitBias) {
      *err = bad_request("'logit_bias' may hold at most " + std::to_string(kMaxLogitBias) + " entries", "logit_bias");
      return false;
    }
    for (auto it = v->begin(); it != v->end(); ++it) {
      const std::string& k = it.key();
      bool digits = !k.empty() && k.size() <= 9 && k.find_first_not_of("0123456789") == std::string::npos;
      if (!digits) {
        *err = bad_request("'logit_bias' keys must be token ids (decimal integers), got '" + k + "'", "logit_bias");
        return false;
      }
      if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < -100 || it->get<double>() > 100) {
        *err = bad_request("'logit_bias' values must be numbers in [-100, 100] (token " + k + ")", "logit_bias");
        return false;
      }
      out->gen.logit_bias.push_back({int32_t(std::stol(k)), float(it->get<double>())});
    }
  }
  return true;
}

bool parse_gen_params(const json& j, GenParams* g, ApiError* err) {
  int64_t mt = -1;
  bool has_mt = false;
  if (!get_int(j, "max_tokens", 1, kMaxTokensCap, &mt, &has_mt, err)) return false;
  if (!has_mt && !get_int(j, "max_completion_tokens", 1, kMaxTokensCap, &mt, &has_mt, err)) return false;
  g->max_tokens = static_cast<int32_t>(mt);
  if (!get_number(j, "temperature", 0.0, 2.0, &g->temperature, err)) return false;
  if (!get_number(j, "top_p", 0.0, 1.0, &g->top_p, err)) return false;
  int64_t top_k = 0;
  if (!get_int(j, "top_k", 0, 1 << 24, &top_k, nullptr, err)) return false;
  g->top_k = static_cast<int32_t>(top_k);
  if (!get_number(j, "min_p", 0.0, 1.0, &g->min_p, err)) return false;
  if (!get_number(j, "presence_penalty", -2.0, 2.0, &g->presence_penalty, err)) return false;
  if (!get_number(j, "frequency_penalty", -2.0, 2.0, &g->frequency_penalty, err)) return false;
  if (!get_number(j, "repeat_penalty", 1e-3, 10.0, &g->repeat_penalty, err)) return false;
  int64_t seed = 0;
  bool has_seed = false;
  if (!get_int(j, "seed", INT64_MIN, INT64_MAX, &seed, &has_seed, err)) return false;
  if (has_seed) g->seed = static_cast<uint64_t>(seed);
  if (!parse_stop(j, &g->stop, err)) return false;
  if (!get_bool(j, "ignore_eos", &g->ignore_eos, err)) return false;
  if (auto it = j.find("speculative"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) {
      *err = bad_request(std::string("'speculative' must be an object like {\"lookup\": 3, \"draft_max\": 8}, got ") +
                             type_name(*it),
                         "speculative");
      return false;
    }
    for (auto k = it->begin(); k != it->end(); ++k)
      if (k.key() != "lookup" && k.key() != "ngram_min" && k.key() != "draft_max" && k.key() != "draft_model") {
        *err = bad_request("'speculative." + k.key() + "' is not an option (lookup, ngram_min, draft_max, draft_model)",
                           "speculative");
        return false;
      }
    int64_t lookup = -1, nmin = -1, dmax = -1;
    bool has = false;
    auto sub = [&](const char* key, int64_t lo, int64_t* v) {
      if (get_int(*it, key, lo, 64, v, &has, err)) return true;
      if (!err->message.empty() && err->message[0] == '\'') err->message.insert(1, "speculative.");
      err->param = "speculative";
      return false;
    };
    if (!sub("lookup", 0, &lookup) || !sub("ngram_min", 1, &nmin) || !sub("draft_max", 1, &dmax)) return false;
    if (auto dm = it->find("draft_model"); dm != it->end() && !dm->is_null()) {
      if (!dm->is_boolean()) {
        *err = bad_request(std::string("'speculative.draft_model' must be a boolean, got ") + type_name(*dm),
                           "speculative");
        return false;
      }
      g->spec_draft_model = dm->get<bool>() ? 1 : 0;
    }
    g->spec_lookup = int32_t(lookup);
    g->spec_ngram_min = int32_t(nmin);
    g->draft_max = int32_t(dmax);
  }
  return true;
}

bool parse_content(const json& m, size_t i, ChatMessage* out, ApiError* err) {
  std::string where = "messages[" + std::to_string(i) + "]";
  auto it = m.find("content");
  if (it == m.end() || it->is_null()) {
    if (out->role == "assistant") {  // assistant turns may carry only tool_calls
      out->content_null = true;
      return true;
    }
    *err = bad_request("'" + where + ".content' is required", "messages");
    return false;
  }
  if (it->is_string()) {
    out->content = it->get<std::string>();
    return true;
  }
  if (!it->is_array()) {
    *err = bad_request("'" + where + ".content' must be a string or an array of content parts, got " +
                           type_name(*it),
                       "messages");
    return false;
  }
  for (size_t k = 0; k < it->size(); ++k) {
    const json& part = (*it)[k];
    std::string pw = where + ".content[" + std::to_string(k) + "]";
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
      *err = bad_request("'" + pw + "' must be an object with a string 'type'", "messages");
      return false;
    }
    std::string type = part["type"].get<std::string>();
    if (type != "text") {
      *err = bad_request("'" + pw + "' has type '" + type + "'; only 'text' parts are supported",
                         "messages");
      return false;
    }
    if (!part.contains("text") || !part["text"].is_string()) {
      *err = bad_request("'" + pw + ".text' must be a string", "messages");
      return false;
    }
    out->content += part["text"].get<std::string>();
  }
  return true;
}

bool parse_messages(const json& j, std::vector<ChatMessage>* out, ApiError* err) {
  const json* v = field(j, "messages");
  if (!v) {
    *err = bad_request("'messages' is required", "messages");
    return false;
  }
  if (!v->is_array()) {
    *err = type_error("messages", "an array", *v);
    return false;
  }
  if (v->empty()) {
    *err = bad_request("'messages' must not be empty", "messages");
    return false;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const json& m = (*v)[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) {
      *err = bad_request("'" + where + "' must be an object, got " + type_name(m), "messages");
      return false;
    }
    auto r = m.find("role");
    if (r == m.end() || !r->is_string()) {
      *err = bad_request("'" + where + ".role' must be a string", "messages");
      return false;
    }
    ChatMessage cm;
    cm.role = r->get<std::string>();
    if (cm.role != "system" && cm.role != "developer" && cm.role != "user" && cm.role != "assistant" &&
        cm.role != "tool") {
      *err = bad_request("'" + where + ".role' must be one of system, developer, user, assistant, tool; got '" +
                             cm.role + "'",
                         "messages");
      return false;
    }
    if (!parse_content(m, i, &cm, err)) return false;
    if (!parse_message_tools(m, i, &cm, err)) return false;
    if (cm.role == "developer") cm.role = "system";  // chat templates know "system"
    out->push_back(std::move(cm));
  }
  return true;
}

bool token_array(const json& a, std::vector<int32_t>* out, const char* key, ApiError* err) {
  for (const json& t : a) {
    if (!t.is_number_integer()) {
      *err = bad_request(std::string("'") + key + "' token ids must be integers, got " + type_name(t), key);
      return false;
    }
    int64_t id = t.is_number_unsigned() && t.get<uint64_t>() > INT32_MAX ? -1 : t.get<int64_t>();
    if (id < 0 || id > INT32_MAX) {
      *err = bad_request(std::string("'") + key + "' token id out of range: " + t.dump(), key);
      return false;
    }
    out->push_back(static_cast<int32_t>(id));
  }
  return true;
}

bool parse_prompt(const json& j, ParsedRequest* out, ApiError* err) {
  const json* v = field(j, "prompt");
  if (!v) {
    *err = bad_request("'prompt' is required", "prompt");
    return false;
  }
  if (v->is_string()) {
    out->prompt = v->get<std::string>();
    return true;
  }
  if (!v->is_array()) {
    *err = type_error("prompt", "a string, an array of token ids, or a one-element array", *v);
    return false;
  }
  if (v->empty()) {
    *err = bad_request("'prompt' must not be empty", "prompt");
    return false;
  }
  const json& first = (*v)[0];
  if (first.is_number()) {
    out->prompt_is_tokens = true;
    return token_array(*v, &out->prompt_tokens, "prompt", err);
  }
  if (v->size() != 1) {
    *err = bad_request("only one prompt per request is supported, got " + std::to_string(v->size()),
                       "prompt");
    return false;
  }
  if (first.is_string()) {
    out->prompt = first.get<std::string>();
    return true;
  }
  if (first.is_array()) {
    out->prompt_is_tokens = true;
    return token_array(first, &out->prompt_tokens, "prompt", err);
  }
  *err = bad_request(std::string("'prompt[0]' must be a string or an array of token ids, got ") +
                         type_name(first),
                     "prompt");
  return false;
}

}  // namespace

std::string error_json(const ApiError& e) {
  json j = {{"error",
             {{"message", e.message},
              {"type", e.type},
              {"param", e.param.empty() ? json(nullptr) : json(e.param)},
              {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool parse_generation_request(const std::string& body, bool chat, ParsedRequest* out, ApiError* err) {
  json j;
  if (!parse_object(body, &j, err)) return false;
  out->chat = chat;
  if (!get_string(j, "model", &out->model, err)) return false;
  if (chat) {
    if (!parse_messages(j, &out->messages, err)) return false;
    // Extra chat-template variables (enable_thinking, reasoning_effort, ...),
    // checked further by the renderer (names it sets itself are refused).
    if (const json* kw = field(j, "chat_template_kwargs")) {
      if (!kw->is_object()) {
        *err = type_error("chat_template_kwargs", "an object", *kw);
        return false;
      }
      out->chat_template_kwargs = kw->dump();
    }
  } else {
    if (!parse_prompt(j, out, err)) return false;
  }
  if (!parse_gen_params(j, &out->gen, err)) return false;
  if (!reject_unsupported(j, chat, err)) return false;
  if (!parse_choices_and_logprobs(j, chat, out, err)) return false;
  if (!parse_response_format(j, out, err)) return false;
  if (chat && !parse_tools(j, out, err)) return false;
  if (!get_bool(j, "stream", &out->stream, err)) return false;
  if (const json* so = field(j, "stream_options")) {
    if (!so->is_object()) {
      *err = type_error("stream_options", "an object", *so);
      return false;
    }
    if (!out->stream) {
      *err = bad_request("'stream_options' is only allowed when 'stream' is true", "stream_options");
      return false;
    }
    if (!get_bool(*so, "include_usage", &out->include_usage, err)) {
      err->param = "stream_options";
      return false;
    }
  }
  std::string user;
  if (!get_string(j, "user", &user, err)) return false;
  return true;
}

bool parse_tokenize_request(const std::string& body, TokenizeRequest* out, ApiError* err) {
  json j;
  if (!parse_object(body, &j, err)) return false;
  const char* key = j.contains("content") ? "content" : "prompt";
  const json* v = field(j, key);
  if (!v) {
    *err = bad_request("'content' is required", "content");
    return false;
  }
  if (!v->is_string()) {
    *err = type_error(key, "a string", *v);
    return false;
  }
  out->text = v->get<std::string>();
  if (!get_bool(j, "add_special", &out->add_special, err)) return false;
  if (!get_bool(j, "parse_special", &out->parse_special, err)) return false;
  if (!get_bool(j, "with_pieces", &out->with_pieces, err)) return false;
  return true;
}

bool parse_detokenize_request(const std::string& body, std::vector<int32_t>* tokens, ApiError* err) {
  json j;
  if (!parse_object(body, &j, err)) return false;
  const json* v = field(j, "tokens");
  if (!v) {
    *err = bad_request("'tokens' is required", "tokens");
    return false;
  }
  if (!v->is_array()) {
    *err = type_error("tokens", "an array of integers", *v);
    return false;
  }
  return token_array(*v, tokens, "tokens", err);
}

}  // namespace f8srv
