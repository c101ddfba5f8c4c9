// tool_scan.h — scanning helpers shared by the tool-call parsers
// (tool_formats.cpp, tool_formats_special.cpp). Internal to src/server.
//
// Scanning works on a prefix of the model's output as well as on all of it:
// Scan::More means "the text ends inside this; it may still complete",
// which with final = true is an error (Scan::Bad).
#pragma once

#include <string>
#include <vector>

#include "server/tool_calls.h"

namespace f8srv::toolscan {

enum class Scan { Done, More, Bad };
constexpr size_t npos = std::string::npos;

inline bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
size_t skip_ws(const std::string& t, size_t p);
inline bool at(const std::string& t, size_t p, const std::string& m) { return t.compare(p, m.size(), m) == 0; }
// t[p..] is a proper prefix of m (the marker may still be coming).
bool prefix_of(const std::string& t, size_t p, const std::string& m);
// Length of the longest suffix of t that is a proper prefix of some marker.
size_t held_tail(const std::string& t, const std::vector<std::string>& markers);
std::string rtrim(std::string s);
std::string trim(const std::string& s);

// One JSON value at t[p..] (after whitespace): structure only (strings,
// nesting); the complete text is checked by nlohmann afterwards.
Scan scan_value(const std::string& t, size_t p, bool final, size_t* end);
// A complete JSON value's text -> the arguments string: an object as
// written; a string holding JSON is decoded (quoted arguments). "" = invalid.
std::string arguments_of(const std::string& raw);

// A call written as a JSON object {"<name key>": "...", "<args key>": {...}, ...}.
struct ObjCall {
  Scan st = Scan::More;
  size_t end = 0;
  std::string name;
  bool name_done = false;
  size_t ab = npos, ae = npos;  // the arguments value
};
ObjCall scan_call_object(const std::string& t, size_t p, const std::vector<std::string>& name_keys,
                         const std::vector<std::string>& arg_keys, bool final);
// ObjCall -> ToolCallOut (partial or complete); false when a complete call is invalid.
bool to_call(const std::string& t, const ObjCall& o, ToolCallOut* c);

// The formats that are neither JSON objects nor "name, then JSON arguments"
// (tool_formats_special.cpp).
ToolParse parse_harmony(const std::string& t, bool final);
ToolParse parse_functionary_v32(const std::string& t, bool final);
// Calls between `open` and `close` (<tool_call>; Seed-OSS: <seed:tool_call>)
// with XML parameters: <function=name><parameter=k>v</parameter> (qwen3-coder,
// seed-oss), or name<arg_key>k</arg_key><arg_value>v</arg_value> (glm).
ToolParse parse_xml_calls(bool glm, const std::string& t, bool final, const ToolParseOptions& opt,
                          const std::string& open = "<tool_call>", const std::string& close = "</tool_call>");

}  // namespace f8srv::toolscan
