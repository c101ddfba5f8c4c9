// convert/tokenizer_import: the metadata it writes for real tokenizer
// directories, the Hugging Face config variants it must accept, and the
// errors it gives for broken ones.
#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

#include "ggf8/keys.h"
#include "tok_fixture.h"

namespace {

namespace fs = std::filesystem;
namespace K = ggf8::keys;

const ggf8::Value* find(const std::vector<ggf8::KV>& kvs, const char* key) {
  for (const auto& kv : kvs)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

std::vector<int64_t> ints(const ggf8::Value* v) {
  std::vector<int64_t> out;
  if (v) v->to_i64_vector(&out);
  return out;
}

struct TempDir {
  fs::path p;
  TempDir() {
    p = fs::temp_directory_path() / ("f8_tokimport_" + std::to_string(getpid()) + "_" + std::to_string(counter()++));
    fs::create_directories(p);
  }
  ~TempDir() { std::error_code ec; fs::remove_all(p, ec); }
  static int& counter() { static int c = 0; return c; }
  void write(const char* name, const std::string& text) const { std::ofstream(p / name) << text; }
};

// A tiny but complete byte-level tokenizer.json: the 256 byte characters,
// one merge, one special and one non-special added token.
std::string tiny_tokenizer_json(const char* model_type = "BPE") {
  std::string vocab;
  // printable ASCII only is enough for the tests below
  int id = 0;
  for (int c = 0x21; c <= 0x7E; ++c) {
    std::string s(1, static_cast<char>(c));
    if (s == "\"" ) s = "\\\"";
    if (s == "\\") s = "\\\\";
    vocab += (id ? "," : "") + std::string("\"") + s + "\":" + std::to_string(id);
    ++id;
  }
  vocab += ",\"ab\":" + std::to_string(id++);
  const int special = id++, added = id++;
  return std::string("{\"model\":{\"type\":\"") + model_type + "\",\"vocab\":{" + vocab +
         "},\"merges\":[[\"a\",\"b\"]]},\"added_tokens\":[{\"id\":" + std::to_string(special) +
         ",\"content\":\"<|end|>\",\"special\":true},{\"id\":" + std::to_string(added) +
         ",\"content\":\"<tool>\",\"special\":false}],\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
         "\"use_regex\":true},\"normalizer\":null,\"decoder\":{\"type\":\"ByteLevel\"}}";
}

TEST(TokenizerImport, SmolLM2Directory) {
  const auto dir = f8test::tok_fixture_dir("smollm2");
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " missing";
  std::vector<ggf8::KV> kvs;
  std::vector<std::string> warnings;
  ASSERT_TRUE(f8conv::import_tokenizer(dir.string(), &kvs, &warnings).ok());
  ASSERT_TRUE(find(kvs, K::kTokKind));
  EXPECT_EQ(*find(kvs, K::kTokKind)->get_str(), "bpe");
  EXPECT_EQ(find(kvs, K::kTokTokens)->array_size(), 49152u);
  EXPECT_EQ(find(kvs, K::kTokMerges)->array_size(), 48900u);
  EXPECT_EQ(*find(kvs, K::kTokPre)->get_str(), "smollm");
  ASSERT_TRUE(find(kvs, K::kChatTemplate));
  EXPECT_NE(find(kvs, K::kChatTemplate)->get_str()->find("<|im_start|>"), std::string::npos);
  EXPECT_EQ(*find(kvs, K::kChatEosToken)->get_str(), "<|im_end|>");
  EXPECT_EQ(ints(find(kvs, K::kGenEosIds)), (std::vector<int64_t>{2}));
  int64_t bos = -5;
  find(kvs, K::kTokBosId)->get_i64(&bos);
  EXPECT_EQ(bos, 1);
  bool add_bos = true;
  find(kvs, K::kTokAddBos)->get_bool(&add_bos);
  EXPECT_FALSE(add_bos);
  // The types: 17 special added tokens, the rest normal.
  auto types = ints(find(kvs, K::kTokTypes));
  EXPECT_EQ(std::count(types.begin(), types.end(), 3), 17);
}

TEST(TokenizerImport, SentencePieceDirectory) {
  const auto dir = f8test::tok_fixture_dir("mistral-v3");
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " missing";
  std::unique_ptr<f8tok::Tokenizer> tok;
  std::vector<ggf8::KV> kvs;
  ASSERT_EQ(f8test::load_fixture(dir, &tok, &kvs), "");
  EXPECT_STREQ(tok->kind(), "sentencepiece");
  EXPECT_EQ(tok->vocab_size(), 32768);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(*find(kvs, K::kChatBosToken)->get_str(), "<s>");
}

TEST(TokenizerImport, ConfigVariants) {
  TempDir d;
  d.write("tokenizer.json", tiny_tokenizer_json());
  // chat_template as a list of named templates; tokens as AddedToken dicts.
  d.write("tokenizer_config.json",
          R"({"chat_template":[{"name":"tool_use","template":"T"},{"name":"default","template":"D"}],)"
          R"("bos_token":{"content":"<|end|>","lstrip":false},"eos_token":{"content":"<|end|>"},"add_bos_token":true})");
  d.write("generation_config.json", R"({"eos_token_id":[7, 96, 7], "temperature":0.6, "top_p":0.9, "top_k":20})");
  std::vector<ggf8::KV> kvs;
  auto st = f8conv::import_tokenizer(d.p.string(), &kvs);
  ASSERT_TRUE(st.ok()) << st.message;
  EXPECT_EQ(*find(kvs, K::kChatTemplate)->get_str(), "D");
  EXPECT_EQ(*find(kvs, K::kChatBosToken)->get_str(), "<|end|>");
  // generation_config ids first, then the tokenizer's eos (<|end|> = 95), no duplicates.
  EXPECT_EQ(ints(find(kvs, K::kGenEosIds)), (std::vector<int64_t>{7, 96, 95}));
  double t = 0;
  find(kvs, K::kGenTemperature)->get_f64(&t);
  EXPECT_NEAR(t, 0.6, 1e-6);

  std::unique_ptr<f8tok::Tokenizer> tok;
  ASSERT_TRUE(f8tok::load_from_kvs(kvs, &tok).ok());
  std::vector<int32_t> ids;
  ASSERT_TRUE(tok->encode("ab<|end|>a<tool>", {}, &ids).ok());
  // BOS (<|end|> as configured) then "ab" merged, the special, "a", the added token.
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids[0], tok->bos_id());
  EXPECT_EQ(tok->token_text(ids[1]), "ab");
  EXPECT_EQ(tok->token_text(ids[2]), "<|end|>");
  EXPECT_EQ(tok->token_text(ids[4]), "<tool>");
  // parse_special=false: the control token's text is ordinary text, the
  // non-special added token is still matched.
  ids.clear();
  f8tok::EncodeOptions o;
  o.add_special = false;
  o.parse_special = false;
  ASSERT_TRUE(tok->encode("<|end|><tool>", o, &ids).ok());
  EXPECT_EQ(ids.size(), 7u + 1u);  // < | e n d | > as bytes, then <tool>
  EXPECT_EQ(tok->token_text(ids.back()), "<tool>");
}

TEST(TokenizerImport, PadsToModelVocab) {
  TempDir d;
  d.write("tokenizer.json", tiny_tokenizer_json());
  std::vector<ggf8::KV> kvs;
  f8conv::TokenizerImportOptions opts;
  opts.model_vocab_size = 128;
  ASSERT_TRUE(f8conv::import_tokenizer(d.p.string(), &kvs, nullptr, opts).ok());
  EXPECT_EQ(find(kvs, K::kTokTokens)->array_size(), 128u);
  EXPECT_EQ(ints(find(kvs, K::kTokTypes)).back(), 5);  // unused
  opts.model_vocab_size = 10;
  kvs.clear();
  auto st = f8conv::import_tokenizer(d.p.string(), &kvs, nullptr, opts);
  EXPECT_EQ(st.code, ggf8::Code::BadCount);
  EXPECT_TRUE(kvs.empty());
}

TEST(TokenizerImport, Errors) {
  {
    TempDir d;
    std::vector<ggf8::KV> kvs;
    auto st = f8conv::import_tokenizer(d.p.string(), &kvs);
    EXPECT_EQ(st.code, ggf8::Code::NotFound);
    EXPECT_NE(st.message.find("tokenizer.json"), std::string::npos);
  }
  {
    TempDir d;
    d.write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {");
    std::vector<ggf8::KV> kvs;
    auto st = f8conv::import_tokenizer(d.p.string(), &kvs);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message.find("tokenizer.json"), std::string::npos) << st.message;
  }
  {
    TempDir d;
    d.write("tokenizer.json", tiny_tokenizer_json("WordPiece"));
    std::vector<ggf8::KV> kvs;
    auto st = f8conv::import_tokenizer(d.p.string(), &kvs);
    EXPECT_NE(st.message.find("WordPiece"), std::string::npos) << st.message;
  }
  {
    TempDir d;
    d.write("tokenizer.json", tiny_tokenizer_json());
    d.write("tokenizer_config.json", R"({"chat_template": 42})");
    std::vector<ggf8::KV> kvs;
    auto st = f8conv::import_tokenizer(d.p.string(), &kvs);
    EXPECT_NE(st.message.find("chat_template"), std::string::npos) << st.message;
  }
  {
    TempDir d;
    d.write("tokenizer.json", tiny_tokenizer_json());
    d.write("generation_config.json", R"({"eos_token_id": "two"})");
    std::vector<ggf8::KV> kvs;
    auto st = f8conv::import_tokenizer(d.p.string(), &kvs);
    EXPECT_NE(st.message.find("eos_token_id"), std::string::npos) << st.message;
  }
  {
    TempDir d;
    d.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": -3}}})");
    std::vector<ggf8::KV> kvs;
    auto st = f8conv::import_tokenizer(d.p.string(), &kvs);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message.find("model.vocab"), std::string::npos) << st.message;
  }
}

