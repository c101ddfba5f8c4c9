// The tokenizer section of the C API (include/f8.h) on real vocab-only .f8
// files written from the fixtures: ids equal the goldens, the buffer-size
// protocol, the stream decoder, bad arguments, and `f8 tokenize`.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "f8.h"
#include "tok_fixture.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Writes a .f8 holding only the tokenizer metadata of fixture `name`.
std::string write_vocab_f8(const std::string& name) {
  const auto dir = f8test::tok_fixture_dir(name);
  if (!fs::exists(dir)) return "";
  std::vector<ggf8::KV> kvs;
  if (!f8conv::import_tokenizer(dir.string(), &kvs).ok()) return "";
  const std::string path = (fs::temp_directory_path() / ("f8_tokapi_" + name + "_" + std::to_string(getpid()) + ".f8")).string();
  ggf8::WriterOptions wo;
  wo.overwrite = true;
  std::unique_ptr<ggf8::Writer> w;
  EXPECT_TRUE(ggf8::Writer::create(path, wo, &w).ok());
  for (auto& kv : kvs) EXPECT_TRUE(w->set_metadata(kv.key, kv.value).ok());
  auto st = w->finish();
  EXPECT_TRUE(st.ok()) << st.message;
  return path;
}

json golden(const std::string& name) {
  std::ifstream f(std::string(F8_SOURCE_DIR) + "/tests/goldens/tokenizer/" + name + ".json");
  return json::parse(f);
}

class Api : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    path_ = write_vocab_f8(GetParam());
    if (path_.empty()) GTEST_SKIP() << "fixture " << GetParam() << " missing";
    f8_model_params p = f8_model_default_params();
    p.vocab_only = true;
    ASSERT_EQ(f8_model_load(path_.c_str(), &p, &m_), F8_OK) << f8_last_error();
  }
  void TearDown() override {
    f8_model_free(m_);
    if (!path_.empty()) fs::remove(path_);
  }
  std::vector<int32_t> tokenize(const std::string& text, bool add, bool parse) {
    size_t n = 0;
    f8_status s = f8_tokenize(m_, text.data(), text.size(), add, parse, nullptr, 0, &n);
    std::vector<int32_t> ids(n);
    if (n == 0) {
      EXPECT_EQ(s, F8_OK);
      return ids;
    }
    EXPECT_EQ(s, F8_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(f8_tokenize(m_, text.data(), text.size(), add, parse, ids.data(), ids.size(), &n), F8_OK);
    return ids;
  }
  std::string path_;
  f8_model* m_ = nullptr;
};

