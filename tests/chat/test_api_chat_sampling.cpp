// The chat and sampling sections of the C API: status codes, buffer
// protocol, NULL handling, struct_size tolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "f8.h"

TEST(ApiChat, RenderAndBufferProtocol) {
  f8_chat_message msgs[] = {{"system", "S"}, {"user", "Hi"}};
  f8_chat_params p = f8_chat_default_params();
  p.bos_token = "<s>";
  p.eos_token = "</s>";
  const char* t = f8_chat_builtin_template("llama3");
  ASSERT_NE(t, nullptr);
  EXPECT_STREQ(f8_chat_template_family(t), "llama3");
  size_t len = 0;
  EXPECT_EQ(f8_chat_template_render(t, msgs, 2, &p, nullptr, 0, &len), F8_ERR_BUFFER_TOO_SMALL);
  std::string want =
      "<s><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
      "Hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  EXPECT_EQ(len, want.size());
  std::vector<char> buf(len + 1);
  ASSERT_EQ(f8_chat_template_render(t, msgs, 2, &p, buf.data(), buf.size(), &len), F8_OK);
  EXPECT_EQ(std::string(buf.data()), want);
  p.engine = F8_CHAT_ENGINE_JINJA;
  ASSERT_EQ(f8_chat_template_render(t, msgs, 2, &p, buf.data(), buf.size(), &len), F8_OK);
  EXPECT_EQ(std::string(buf.data()), want);
  // Older, smaller params struct: defaults fill the rest.
  f8_chat_params small = f8_chat_default_params();
  small.struct_size = sizeof(size_t) + sizeof(bool);
  small.add_generation_prompt = false;
  ASSERT_EQ(f8_chat_template_render(f8_chat_builtin_template("chatml"), msgs, 2, &small, buf.data(), buf.size(), &len), F8_OK);
  EXPECT_EQ(std::string(buf.data()), "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ApiChat, Errors) {
  f8_chat_message msgs[] = {{"user", "a"}, {"user", "b"}};
  size_t len = 0;
  char buf[256];
  EXPECT_EQ(f8_chat_template_render(f8_chat_builtin_template("mistral"), msgs, 2, nullptr, buf, sizeof buf, &len),
            F8_ERR_TEMPLATE);
  EXPECT_NE(std::string(f8_last_error()).find("alternate"), std::string::npos);
  EXPECT_EQ(f8_chat_template_render("{% include 'x' %}", msgs, 1, nullptr, buf, sizeof buf, &len),
            F8_ERR_TEMPLATE);
  EXPECT_NE(std::string(f8_last_error()).find("line 1"), std::string::npos);
  EXPECT_EQ(f8_chat_template_render(nullptr, msgs, 1, nullptr, buf, sizeof buf, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_chat_template_render("x", nullptr, 1, nullptr, buf, sizeof buf, &len), F8_ERR_INVALID_ARGUMENT);
  f8_chat_message nulls[] = {{nullptr, "x"}};
  EXPECT_EQ(f8_chat_template_render("x", nulls, 1, nullptr, buf, sizeof buf, &len), F8_ERR_INVALID_ARGUMENT);
  f8_chat_params p = f8_chat_default_params();
  p.engine = F8_CHAT_ENGINE_BUILTIN;
  EXPECT_EQ(f8_chat_template_render("{{ 1 }}", msgs, 1, &p, buf, sizeof buf, &len), F8_ERR_UNSUPPORTED);
  p.engine = (f8_chat_engine)7;
  EXPECT_EQ(f8_chat_template_render("{{ 1 }}", msgs, 1, &p, buf, sizeof buf, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_chat_render_json(nullptr, "{{ 1 }}", "{bad", nullptr, buf, sizeof buf, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_chat_render_json(nullptr, nullptr, "[]", nullptr, buf, sizeof buf, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_chat_apply_template(nullptr, msgs, 1, nullptr, buf, sizeof buf, &len), F8_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(f8_chat_render_json(nullptr, "{{ messages[0].content|upper }}", "[{\"role\":\"user\",\"content\":\"é\"}]",
                                nullptr, buf, sizeof buf, &len), F8_OK);
  EXPECT_STREQ(buf, "É");
  // Template variables in the JSON object form (Qwen3-style thinking switch).
  const char* thinking = "{% if enable_thinking is false %}off{% else %}on{% endif %}:{{ tools|length }}";
  ASSERT_EQ(f8_chat_render_json(nullptr, thinking,
                                R"({"messages": [], "tools": [{}], "chat_template_kwargs": {"enable_thinking": false}})",
                                nullptr, buf, sizeof buf, &len), F8_OK);
  EXPECT_STREQ(buf, "off:1");
  EXPECT_EQ(f8_chat_render_json(nullptr, thinking, R"({"messages": [], "chat_template_kwargs": {"messages": 1}})",
                                nullptr, buf, sizeof buf, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(f8_last_error()).find("'messages' is set by f8"), std::string::npos) << f8_last_error();
  EXPECT_EQ(f8_chat_render_json(nullptr, thinking, R"({"messages": [], "chat_template_kwargs": 3})", nullptr, buf,
                                sizeof buf, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_chat_builtin_template("nope"), nullptr);
  EXPECT_STREQ(f8_chat_template_family("{{ x }}"), "");
}

TEST(ApiSampling, SamplerLifecycle) {
  f8_sampler_params p = f8_sampler_default_params();
  EXPECT_EQ(p.seed, F8_SEED_RANDOM);
  p.seed = 5;
  p.temperature = 0;
  f8_sampler* s = nullptr;
  ASSERT_EQ(f8_sampler_new(&p, 4, &s), F8_OK);
  EXPECT_EQ(f8_sampler_seed(s), 5u);
  float logits[4] = {0, 3, 1, 2};
  int32_t t = -1;
  ASSERT_EQ(f8_sampler_sample(s, logits, 4, &t), F8_OK);
  EXPECT_EQ(t, 1);
  EXPECT_EQ(f8_sampler_sample(s, logits, 5, &t), F8_ERR_INVALID_ARGUMENT);
  float bad[4] = {0, NAN, 1, 2};
  EXPECT_EQ(f8_sampler_sample(s, bad, 4, &t), F8_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(f8_last_error()).find("NaN"), std::string::npos);
  EXPECT_EQ(f8_sampler_accept(s, 4), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_sampler_accept(s, 3), F8_OK);
  f8_sampler_reset(s);
  f8_sampler_free(s);
  f8_sampler_free(nullptr);
  p.temperature = NAN;
  EXPECT_EQ(f8_sampler_new(&p, 4, &s), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  p = f8_sampler_default_params();
  f8_logit_bias lb[] = {{9, 1.0f}};
  p.logit_bias = lb;
  p.n_logit_bias = 1;
  EXPECT_EQ(f8_sampler_new(&p, 4, &s), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_sampler_new(&p, 4, nullptr), F8_ERR_INVALID_ARGUMENT);
  // Random seed: a real seed is drawn and reported.
  p = f8_sampler_default_params();
  ASSERT_EQ(f8_sampler_new(&p, 4, &s), F8_OK);
  EXPECT_NE(f8_sampler_seed(s), F8_SEED_RANDOM);
  f8_sampler_free(s);
}

TEST(ApiSampling, Stopper) {
  const char* stops[] = {"</s>"};
  int32_t eos[] = {2};
  f8_stopper* st = nullptr;
  ASSERT_EQ(f8_stopper_new(nullptr, stops, 1, eos, 1, 0, &st), F8_OK);
  const char* text;
  size_t len;
  f8_stop_reason r;
  ASSERT_EQ(f8_stopper_push(st, 10, "ok <", 4, &text, &len, &r), F8_OK);
  EXPECT_EQ(std::string(text, len), "ok ");
  EXPECT_EQ(r, F8_STOP_NONE);
  ASSERT_EQ(f8_stopper_push(st, 11, "/s> x", 5, &text, &len, &r), F8_OK);
  EXPECT_EQ(len, 0u);
  EXPECT_EQ(r, F8_STOP_STRING);
  f8_stopper_free(st);
  ASSERT_EQ(f8_stopper_new(nullptr, nullptr, 0, nullptr, 0, 2, &st), F8_OK);
  ASSERT_EQ(f8_stopper_push(st, 1, "a", 1, &text, &len, &r), F8_OK);
  ASSERT_EQ(f8_stopper_push(st, 1, "b", 1, &text, &len, &r), F8_OK);
  EXPECT_EQ(r, F8_STOP_MAX_TOKENS);
  EXPECT_EQ(f8_stopper_push(nullptr, 1, "a", 1, &text, &len, &r), F8_ERR_INVALID_ARGUMENT);
  f8_stopper_free(st);
  EXPECT_EQ(f8_stopper_new(nullptr, nullptr, 1, nullptr, 0, 0, &st), F8_ERR_INVALID_ARGUMENT);
}
