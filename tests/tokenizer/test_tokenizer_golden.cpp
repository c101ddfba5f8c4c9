// Token ids against the reference implementations (tests/goldens/tokenizer,
// written by scripts/gen_tokenizer_goldens.py from `tokenizers` and
// `sentencepiece`): every id of every string must agree.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tok_fixture.h"
#include "tokenizer/utf8.h"

namespace {

using nlohmann::json;

struct Golden {
  json doc;
  std::unique_ptr<f8tok::Tokenizer> tok;
  std::string skip;  // reason to skip
};

Golden load_golden(const std::string& name) {
  Golden g;
  std::ifstream f(std::string(F8_SOURCE_DIR) + "/tests/goldens/tokenizer/" + name + ".json");
  if (!f) { g.skip = "golden file missing"; return g; }
  g.doc = json::parse(f);
  // Synthetic fixtures are small and committed; the others are fetched/built
  // into the cache (scripts/fetch_tokenizer_data.py, make_tokenizer_fixtures.py).
  const auto dir = name.rfind("syn-", 0) == 0
                       ? std::filesystem::path(F8_SOURCE_DIR) / "tests/goldens/tokenizer/fixtures" / name
                       : f8test::tok_fixture_dir(name);
  if (!std::filesystem::exists(dir)) {
    g.skip = dir.string() + " missing (scripts/fetch_tokenizer_data.py)";
    return g;
  }
  std::string err = f8test::load_fixture(dir, &g.tok);
  if (!err.empty()) ADD_FAILURE() << name << ": " << err;
  return g;
}

std::string show(const std::vector<int32_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + std::to_string(v[i]);
  return s;
}

class TokGolden : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    g_ = load_golden(GetParam());
    if (!g_.skip.empty()) GTEST_SKIP() << g_.skip;
    ASSERT_TRUE(g_.tok);
    sp_ = g_.doc["kind"] == "sentencepiece";
  }
  std::vector<int32_t> enc(const std::string& text, bool add_special, bool parse_special) {
    std::vector<int32_t> ids;
    f8tok::EncodeOptions o;
    o.add_special = add_special;
    o.parse_special = parse_special;
    auto st = g_.tok->encode(text, o, &ids);
    EXPECT_TRUE(st.ok()) << st.message;
    return ids;
  }
  Golden g_;
  bool sp_ = false;
};

TEST_P(TokGolden, EncodeIdsMatchReference) {
  size_t strings = 0, tokens = 0, bad = 0;
  for (const json& c : g_.doc["cases"]) {
    const std::string text = c["text"];
    const auto want = c["ids"].get<std::vector<int32_t>>();
    // tokenizers always matches added tokens; sentencepiece never does.
    const auto got = enc(text, false, !sp_);
    ++strings;
    tokens += want.size();
    if (got != want) {
      ++bad;
      ADD_FAILURE() << GetParam() << " text " << json(text).dump() << "\n  want " << show(want) << "\n  got  " << show(got);
    }
  }
  std::printf("[ %s ] %zu strings, %zu tokens, %zu mismatching strings\n", GetParam(), strings, tokens, bad);
}

TEST_P(TokGolden, EncodeWithSpecialTokensMatchesReference) {
  for (const json& c : g_.doc["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(show(enc(text, true, !sp_)), show(c["ids_bos"].get<std::vector<int32_t>>())) << json(text).dump();
    if (c.contains("ids_special")) {
      EXPECT_EQ(show(enc(text, false, true)), show(c["ids_special"].get<std::vector<int32_t>>())) << json(text).dump();
    }
  }
}

TEST_P(TokGolden, OriginalHuggingFaceIds) {
  size_t n = 0;
  for (const json& c : g_.doc["cases"]) {
    if (!c.contains("hf_ids")) continue;
    ++n;
    const std::string text = c["text"];
    EXPECT_EQ(show(enc(text, false, !sp_)), show(c["hf_ids"].get<std::vector<int32_t>>())) << json(text).dump();
  }
  if (n == 0) GTEST_SKIP() << "no llama.cpp vocab vectors in this golden";
}

TEST_P(TokGolden, DecodeMatchesReference) {
  for (const json& c : g_.doc["cases"]) {
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    f8tok::DecodeOptions o;
    o.strip_leading_space = true;
    std::string out;
    ASSERT_TRUE(g_.tok->decode(ids.data(), ids.size(), o, &out).ok());
    EXPECT_EQ(out, c["text_skip"].get<std::string>()) << json(c["text"]).dump();
    if (c.contains("text_all")) {
      o.render_special = true;
      out.clear();
      ASSERT_TRUE(g_.tok->decode(ids.data(), ids.size(), o, &out).ok());
      EXPECT_EQ(out, c["text_all"].get<std::string>()) << json(c["text"]).dump();
    }
  }
}

// Token-by-token streaming equals the full decode and never yields a chunk
// that is not complete UTF-8 (emoji, CJK and byte-fallback pieces included).
TEST_P(TokGolden, StreamingDecodeEqualsFullDecode) {
  for (bool render : {false, true}) {
    for (const json& c : g_.doc["cases"]) {
      const auto ids = c["ids"].get<std::vector<int32_t>>();
      f8tok::DecodeOptions o;
      o.render_special = render;
      o.strip_leading_space = true;
      std::string full, streamed;
      ASSERT_TRUE(g_.tok->decode(ids.data(), ids.size(), o, &full).ok());
      f8tok::Decoder d(*g_.tok, o);
      for (int32_t id : ids) {
        std::string chunk;
        ASSERT_TRUE(d.push(id, &chunk).ok());
        EXPECT_TRUE(f8tok::utf8::valid(chunk)) << json(c["text"]).dump();
        streamed += chunk;
      }
      std::string tail;
      d.finish(&tail);
      EXPECT_TRUE(tail.empty()) << "complete text left bytes held: " << json(c["text"]).dump();
      streamed += tail;
      EXPECT_EQ(streamed, full) << json(c["text"]).dump();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, TokGolden,
                         ::testing::Values("smollm2", "mistral-v1", "mistral-v3", "llama3-vv", "qwen2-vv", "llama2-vv",
                                           "gemma3-hf", "mistral-v1-hf", "llama2-hf", "syn-metaspace",
                                           "syn-lower-ws", "syn-wsplit"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) if (ch == '-') ch = '_';
                           return s;
                         });

}  // namespace