TEST_P(Api, TokenizeAndDetokenizeMatchGoldens) {
  const json g = golden(GetParam());
  const bool sp = g["kind"] == "sentencepiece";
  for (const json& c : g["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(tokenize(text, false, !sp), c["ids"].get<std::vector<int32_t>>()) << json(text).dump();
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    size_t len = 0;
    std::vector<char> buf(1);
    f8_status s = f8_detokenize(m_, ids.data(), ids.size(), false, true, buf.data(), buf.size(), &len);
    if (s == F8_ERR_BUFFER_TOO_SMALL) {
      buf.resize(len + 1);
      s = f8_detokenize(m_, ids.data(), ids.size(), false, true, buf.data(), buf.size(), &len);
    }
    ASSERT_EQ(s, F8_OK) << f8_last_error();
    EXPECT_EQ(std::string(buf.data(), len), c["text_skip"].get<std::string>());
    EXPECT_EQ(buf[len], '\0');

    f8_detok_stream* st = nullptr;
    ASSERT_EQ(f8_detok_stream_new(m_, false, true, &st), F8_OK);
    std::string streamed;
    for (int32_t id : ids) {
      const char* t;
      size_t n;
      ASSERT_EQ(f8_detok_stream_push(st, id, &t, &n), F8_OK);
      streamed.append(t, n);
    }
    const char* t;
    size_t n;
    ASSERT_EQ(f8_detok_stream_flush(st, &t, &n), F8_OK);
    streamed.append(t, n);
    f8_detok_stream_free(st);
    EXPECT_EQ(streamed, c["text_skip"].get<std::string>());
  }
}

TEST_P(Api, SpecialIdsAndBadArguments) {
  const int32_t nv = f8_vocab_size(m_);
  ASSERT_GT(nv, 0);
  const int32_t eos = f8_token_eos(m_);
  ASSERT_GE(eos, 0);
  EXPECT_TRUE(f8_token_is_eog(m_, eos));
  EXPECT_TRUE(f8_token_is_control(m_, eos));
  EXPECT_FALSE(f8_token_is_eog(m_, -1));
  EXPECT_EQ(f8_token_text(m_, nv), nullptr);
  EXPECT_NE(f8_token_text(m_, 0), nullptr);

  size_t len = 123;
  char buf[8];
  const int32_t bad[] = {nv};
  EXPECT_EQ(f8_detokenize(m_, bad, 1, false, false, buf, sizeof buf, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(f8_last_error()).find("outside the vocabulary"), std::string::npos);
  EXPECT_EQ(f8_token_to_piece(m_, -7, false, buf, sizeof buf, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_tokenize(nullptr, "a", 1, true, true, nullptr, 0, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_tokenize(m_, "a", 1, true, true, nullptr, 4, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_tokenize(m_, "a", 1, true, true, nullptr, 0, nullptr), F8_ERR_INVALID_ARGUMENT);
  // Invalid UTF-8 is tokenized (as U+FFFD), not rejected.
  size_t n = 0;
  int32_t ids[16];
  EXPECT_EQ(f8_tokenize(m_, "\xFF\xFE", 2, false, true, ids, 16, &n), F8_OK);
  EXPECT_GT(n, 0u);
  f8_detok_stream* st = nullptr;
  ASSERT_EQ(f8_detok_stream_new(m_, false, false, &st), F8_OK);
  const char* t;
  EXPECT_EQ(f8_detok_stream_push(st, nv + 5, &t, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_detok_stream_push(nullptr, 0, &t, &len), F8_ERR_INVALID_ARGUMENT);
  f8_detok_stream_free(st);
  f8_detok_stream_free(nullptr);
}

TEST_P(Api, FullLoadOfAFileWithoutWeightsFails) {
  f8_model_params p = f8_model_default_params();
  f8_model* m = nullptr;
  EXPECT_NE(f8_model_load(path_.c_str(), &p, &m), F8_OK);
  EXPECT_EQ(m, nullptr);
  EXPECT_STRNE(f8_last_error(), "");
}

TEST_P(Api, CliTokenize) {
  const std::string bin = std::string(F8_BINARY_DIR) + "/bin/f8";
  if (!fs::exists(bin)) GTEST_SKIP() << bin << " not built";
  const json g = golden(GetParam());
  const bool sp = g["kind"] == "sentencepiece";
  const json& c = g["cases"][12];  // "Hello World"
  const std::string cmd = bin + " tokenize -m " + path_ + " --no-bos --json -p '" + c["text"].get<std::string>() +
                          "'" + (sp ? " --no-special" : "") + " 2>/dev/null";
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_TRUE(f);
  std::string out;
  char b[4096];
  size_t k;
  while ((k = fread(b, 1, sizeof b, f)) > 0) out.append(b, k);
  ASSERT_EQ(pclose(f), 0) << cmd;
  EXPECT_EQ(json::parse(out)["ids"].get<std::vector<int32_t>>(), c["ids"].get<std::vector<int32_t>>()) << out;
}

// Constrained decoding through the C API on real vocabularies (byte-level
// BPE and SentencePiece with byte fallback): the grammar's view of each
// token's text must agree with the tokenizer, so a grammar that is exactly
// a text allows the text's own tokens, one by one, and then only EOS.
TEST_P(Api, GrammarAllowsTheTokensOfItsText) {
  const int32_t V = f8_vocab_size(m_);
  const std::vector<std::string> texts = {"Hello, world!", "{\"a\": [1, 2.5, null]}\n  \"x\"", "naïve café 日本 😀",
                                          "  leading spaces\tand\ttabs"};
  for (const std::string& text : texts) {
    std::vector<int32_t> ids = tokenize(text, false, false);
    ASSERT_FALSE(ids.empty());
    // The grammar is the text as these ids decode (SentencePiece's leading space included).
    size_t len = 0;
    std::vector<char> buf(text.size() * 4 + 16);
    ASSERT_EQ(f8_detokenize(m_, ids.data(), ids.size(), false, false, buf.data(), buf.size(), &len), F8_OK);
    std::string decoded(buf.data(), len);
    std::string lit = "root ::= \"";
    for (char c : decoded) lit += c == '"' ? std::string("\\\"") : c == '\\' ? std::string("\\\\") : c == '\n' ? std::string("\\n") : c == '\t' ? std::string("\\t") : std::string(1, c);
    lit += "\"";
    f8_grammar* g = nullptr;
    ASSERT_EQ(f8_grammar_new(m_, lit.c_str(), nullptr, &g), F8_OK) << f8_last_error() << "\n" << lit;
    f8_sampler_params sp = f8_sampler_default_params();
    sp.temperature = 0;
    f8_sampler* s = nullptr;
    ASSERT_EQ(f8_sampler_new(&sp, V, &s), F8_OK);
    ASSERT_EQ(f8_sampler_set_grammar(s, g), F8_OK);
    f8_grammar_free(g);  // the sampler keeps what it needs
    EXPECT_EQ(f8_sampler_grammar_state(s), F8_GRAMMAR_RUNNING);
    std::vector<float> logits(static_cast<size_t>(V), 0.0f);
    for (int32_t id : ids) {
      std::fill(logits.begin(), logits.end(), 0.0f);
      logits[static_cast<size_t>(id)] = 100.0f;  // the wanted token, if the grammar allows it
      int32_t tok = -1;
      ASSERT_EQ(f8_sampler_sample(s, logits.data(), V, &tok), F8_OK) << f8_last_error();
      EXPECT_EQ(tok, id) << "token " << id << " of " << text;
    }
    EXPECT_EQ(f8_sampler_grammar_state(s), F8_GRAMMAR_DONE);
    // Nothing but end of generation is left, whatever the logits say.
    std::fill(logits.begin(), logits.end(), 0.0f);
    logits[static_cast<size_t>(ids[0])] = 100.0f;
    int32_t tok = -1;
    ASSERT_EQ(f8_sampler_sample(s, logits.data(), V, &tok), F8_OK);
    EXPECT_TRUE(f8_token_is_eog(m_, tok)) << tok;
    // Log-probabilities of that last draw: EOS is the only candidate.
    f8_token_logprob top[4];
    size_t n_top = 0;
    float chosen = -1;
    ASSERT_EQ(f8_sampler_last_logprobs(s, &chosen, top, 4, &n_top), F8_OK);
    EXPECT_GE(n_top, 1u);
    EXPECT_EQ(top[0].token, tok);
    f8_sampler_free(s);
  }
}

TEST_P(Api, JsonSchemaGrammarErrorsAndBuffers) {
  const char* schema = R"({"type":"object","properties":{"n":{"type":"integer","minimum":0}},"required":["n"]})";
  size_t len = 0;
  EXPECT_EQ(f8_json_schema_to_grammar(schema, "args", nullptr, 0, &len), F8_ERR_BUFFER_TOO_SMALL);
  std::string text(len + 1, '\0');
  ASSERT_EQ(f8_json_schema_to_grammar(schema, "args", text.data(), text.size(), &len), F8_OK);
  text.resize(len);
  EXPECT_EQ(text.rfind("args ::= ", 0), 0u) << text;
  EXPECT_EQ(f8_json_schema_to_grammar(R"({"type":"number","multipleOf":2})", nullptr, nullptr, 0, &len), F8_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(f8_last_error()).find("'multipleOf' is not supported"), std::string::npos) << f8_last_error();
  EXPECT_EQ(f8_json_schema_to_grammar("{oops", nullptr, nullptr, 0, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_json_schema_to_grammar(schema, "bad name", nullptr, 0, &len), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_json_schema_to_grammar(nullptr, nullptr, nullptr, 0, &len), F8_ERR_INVALID_ARGUMENT);
  f8_grammar* g = nullptr;
  EXPECT_EQ(f8_grammar_new(m_, "root ::= missing", nullptr, &g), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(g, nullptr);
  EXPECT_NE(std::string(f8_last_error()).find("undefined rule 'missing'"), std::string::npos);
  EXPECT_EQ(f8_grammar_new(nullptr, "root ::= \"x\"", nullptr, &g), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_grammar_new_json_schema(m_, R"({"$ref":"#/nowhere"})", &g), F8_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(f8_grammar_new_json_schema(m_, schema, &g), F8_OK);
  // A sampler wider than the model's logits cannot take it; NULL removes a grammar.
  f8_sampler_params sp = f8_sampler_default_params();
  f8_sampler* s = nullptr;
  ASSERT_EQ(f8_sampler_new(&sp, f8_vocab_size(m_) + 1000000, &s), F8_OK);
  EXPECT_EQ(f8_sampler_set_grammar(s, g), F8_ERR_INVALID_ARGUMENT);
  f8_sampler_free(s);
  ASSERT_EQ(f8_sampler_new(&sp, f8_vocab_size(m_), &s), F8_OK);
  float chosen;
  size_t n_top;
  EXPECT_EQ(f8_sampler_last_logprobs(s, &chosen, nullptr, 0, &n_top), F8_ERR_INVALID_ARGUMENT);  // nothing sampled
  EXPECT_EQ(f8_sampler_set_grammar(s, g), F8_OK);
  EXPECT_EQ(f8_sampler_grammar_state(s), F8_GRAMMAR_RUNNING);
  EXPECT_EQ(f8_sampler_set_grammar(s, nullptr), F8_OK);
  EXPECT_EQ(f8_sampler_grammar_state(s), F8_GRAMMAR_NONE);
  EXPECT_EQ(f8_sampler_grammar_state(nullptr), F8_GRAMMAR_NONE);
  f8_sampler_free(s);
  f8_grammar_free(g);
  f8_grammar_free(nullptr);
}

// Speculative verification (f8_sampler_verify) composes with a grammar: a
// drafted token the grammar forbids is rejected (p = 0) even when the
// logits favour it, the target's allowed choice replaces it, and the
// grammar has advanced over exactly the output tokens.
TEST_P(Api, SpeculativeVerifyRejectsDraftsTheGrammarForbids) {
  const int32_t V = f8_vocab_size(m_);
  std::vector<int32_t> ids = tokenize("Hello, world! Hello again.", false, false);
  ASSERT_GE(ids.size(), 4u);
  size_t len = 0;
  std::vector<char> buf(256);
  ASSERT_EQ(f8_detokenize(m_, ids.data(), ids.size(), false, false, buf.data(), buf.size(), &len), F8_OK);
  std::string lit = "root ::= \"" + std::string(buf.data(), len) + "\"";
  f8_grammar* g = nullptr;
  ASSERT_EQ(f8_grammar_new(m_, lit.c_str(), nullptr, &g), F8_OK) << f8_last_error();
  f8_sampler_params sp = f8_sampler_default_params();
  sp.temperature = 0;
  f8_sampler* s = nullptr;
  ASSERT_EQ(f8_sampler_new(&sp, V, &s), F8_OK);
  ASSERT_EQ(f8_sampler_set_grammar(s, g), F8_OK);
  f8_grammar_free(g);
  // Token that spells something else: ids[0] never continues after ids[1].
  int32_t bad = ids[0] == ids[2] ? ids[1] : ids[0];
  const std::vector<int32_t> draft = {ids[0], ids[1], bad};
  std::vector<std::vector<float>> rows(4, std::vector<float>(size_t(V), 0.0f));
  rows[0][size_t(ids[0])] = 100.0f;
  rows[1][size_t(ids[1])] = 100.0f;
  rows[2][size_t(bad)] = 100.0f;  // the logits want the draft...
  rows[2][size_t(ids[2])] = 50.0f;  // ...the grammar allows only this
  rows[3][size_t(ids[3])] = 100.0f;
  std::vector<const float*> ptrs = {rows[0].data(), rows[1].data(), rows[2].data(), rows[3].data()};
  int32_t out[4] = {-1, -1, -1, -1};
  size_t n_out = 0;
  ASSERT_EQ(f8_sampler_verify(s, ptrs.data(), V, draft.data(), nullptr, draft.size(), out, &n_out), F8_OK)
      << f8_last_error();
  ASSERT_EQ(n_out, 3u);
  EXPECT_EQ(out[0], ids[0]);
  EXPECT_EQ(out[1], ids[1]);
  EXPECT_EQ(out[2], ids[2]);
  // The grammar stands after ids[0..2]: the rest of the text completes it.
  std::vector<float> logits(size_t(V), 0.0f);
  for (size_t i = 3; i < ids.size(); ++i) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    logits[size_t(ids[i])] = 100.0f;
    int32_t tok = -1;
    ASSERT_EQ(f8_sampler_sample(s, logits.data(), V, &tok), F8_OK);
    EXPECT_EQ(tok, ids[i]);
  }
  EXPECT_EQ(f8_sampler_grammar_state(s), F8_GRAMMAR_DONE);
  // Bad arguments: one-line errors, nothing written.
  EXPECT_EQ(f8_sampler_verify(s, ptrs.data(), V + 1, draft.data(), nullptr, 3, out, &n_out), F8_ERR_INVALID_ARGUMENT);
  const float* holes[2] = {rows[0].data(), nullptr};
  EXPECT_EQ(f8_sampler_verify(s, holes, V, draft.data(), nullptr, 1, out, &n_out), F8_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(f8_last_error()).find("logits[1]"), std::string::npos) << f8_last_error();
  const int32_t oob = V;
  EXPECT_EQ(f8_sampler_verify(s, ptrs.data(), V, &oob, nullptr, 1, out, &n_out), F8_ERR_INVALID_ARGUMENT);
  f8_sampler_free(s);
  int32_t d[4];
  size_t nd = 7;
  EXPECT_EQ(f8_draft_lookup(ids.data(), ids.size(), 0, 2, d, 4, &nd), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_draft_lookup(ids.data(), ids.size(), 3, 2, d, 4, &nd), F8_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f8_draft_lookup(nullptr, 3, 1, 2, d, 4, &nd), F8_ERR_INVALID_ARGUMENT);
  // " the cat" recurs: the draft is what followed its earlier occurrence.
  std::vector<int32_t> hist = tokenize("one the cat sat, the cat", false, false);
  size_t k = 0;
  while (hist[k] != hist.back()) ++k;
  ASSERT_LT(k + 2, hist.size());
  ASSERT_EQ(f8_draft_lookup(hist.data(), hist.size(), 1, 3, d, 2, &nd), F8_OK);
  ASSERT_EQ(nd, 2u);
  EXPECT_EQ(d[0], hist[k + 1]);
  EXPECT_EQ(d[1], hist[k + 2]);
}

INSTANTIATE_TEST_SUITE_P(All, Api, ::testing::Values("smollm2", "mistral-v3"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) if (ch == '-') ch = '_';
                           return s;
                         });

TEST(ApiModel, LoadErrors) {
  f8_model* m = reinterpret_cast<f8_model*>(0x1);
  EXPECT_EQ(f8_model_load("/nonexistent/x.f8", nullptr, &m), F8_ERR_IO);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::string(f8_last_error()).find("/nonexistent/x.f8"), std::string::npos);
  EXPECT_EQ(f8_model_load(nullptr, nullptr, &m), F8_ERR_INVALID_ARGUMENT);
  f8_model_params p = f8_model_default_params();
  p.struct_size = 3;
  EXPECT_EQ(f8_model_load("/x", &p, &m), F8_ERR_INVALID_ARGUMENT);
  const std::string junk = (fs::temp_directory_path() / ("f8_tokapi_junk_" + std::to_string(getpid()))).string();
  std::ofstream(junk) << "definitely not a GGF8 file";
  EXPECT_EQ(f8_model_load(junk.c_str(), nullptr, &m), F8_ERR_FORMAT);
  fs::remove(junk);
  f8_model_free(nullptr);
}

}  // namespace
