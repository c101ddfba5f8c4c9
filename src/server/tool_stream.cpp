// tool_stream.cpp — tool calls as OpenAI stream deltas (ToolStreamParser,
// tool_calls.h): the output so far is parsed again at every chunk (outputs
// are short; a call's text is a few hundred bytes) and compared with what
// was sent: new content before the first call, a call's id and name once
// its name is complete, then its arguments as they grow. Content written
// after the calls is sent at the end.
#include "server/tool_calls.h"

namespace f8srv {

ToolStreamParser::ToolStreamParser(ToolFormat f, ToolParseOptions opt, std::function<std::string(int)> make_id)
    : f_(f), opt_(std::move(opt)), make_id_(std::move(make_id)) {}

std::vector<ToolDelta> ToolStreamParser::feed(const std::string& text) {
  text_ += text;
  return diff(parse_tool_output(f_, text_, false, opt_), false);
}

std::vector<ToolDelta> ToolStreamParser::finish() { return diff(parse_tool_output(f_, text_, true, opt_), true); }

std::vector<ToolDelta> ToolStreamParser::diff(const ToolParse& p, bool final) {
  std::vector<ToolDelta> out;
  // Content: only what extends what was sent (before the calls it only grows).
  if ((!calls_started_ || final) && p.content.size() > content_sent_ &&
      p.content.compare(0, content_sent_, p.content, 0, content_sent_) == 0) {
    ToolDelta d;
    d.content = p.content.substr(content_sent_);
    content_sent_ = p.content.size();
    out.push_back(d);
  }
  if (!p.calls.empty()) calls_started_ = true;
  for (size_t i = 0; i < p.calls.size(); ++i) {
    const ToolCallOut& c = p.calls[i];
    if (i >= sent_.size()) sent_.push_back({});
    Sent& s = sent_[i];
    if (!s.header && c.name_done) {
      ToolDelta d;
      d.call_index = int(i);
      d.id = make_id_(int(i));
      d.name = c.name;
      out.push_back(d);
      s.header = true;
    }
    if (!s.header || !(c.streamable || c.args_done)) continue;
    // Arguments: the text beyond what was sent (the raw JSON only grows;
    // a complete value may be normalized, e.g. a decoded string: then only
    // its extension, if any, is sent).
    if (c.arguments.size() > s.args && c.arguments.compare(0, s.args, c.arguments, 0, s.args) == 0) {
      ToolDelta d;
      d.call_index = int(i);
      d.arguments = c.arguments.substr(s.args);
      s.args = c.arguments.size();
      out.push_back(d);
    }
  }
  return out;
}

}  // namespace f8srv
