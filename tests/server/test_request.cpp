// Request validation (request.h), stop strings (stop_text.h) and the API
// key comparison: pure functions, no model.
#include <gtest/gtest.h>

#include "server/request.h"
#include "server/server.h"
#include "server/stop_text.h"

using namespace f8srv;

namespace {

struct Case {
  const char* body;
  bool ok;
  const char* param;  // expected ApiError::param when !ok ("" = any)
};

void check(bool chat, const Case& c) {
  ParsedRequest r;
  ApiError e;
  bool ok = parse_generation_request(c.body, chat, &r, &e);
  EXPECT_EQ(ok, c.ok) << c.body << " -> " << e.message;
  if (!ok) {
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_FALSE(e.message.empty());
    if (*c.param) {
      EXPECT_EQ(e.param, c.param) << c.body << " -> " << e.message;
    }
  }
}

}  // namespace

TEST(Request, ChatValidAndInvalid) {
  const Case cases[] = {
      {R"({"messages":[{"role":"user","content":"hi"}]})", true, ""},
      {R"({"model":"x","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],
           "max_tokens":5,"temperature":0,"top_p":0.5,"top_k":3,"min_p":0.1,"seed":-7,"stop":["a","b"],
           "presence_penalty":1.5,"frequency_penalty":-2,"stream":true,"stream_options":{"include_usage":true},
           "n":1,"logprobs":false,"user":"u","tools":[],"response_format":{"type":"text"}})", true, ""},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]})", true, ""},
      {R"({"messages":[{"role":"assistant","content":null},{"role":"user","content":"x"}],"max_tokens":null})", true, ""},
      {R"([])", false, ""},
      {R"("str")", false, ""},
      {R"({)", false, ""},
      {R"({"messages":[{"role":"user","content":"hi"}]} trailing)", false, ""},
      {R"({})", false, "messages"},
      {R"({"messages":"hi"})", false, "messages"},
      {R"({"messages":[]})", false, "messages"},
      {R"({"messages":[1]})", false, "messages"},
      {R"({"messages":[{"content":"x"}]})", false, "messages"},
      {R"({"messages":[{"role":"wizard","content":"x"}]})", false, "messages"},
      {R"({"messages":[{"role":"user"}]})", false, "messages"},
      {R"({"messages":[{"role":"user","content":5}]})", false, "messages"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", false, "messages"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})", false, "max_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":"5"})", false, "max_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":1.5})", false, "max_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":99999999999999999999})", false, "max_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"temperature":2.5})", false, "temperature"},
      {R"({"messages":[{"role":"user","content":"x"}],"temperature":-0.1})", false, "temperature"},
      {R"({"messages":[{"role":"user","content":"x"}],"temperature":true})", false, "temperature"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_p":1.01})", false, "top_p"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_k":-1})", false, "top_k"},
      {R"({"messages":[{"role":"user","content":"x"}],"min_p":2})", false, "min_p"},
      {R"({"messages":[{"role":"user","content":"x"}],"presence_penalty":3})", false, "presence_penalty"},
      {R"({"messages":[{"role":"user","content":"x"}],"frequency_penalty":-3})", false, "frequency_penalty"},
      {R"({"messages":[{"role":"user","content":"x"}],"seed":"1"})", false, "seed"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":5})", false, "stop"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":[""]})", false, "stop"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":[1]})", false, "stop"},
      {R"({"messages":[{"role":"user","content":"x"}],"stream":"yes"})", false, "stream"},
      {R"({"messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}})", false, "stream_options"},
      {R"({"messages":[{"role":"user","content":"x"}],"n":16})", true, ""},
      {R"({"messages":[{"role":"user","content":"x"}],"n":17})", false, "n"},
      {R"({"messages":[{"role":"user","content":"x"}],"n":0})", false, "n"},
      {R"({"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":20})", true, ""},
      {R"({"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21})", false, "top_logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", false, "top_logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"logprobs":1})", false, "logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"1":5,"22":-100}})", true, ""},
      {R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"a":5}})", false, "logit_bias"},
      {R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"1":101}})", false, "logit_bias"},
      {R"({"messages":[{"role":"user","content":"x"}],"logit_bias":[1]})", false, "logit_bias"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}})", true, ""},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"p","schema":{"type":"object"},"strict":true}}})", true, ""},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"p"}}})", false, "response_format"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"a b","schema":{}}}})", false, "response_format"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}})", false, "response_format"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":"json"})", false, "response_format"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"required","parallel_tool_calls":false})", true, ""},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}}})", true, ""},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]})", false, "tools"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"retrieval","function":{"name":"f"}}]})", false, "tools"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"has space"}}]})", false, "tools"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]})", false, "tools"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":[]}}]})", false, "tools"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}})", false, "tool_choice"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"always"})", false, "tool_choice"},
      {R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"required"})", false, "tool_choice"},
      {R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"none"})", true, ""},
      {R"({"messages":[{"role":"user","content":"x"}],"parallel_tool_calls":"no"})", false, "parallel_tool_calls"},
      {R"({"messages":[{"role":"user","content":"x"}],"functions":[{"name":"f"}]})", false, "functions"},
      {R"({"messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"ok"}]})", true, ""},
      {R"({"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"function":{"arguments":"{}"}}]}]})", false, "messages"},
      {R"({"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":{}}]})", false, "messages"},
      {R"({"messages":[{"role":"user","content":"x"},{"role":"tool","content":"r","tool_call_id":5}]})", false, "messages"},
      {R"({"messages":[{"role":"user","content":"x"}],"model":5})", false, "model"},
  };
  for (const Case& c : cases) check(true, c);
}

