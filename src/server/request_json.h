// request_json.h — the JSON helpers request parsing shares (request.cpp,
// request_tools.cpp): typed field access whose failures are 400s naming the
// field. Internal to src/server.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "server/api_error.h"
#include "server/request.h"

namespace f8srv::reqjson {

// Ordered: a tool's parameters and a response_format schema keep the order
// their properties were written in (the order the grammar generates them).
using json = nlohmann::ordered_json;

// Parses a body into an object (400 for bad JSON, nesting over 64 levels, non-objects).
bool parse_object(const std::string& body, json* out, ApiError* err);
const char* type_name(const json& v);
// A field that is absent or null keeps its default: nullptr.
const json* field(const json& j, const char* key);
ApiError type_error(const char* key, const char* want, const json& v);
bool get_number(const json& j, const char* key, double lo, double hi, float* out, ApiError* err);
bool get_int(const json& j, const char* key, int64_t lo, int64_t hi, int64_t* out, bool* present, ApiError* err);
bool get_bool(const json& j, const char* key, bool* out, ApiError* err);
bool get_string(const json& j, const char* key, std::string* out, ApiError* err);
// One-line JSON text (invalid UTF-8 cannot occur: the parser rejected it).
inline std::string dump(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

// request_tools.cpp: response_format; tools, tool_choice, parallel_tool_calls
// (chat); a message's tool_calls / tool_call_id / name.
bool parse_response_format(const json& j, ParsedRequest* out, ApiError* err);
bool parse_tools(const json& j, ParsedRequest* out, ApiError* err);
bool parse_message_tools(const json& m, size_t i, ChatMessage* out, ApiError* err);

}  // namespace f8srv::reqjson