// Unknown normalizer / pre-tokenizer / decoder types are refused at convert
// time, naming the type and the supported ones.
TEST(TokenizerImport, UnsupportedPipelineRefused) {
  const std::string base = tiny_tokenizer_json();
  struct Case { const char* from; const char* to; const char* type; const char* field; };
  for (const Case& c : {Case{"\"normalizer\":null", "\"normalizer\":{\"type\":\"BertNormalizer\"}", "BertNormalizer", "normalizer"},
                        Case{"\"pre_tokenizer\":{", "\"pre_tokenizer\":{\"type\":\"Punctuation\"},\"x\":{", "Punctuation", "pre_tokenizer"},
                        Case{"\"decoder\":{\"type\":\"ByteLevel\"}", "\"decoder\":{\"type\":\"WordPiece\"}", "WordPiece", "decoder"}}) {
    TempDir d;
    std::string j = base;
    j.replace(j.find(c.from), std::string(c.from).size(), c.to);
    d.write("tokenizer.json", j);
    std::vector<ggf8::KV> kvs;
    auto st = f8conv::import_tokenizer(d.p.string(), &kvs);
    ASSERT_FALSE(st.ok()) << c.type;
    EXPECT_NE(st.message.find(c.type), std::string::npos) << st.message;
    EXPECT_NE(st.message.find(c.field), std::string::npos) << st.message;
    EXPECT_NE(st.message.find("supported:"), std::string::npos) << st.message;
  }
}

// transformers 5: the post-processor decides BOS/EOS even when
// tokenizer_config.json says otherwise (with a warning).
TEST(TokenizerImport, TemplateProcessingDecidesBos) {
  TempDir d;
  std::string j = tiny_tokenizer_json();
  j.insert(j.size() - 1, R"(,"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<|end|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{"<|end|>":{"id":"<|end|>","ids":[95],"tokens":["<|end|>"]}}})");
  d.write("tokenizer.json", j);
  d.write("tokenizer_config.json", R"({"add_bos_token": false, "bos_token": "<|end|>"})");
  std::vector<ggf8::KV> kvs;
  std::vector<std::string> warnings;
  auto st = f8conv::import_tokenizer(d.p.string(), &kvs, &warnings);
  ASSERT_TRUE(st.ok()) << st.message;
  std::unique_ptr<f8tok::Tokenizer> t;
  ASSERT_TRUE(f8tok::load_from_kvs(kvs, &t).ok());
  EXPECT_TRUE(t->add_bos());
  EXPECT_EQ(t->bos_id(), 95);  // "<|end|>"
  bool warned = false;
  for (const auto& w : warnings) warned = warned || w.find("add_bos_token") != std::string::npos;
  EXPECT_TRUE(warned);
}

}  // namespace