TEST(Request, SpeculativeDraftModelFlag) {
  ParsedRequest r;
  ApiError e;
  ASSERT_TRUE(parse_generation_request(R"({"prompt":"x"})", false, &r, &e)) << e.message;
  EXPECT_EQ(r.gen.spec_draft_model, -1);  // the server's default: use it when loaded
  for (bool on : {false, true}) {
    ParsedRequest q;
    const std::string body = std::string(R"({"prompt":"x","speculative":{"draft_model":)") + (on ? "true" : "false") +
                             R"(,"draft_max":6}})";
    ASSERT_TRUE(parse_generation_request(body, false, &q, &e)) << e.message;
    EXPECT_EQ(q.gen.spec_draft_model, on ? 1 : 0);
    EXPECT_EQ(q.gen.draft_max, 6);
  }
  ParsedRequest bad;
  EXPECT_FALSE(parse_generation_request(R"({"prompt":"x","speculative":{"draft_model":1}})", false, &bad, &e));
  EXPECT_EQ(e.param, "speculative");
  EXPECT_NE(e.message.find("'speculative.draft_model' must be a boolean"), std::string::npos) << e.message;
  EXPECT_FALSE(parse_generation_request(R"({"prompt":"x","speculative":{"model":true}})", false, &bad, &e));
  EXPECT_NE(e.message.find("draft_model)"), std::string::npos) << e.message;  // the options are listed
}

TEST(Request, CompletionPromptForms) {
  const Case cases[] = {
      {R"({"prompt":"hello"})", true, ""},
      {R"({"prompt":["hello"]})", true, ""},
      {R"({"prompt":[1,2,3]})", true, ""},
      {R"({"prompt":[[1,2,3]]})", true, ""},
      {R"({"prompt":""})", true, ""},
      {R"({})", false, "prompt"},
      {R"({"prompt":5})", false, "prompt"},
      {R"({"prompt":[]})", false, "prompt"},
      {R"({"prompt":["a","b"]})", false, "prompt"},
      {R"({"prompt":[1,-2]})", false, "prompt"},
      {R"({"prompt":[1,"a"]})", false, "prompt"},
      {R"({"prompt":[1,4294967296]})", false, "prompt"},
      {R"({"prompt":"x","echo":true})", false, "echo"},
      {R"({"prompt":"x","best_of":3})", false, "best_of"},
      {R"({"prompt":"x","logprobs":2})", true, ""},
      {R"({"prompt":"x","logprobs":21})", false, "logprobs"},
      {R"({"prompt":"x","logprobs":true})", false, "logprobs"},
      {R"({"prompt":"x","n":3,"response_format":{"type":"json_object"}})", true, ""},
      {R"({"prompt":"x","suffix":"y"})", false, "suffix"},
  };
  for (const Case& c : cases) check(false, c);
  ParsedRequest r;
  ApiError e;
  ASSERT_TRUE(parse_generation_request(R"({"prompt":[[5,6]],"max_tokens":7,"stop":"x","seed":3})", false, &r, &e));
  EXPECT_TRUE(r.prompt_is_tokens);
  EXPECT_EQ(r.prompt_tokens, (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(r.gen.max_tokens, 7);
  EXPECT_EQ(r.gen.stop, (std::vector<std::string>{"x"}));
  ASSERT_TRUE(r.gen.seed.has_value());
  EXPECT_EQ(*r.gen.seed, 3u);
}

TEST(Request, ToolsAndFormatsAreParsed) {
  ParsedRequest r;
  ApiError e;
  ASSERT_TRUE(parse_generation_request(
      R"({"messages":[{"role":"user","content":"x"},
          {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"b\":1,\"a\":2}"}}]},
          {"role":"tool","tool_call_id":"c1","content":"ok"}],
          "tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{"z":{},"a":{}}}}}],
          "tool_choice":"required","parallel_tool_calls":false,"n":3,"logprobs":true,"top_logprobs":4,
          "response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"properties":{"y":{},"x":{}}}}},
          "logit_bias":{"7":-100}})",
      true, &r, &e))
      << e.message;
  ASSERT_EQ(r.tools.size(), 1u);
  EXPECT_EQ(r.tools[0].name, "f");
  // Property order survives (it is the order the grammar writes them in).
  EXPECT_EQ(r.tools[0].parameters, R"({"type":"object","properties":{"z":{},"a":{}}})");
  EXPECT_EQ(r.json_schema, R"({"properties":{"y":{},"x":{}}})");
  EXPECT_EQ(r.tool_choice, ToolChoice::Required);
  EXPECT_FALSE(r.parallel_tool_calls);
  EXPECT_EQ(r.n, 3);
  EXPECT_EQ(r.gen.top_logprobs, 4);
  ASSERT_EQ(r.gen.logit_bias.size(), 1u);
  EXPECT_EQ(r.gen.logit_bias[0].first, 7);
  EXPECT_EQ(r.response_format, "json_schema");
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_TRUE(r.messages[1].content_null);
  // Arguments reach the template as an object, in their order.
  EXPECT_EQ(r.messages[1].tool_calls_json,
            R"([{"id":"c1","type":"function","function":{"name":"f","arguments":{"b":1,"a":2}}}])");
  EXPECT_EQ(r.messages[2].tool_call_id, "c1");
}

TEST(Request, DeepNestingIsRejectedNotCrashing) {
  std::string deep(200000, '[');
  ParsedRequest r;
  ApiError e;
  EXPECT_FALSE(parse_generation_request(deep, true, &r, &e));
  EXPECT_EQ(e.status, 400);
  std::string ok_depth = R"({"prompt":"x","a":)" + std::string(30, '[') + std::string(30, ']') + "}";
  EXPECT_TRUE(parse_generation_request(ok_depth, false, &r, &e)) << e.message;
}

TEST(Request, InvalidUtf8IsA400) {
  ParsedRequest r;
  ApiError e;
  EXPECT_FALSE(parse_generation_request("{\"prompt\":\"\xff\xfe\"}", false, &r, &e));
  EXPECT_EQ(e.status, 400);
  std::string j = error_json(bad_request("bad \xff byte"));
  EXPECT_NE(j.find("\"error\""), std::string::npos);
}

TEST(Request, TokenizeDetokenize) {
  TokenizeRequest t;
  ApiError e;
  EXPECT_TRUE(parse_tokenize_request(R"({"content":"hi","add_special":false})", &t, &e));
  EXPECT_EQ(t.text, "hi");
  EXPECT_FALSE(t.add_special);
  EXPECT_FALSE(parse_tokenize_request(R"({"content":3})", &t, &e));
  EXPECT_FALSE(parse_tokenize_request(R"({})", &t, &e));
  std::vector<int32_t> ids;
  EXPECT_TRUE(parse_detokenize_request(R"({"tokens":[1,2]})", &ids, &e));
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 2}));
  EXPECT_FALSE(parse_detokenize_request(R"({"tokens":"1"})", &ids, &e));
  EXPECT_FALSE(parse_detokenize_request(R"({"tokens":[1.5]})", &ids, &e));
}

TEST(StopText, HoldsBackPrefixesAndCutsAtTheStop) {
  StopText s({"STOP", "xy"});
  bool hit = false;
  EXPECT_EQ(s.feed("abc ST", &hit), "abc ");
  EXPECT_FALSE(hit);
  EXPECT_EQ(s.feed("O", &hit), "");
  EXPECT_EQ(s.feed("Q", &hit), "STOQ");  // not a stop after all: released
  EXPECT_EQ(s.feed("1x", &hit), "1");
  EXPECT_EQ(s.feed("yzzz", &hit), "");
  EXPECT_TRUE(hit);
  EXPECT_EQ(s.feed("more", &hit), "");
  EXPECT_EQ(s.flush(), "");

  StopText t({"end"});
  EXPECT_EQ(t.feed("the en", &hit), "the ");
  EXPECT_EQ(t.flush(), "en");  // generation ended otherwise: show what was held
  StopText none({});
  EXPECT_EQ(none.feed("abc", &hit), "abc");
}

TEST(Auth, KeysEqual) {
  EXPECT_TRUE(keys_equal("secret", "secret"));
  EXPECT_FALSE(keys_equal("secreT", "secret"));
  EXPECT_FALSE(keys_equal("secret1", "secret"));
  EXPECT_FALSE(keys_equal("secre", "secret"));
  EXPECT_FALSE(keys_equal("", "secret"));
  EXPECT_FALSE(keys_equal("", ""));  // an empty key never authenticates
}
