// tokenizer_import.cpp — see tokenizer_import.h. Reads the Hugging Face
// tokenizer files with nlohmann::json (non-throwing parse; every field's type
// is checked before use and errors name the file and the field).
#include "convert/tokenizer_import.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ggf8/keys.h"
#include "tokenizer/decoders.h"
#include "tokenizer/normalize.h"
#include "tokenizer/pretokenize.h"

namespace f8conv {
namespace {

namespace fs = std::filesystem;
namespace K = ggf8::keys;
using json = nlohmann::json;
using ggf8::Code;
using ggf8::Status;
using ggf8::Value;

// Upper bound on a tokenizer file we read into memory (tokenizer.json of
// 256k-token vocabularies is ~20 MB).
constexpr uintmax_t kMaxFileBytes = 512ull << 20;

Status read_file(const fs::path& p, std::string* out) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(p, ec);
  if (ec) return Status::Error(Code::Io, p.string() + ": " + ec.message());
  if (size > kMaxFileBytes)
    return Status::Error(Code::BadCount, p.string() + ": " + std::to_string(size) + " bytes is larger than the " +
                                             std::to_string(kMaxFileBytes) + "-byte limit for a tokenizer file");
  std::ifstream f(p, std::ios::binary);
  if (!f) return Status::Error(Code::Io, p.string() + ": cannot open");
  out->resize(static_cast<size_t>(size));
  f.read(out->data(), static_cast<std::streamsize>(size));
  if (static_cast<uintmax_t>(f.gcount()) != size) return Status::Error(Code::Io, p.string() + ": short read");
  return Status::Ok();
}

// Parses an optional JSON file: *present = false when it does not exist.
Status read_json(const fs::path& p, json* out, bool* present) {
  *present = false;
  std::error_code ec;
  if (!fs::exists(p, ec)) return Status::Ok();
  std::string text;
  Status st = read_file(p, &text);
  if (!st.ok()) return st;
  *out = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) return Status::Error(Code::BadString, p.string() + ": not valid JSON");
  if (!out->is_object()) return Status::Error(Code::BadType, p.string() + ": expected a JSON object at the top level");
  *present = true;
  return Status::Ok();
}

// A token field: "text" or an AddedToken dict {"content": "text", ...}.
std::optional<std::string> token_field(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key)) return std::nullopt;
  const json& v = obj[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

std::optional<bool> bool_field(const json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key) && obj[key].is_boolean()) return obj[key].get<bool>();
  return std::nullopt;
}

// What a TemplateProcessing post-processor (possibly inside a Sequence) adds
// around a single sequence: the special tokens before "$A" and after it.
// tokenizers (and transformers 5, which ignores tokenizer_config's
// add_bos_token / add_eos_token when tokenizer.json has a post-processor)
// add exactly these.
struct Template {
  bool found = false;
  std::vector<std::string> before, after;  // token names ("SpecialToken" ids)
  std::map<std::string, std::vector<int64_t>> ids;  // name -> ids from "special_tokens"
};

Status read_template(const json& pp, const std::string& f, Template* t) {
  if (!pp.is_object() || !pp.contains("type") || !pp["type"].is_string()) return Status::Ok();
  const std::string type = pp["type"].get<std::string>();
  if (type == "Sequence" && pp.contains("processors") && pp["processors"].is_array()) {
    for (const json& p : pp["processors"]) {
      Status st = read_template(p, f, t);
      if (!st.ok() || t->found) return st;
    }
    return Status::Ok();
  }
  if (type != "TemplateProcessing") return Status::Ok();
  if (!pp.contains("single") || !pp["single"].is_array())
    return Status::Error(Code::BadType, f + ": post_processor TemplateProcessing without a \"single\" array");
  t->found = true;
  bool seen_a = false;
  for (const json& piece : pp["single"]) {
    if (piece.is_object() && piece.contains("Sequence")) { seen_a = true; continue; }
    if (!piece.is_object() || !piece.contains("SpecialToken") || !piece["SpecialToken"].is_object() ||
        !piece["SpecialToken"].contains("id") || !piece["SpecialToken"]["id"].is_string())
      return Status::Error(Code::BadType, f + ": post_processor.single holds an entry that is neither "
                                              "{\"Sequence\"} nor {\"SpecialToken\": {\"id\": ...}}");
    (seen_a ? t->after : t->before).push_back(piece["SpecialToken"]["id"].get<std::string>());
  }
  if (pp.contains("special_tokens") && pp["special_tokens"].is_object())
    for (const auto& [name, v] : pp["special_tokens"].items())
      if (v.is_object() && v.contains("ids") && v["ids"].is_array())
        for (const json& x : v["ids"])
          if (x.is_number_integer()) t->ids[name].push_back(x.get<int64_t>());
  return Status::Ok();
}

// Refuses, at convert time, a normalizer / pre-tokenizer / decoder that the
// runtime would not reproduce (the error names the type and the supported
// ones), by building them exactly as the runtime will.
Status check_pipeline(const json& norm, const json& pre, const json& dec, const std::string& f) {
  std::unique_ptr<f8tok::Normalizer> n;
  std::unique_ptr<f8tok::PreTokenizer> p;
  std::unique_ptr<f8tok::DecodeChain> d;
  Status st = f8tok::make_normalizer(norm.dump(), &n);
  if (!st.ok()) return Status::Error(st.code, f + ": normalizer: " + st.message);
  st = f8tok::make_pre_tokenizer(pre.dump(), &p);
  if (!st.ok()) return Status::Error(st.code, f + ": pre_tokenizer: " + st.message);
  st = f8tok::make_decode_chain(dec.dump(), &d);
  if (!st.ok()) return Status::Error(st.code, f + ": decoder: " + st.message);
  return Status::Ok();
}

// Names the pre-tokenizer family when it is one f8 knows by heart (for
// `f8 inspect`); the verbatim JSON is what the runtime interprets.
std::string pre_family(const json& pre) {
  const std::string d = pre.dump();
  auto has = [&](const char* s) { return d.find(s) != std::string::npos; };
  if (pre.is_null()) return "none";
  if (has("\\\\p{N}{1,3}")) return "llama3";
  if (has("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}|")) return "qwen2";
  if (has("\"Digits\"") && has("\"ByteLevel\"")) return "smollm";
  if (pre.is_object() && pre.value("type", "") == "ByteLevel") return "gpt2";
  return "custom";
}

struct Ctx {
  fs::path dir;
  json cfg, stm, gen;  // tokenizer_config, special_tokens_map, generation_config
  bool has_cfg = false, has_stm = false, has_gen = false;
  std::vector<std::string>* warnings;
  void warn(std::string w) const {
    if (warnings) warnings->push_back(std::move(w));
  }
  std::optional<std::string> special(const char* key) const {  // "bos_token", ...
    if (auto v = token_field(cfg, key)) return v;
    return token_field(stm, key);
  }
};

// template_bos / template_eos: the ids a TemplateProcessing post-processor
// adds (-1 = none); they override the config's bos/eos ids.
Status import_bpe(const Ctx& c, const fs::path& path, const TokenizerImportOptions& opts,
                  std::vector<ggf8::KV>* kvs, std::map<std::string, int32_t>* index, int32_t* template_bos,
                  int32_t* template_eos) {
  json tj;
  bool present;
  Status st = read_json(path, &tj, &present);
  if (!st.ok()) return st;
  const std::string f = path.string();
  if (!tj.contains("model") || !tj["model"].is_object())
    return Status::Error(Code::BadType, f + ": field \"model\" missing or not an object");
  const json& m = tj["model"];
  const std::string type = m.contains("type") && m["type"].is_string() ? m["type"].get<std::string>() : "BPE";
  if (type != "BPE")
    return Status::Error(Code::BadType, f + ": model.type \"" + type + "\" is not supported (f8 reads BPE; "
                                            "SentencePiece models need tokenizer.model)");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (m.contains(k) && !m[k].is_null() && !(m[k].is_string() && m[k].get<std::string>().empty()))
      return Status::Error(Code::BadType, f + ": model." + k + " is set; f8's BPE does not support it");
  if (!m.contains("vocab") || !m["vocab"].is_object())
    return Status::Error(Code::BadType, f + ": model.vocab missing or not an object");

  // id -> (text, type). Ids come from the file; holes become unused slots.
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;
  const bool byte_fallback = m.value("byte_fallback", false);
  for (const auto& [tok, idv] : m["vocab"].items()) {
    if (!idv.is_number_integer() || idv.get<int64_t>() < 0 || idv.get<int64_t>() > INT32_MAX)
      return Status::Error(Code::BadType, f + ": model.vocab[\"" + tok + "\"] is not a non-negative int32 id");
    const bool is_byte = byte_fallback && tok.size() == 6 && tok.rfind("<0x", 0) == 0 && tok[5] == '>';
    by_id[idv.get<int64_t>()] = {tok, is_byte ? 6 : 1};
  }
  if (tj.contains("added_tokens")) {
    if (!tj["added_tokens"].is_array()) return Status::Error(Code::BadType, f + ": added_tokens is not an array");
    size_t k = 0;
    for (const json& a : tj["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
          !a["content"].is_string() || a["id"].get<int64_t>() < 0 || a["id"].get<int64_t>() > INT32_MAX)
        return Status::Error(Code::BadType, f + ": added_tokens[" + std::to_string(k) +
                                                "] needs an int32 \"id\" and a string \"content\"");
      by_id[a["id"].get<int64_t>()] = {a["content"].get<std::string>(), a.value("special", false) ? 3 : 4};
      ++k;
    }
  }
  if (by_id.empty()) return Status::Error(Code::BadCount, f + ": empty vocabulary");
  uint64_t n = static_cast<uint64_t>(by_id.rbegin()->first) + 1;
  if (opts.model_vocab_size) {
    if (opts.model_vocab_size < n)
      return Status::Error(Code::BadCount, f + ": the tokenizer has ids up to " + std::to_string(n - 1) +
                                               " but config.json vocab_size is " + std::to_string(opts.model_vocab_size));
    n = opts.model_vocab_size;
  }
  std::vector<std::string> tokens(n);
  std::vector<int32_t> types(n, 5);
  for (uint64_t i = 0; i < n; ++i) tokens[i] = "<unused_" + std::to_string(i) + ">";
  for (auto& [id, tt] : by_id) {
    tokens[static_cast<size_t>(id)] = tt.first;
    types[static_cast<size_t>(id)] = tt.second;
    index->emplace(tt.first, static_cast<int32_t>(id));
  }

  std::vector<std::string> merges;
  std::vector<int32_t> left_len;  // per merge; kept only if a side contains ' '
  bool spaced = false;
  if (m.contains("merges")) {
    if (!m["merges"].is_array()) return Status::Error(Code::BadType, f + ": model.merges is not an array");
    merges.reserve(m["merges"].size());
    size_t k = 0;
    for (const json& e : m["merges"]) {
      if (e.is_string()) {
        merges.push_back(e.get<std::string>());
        left_len.push_back(static_cast<int32_t>(std::min(merges.back().find(' '), merges.back().size())));
      } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
        const std::string a = e[0].get<std::string>(), b = e[1].get<std::string>();
        // "a b" is ambiguous when a side contains ' ' (Gemma's whitespace
        // tokens): the left length is then stored as well.
        spaced = spaced || a.find(' ') != std::string::npos || b.find(' ') != std::string::npos;
        merges.push_back(a + " " + b);
        left_len.push_back(static_cast<int32_t>(a.size()));
      }
      else return Status::Error(Code::BadType, f + ": model.merges[" + std::to_string(k) + "] is neither \"a b\" nor [\"a\", \"b\"]");
      ++k;
    }
  }
  const json pre = tj.value("pre_tokenizer", json());
  const json norm = tj.value("normalizer", json());
  const json dec = tj.value("decoder", json());
  st = check_pipeline(norm, pre, dec, f);
  if (!st.ok()) return st;
  kvs->push_back({K::kTokKind, Value::str("bpe")});
  kvs->push_back({K::kTokTokens, Value::array_str(std::move(tokens))});
  kvs->push_back({K::kTokTypes, Value::array_i32(types)});
  kvs->push_back({K::kTokMerges, Value::array_str(std::move(merges))});
  if (spaced) kvs->push_back({K::kTokMergeLeftLen, Value::array_i32(left_len)});
  kvs->push_back({K::kTokPre, Value::str(pre_family(pre))});
  kvs->push_back({K::kTokPreJson, Value::str(pre.dump())});
  kvs->push_back({K::kTokNormJson, Value::str(norm.dump())});
  kvs->push_back({K::kTokDecoderJson, Value::str(dec.dump())});
  kvs->push_back({K::kTokByteFallback, Value::boolean(byte_fallback)});
  kvs->push_back({K::kTokIgnoreMerges, Value::boolean(m.value("ignore_merges", false))});
  kvs->push_back({K::kTokFuseUnk, Value::boolean(m.contains("fuse_unk") && m["fuse_unk"].is_boolean() && m["fuse_unk"].get<bool>())});
  kvs->push_back({K::kTokAddedJson, Value::str(tj.value("added_tokens", json::array()).dump())});

  // unk from the model; add_bos from the config, else the post-processor.
  if (m.contains("unk_token") && m["unk_token"].is_string()) {
    auto it = index->find(m["unk_token"].get<std::string>());
    if (it != index->end()) kvs->push_back({K::kTokUnkId, Value::i32(it->second)});
  }
  // BOS/EOS: a TemplateProcessing post-processor decides (what tokenizers
  // and transformers 5 do, whatever tokenizer_config.json says); without one,
  // tokenizer_config's add_bos_token / add_eos_token.
  Template tp;
  if (tj.contains("post_processor")) {
    st = read_template(tj["post_processor"], f, &tp);
    if (!st.ok()) return st;
  }
  const std::optional<bool> cfg_bos = bool_field(c.cfg, "add_bos_token"), cfg_eos = bool_field(c.cfg, "add_eos_token");
  bool add_bos = cfg_bos.value_or(false), add_eos = cfg_eos.value_or(false);
  if (tp.found) {
    if (tp.before.size() > 1 || tp.after.size() > 1)
      return Status::Error(Code::BadType, f + ": post_processor adds " + std::to_string(tp.before.size()) + " tokens before and " +
                                              std::to_string(tp.after.size()) + " after a sequence; f8 supports at most one BOS and one EOS");
    // The template's token is what gets added; its id comes from the
    // template's own table, else from the vocabulary.
    auto id_of = [&](const std::string& name, int64_t* id) -> Status {
      auto it = tp.ids.find(name);
      if (it != tp.ids.end() && it->second.size() == 1) { *id = it->second[0]; return Status::Ok(); }
      auto v = index->find(name);
      if (v != index->end()) { *id = v->second; return Status::Ok(); }
      return Status::Error(Code::NotFound, f + ": post_processor special token \"" + name + "\" is not in the vocabulary");
    };
    add_bos = !tp.before.empty();
    add_eos = !tp.after.empty();
    if (add_bos) {
      int64_t id;
      st = id_of(tp.before[0], &id);
      if (!st.ok()) return st;
      *template_bos = static_cast<int32_t>(id);
    }
    if (add_eos) {
      int64_t id;
      st = id_of(tp.after[0], &id);
      if (!st.ok()) return st;
      *template_eos = static_cast<int32_t>(id);
    }
    if (cfg_bos && *cfg_bos != add_bos)
      c.warn(std::string("tokenizer_config.json add_bos_token is ") + (*cfg_bos ? "true" : "false") +
             " but tokenizer.json's post_processor " + (add_bos ? "adds" : "does not add") +
             " a BOS; following the post_processor (as tokenizers and transformers 5 do)");
    if (cfg_eos && *cfg_eos != add_eos)
      c.warn(std::string("tokenizer_config.json add_eos_token is ") + (*cfg_eos ? "true" : "false") +
             " but tokenizer.json's post_processor " + (add_eos ? "adds" : "does not add") +
             " an EOS; following the post_processor (as tokenizers and transformers 5 do)");
  }
  kvs->push_back({K::kTokAddBos, Value::boolean(add_bos)});
  kvs->push_back({K::kTokAddEos, Value::boolean(add_eos)});
  return Status::Ok();
}

Status import_impl(const std::string& model_dir, std::vector<ggf8::KV>* out, std::vector<std::string>* warnings,
                   const TokenizerImportOptions& opts) {
  Ctx c;
  c.dir = model_dir;
  c.warnings = warnings;
  Status st = read_json(c.dir / "tokenizer_config.json", &c.cfg, &c.has_cfg);
  if (st.ok()) st = read_json(c.dir / "special_tokens_map.json", &c.stm, &c.has_stm);
  if (st.ok()) st = read_json(c.dir / "generation_config.json", &c.gen, &c.has_gen);
  if (!st.ok()) return st;

  std::vector<ggf8::KV> kvs;
  std::map<std::string, int32_t> index;  // token text -> id (BPE, or tokenizer.json beside a .model)
  int32_t template_bos = -1, template_eos = -1;
  std::error_code ec;
  const fs::path spm = c.dir / "tokenizer.model", tjs = c.dir / "tokenizer.json";
  if (fs::exists(spm, ec)) {
    std::string bytes;
    st = read_file(spm, &bytes);
    if (!st.ok()) return st;
    if (bytes.empty()) return Status::Error(Code::BadCount, spm.string() + ": empty file");
    kvs.push_back({K::kTokKind, Value::str("sentencepiece")});
    kvs.push_back({K::kTokSpModel, Value::bytes(std::vector<uint8_t>(bytes.begin(), bytes.end()))});
    if (auto ab = bool_field(c.cfg, "add_bos_token")) kvs.push_back({K::kTokAddBos, Value::boolean(*ab)});
    if (auto ae = bool_field(c.cfg, "add_eos_token")) kvs.push_back({K::kTokAddEos, Value::boolean(*ae)});
    // Ids of the special tokens come from the SentencePiece model itself at
    // load time unless tokenizer.json (when present) names them.
    json tj;
    bool have_tj = false;
    if (fs::exists(tjs, ec)) {
      st = read_json(tjs, &tj, &have_tj);
      if (!st.ok()) return st;
      if (tj.contains("model") && tj["model"].is_object() && tj["model"].contains("vocab") && tj["model"]["vocab"].is_object())
        for (const auto& [tok, idv] : tj["model"]["vocab"].items())
          if (idv.is_number_integer()) index.emplace(tok, static_cast<int32_t>(idv.get<int64_t>()));
    }
  } else if (fs::exists(tjs, ec)) {
    st = import_bpe(c, tjs, opts, &kvs, &index, &template_bos, &template_eos);
    if (!st.ok()) return st;
  } else {
    return Status::Error(Code::NotFound, model_dir + ": neither tokenizer.model nor tokenizer.json exists");
  }

  // Special token ids (when the text resolves) and the template's strings.
  auto resolve = [&](const char* field, const char* key) -> std::optional<int32_t> {
    auto text = c.special(field);
    if (!text) return std::nullopt;
    auto it = index.find(*text);
    if (it == index.end()) {
      if (!index.empty()) c.warn(std::string(field) + " \"" + *text + "\" is not in the vocabulary");
      return std::nullopt;
    }
    kvs.push_back({key, Value::i32(it->second)});
    return it->second;
  };
  // The post-processor's BOS/EOS are the ids encode adds; a config token
  // that names another one is reported (the template wins).
  auto resolve_added = [&](const char* field, const char* key, int32_t from_template) -> std::optional<int32_t> {
    if (from_template < 0) return resolve(field, key);
    auto text = c.special(field);
    auto it = text ? index.find(*text) : index.end();
    if (it != index.end() && it->second != from_template)
      c.warn(std::string(field) + " \"" + *text + "\" (id " + std::to_string(it->second) +
             ") differs from the post_processor's token (id " + std::to_string(from_template) + "); using the latter");
    kvs.push_back({key, Value::i32(from_template)});
    return from_template;
  };
  resolve_added("bos_token", K::kTokBosId, template_bos);
  const auto eos = resolve_added("eos_token", K::kTokEosId, template_eos);
  resolve("pad_token", K::kTokPadId);
  if (auto b = c.special("bos_token")) kvs.push_back({K::kChatBosToken, Value::str(*b)});
  if (auto e = c.special("eos_token")) kvs.push_back({K::kChatEosToken, Value::str(*e)});

  // Chat template: chat_template.jinja (what transformers >= 4.50 writes)
  // wins over tokenizer_config.json's, as transformers' loader does; the
  // latter is a string, or a list of {name, template} ("default" wins).
  std::optional<std::string> tmpl, cfg_tmpl;
  if (c.has_cfg && c.cfg.contains("chat_template")) {
    const json& t = c.cfg["chat_template"];
    if (t.is_string()) {
      cfg_tmpl = t.get<std::string>();
    } else if (t.is_array()) {
      for (const json& e : t)
        if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
          cfg_tmpl = e["template"].get<std::string>();
      if (!cfg_tmpl && !t.empty() && t[0].is_object() && t[0].contains("template") && t[0]["template"].is_string()) {
        cfg_tmpl = t[0]["template"].get<std::string>();
        c.warn("chat_template list has no \"default\" entry; using \"" + t[0].value("name", std::string("?")) + "\"");
      }
    } else if (!t.is_null()) {
      return Status::Error(Code::BadType, (c.dir / "tokenizer_config.json").string() +
                                              ": chat_template is neither a string nor a list of {name, template}");
    }
  }
  if (fs::exists(c.dir / "chat_template.jinja", ec)) {
    std::string text;
    st = read_file(c.dir / "chat_template.jinja", &text);
    if (!st.ok()) return st;
    if (cfg_tmpl && *cfg_tmpl != text)
      c.warn("chat_template.jinja and tokenizer_config.json chat_template differ; using chat_template.jinja "
             "(as transformers does)");
    tmpl = std::move(text);
  } else {
    tmpl = cfg_tmpl;
  }
  if (fs::is_directory(c.dir / "additional_chat_templates", ec)) {
    std::string names;
    for (const auto& e : fs::directory_iterator(c.dir / "additional_chat_templates", ec))
      if (e.path().extension() == ".jinja") names += (names.empty() ? "" : ", ") + e.path().stem().string();
    if (!names.empty())
      c.warn("additional_chat_templates/ (" + names + ") not imported: f8 stores the default template only");
  }
  if (tmpl) kvs.push_back({K::kChatTemplate, Value::str(*tmpl)});
  else c.warn("no chat template found (tokenizer_config.json chat_template / chat_template.jinja)");

  // EOS ids: generation_config's eos_token_id (int or list) plus the
  // tokenizer's own eos, first-seen order, no duplicates.
  std::vector<int32_t> eos_ids;
  std::set<int32_t> seen;
  auto add_eos = [&](int64_t v) {
    if (v >= 0 && v <= INT32_MAX && seen.insert(static_cast<int32_t>(v)).second) eos_ids.push_back(static_cast<int32_t>(v));
  };
  if (c.has_gen && c.gen.contains("eos_token_id")) {
    const json& e = c.gen["eos_token_id"];
    if (e.is_number_integer()) add_eos(e.get<int64_t>());
    else if (e.is_array()) {
      for (const json& x : e)
        if (x.is_number_integer()) add_eos(x.get<int64_t>());
        else return Status::Error(Code::BadType, (c.dir / "generation_config.json").string() + ": eos_token_id list holds a non-integer");
    } else if (!e.is_null()) {
      return Status::Error(Code::BadType, (c.dir / "generation_config.json").string() + ": eos_token_id is neither an int nor a list");
    }
  }
  // No generation_config.json: config.json's eos_token_id, as transformers'
  // GenerationConfig.from_model_config does.
  if (!c.has_gen)
    for (int64_t v : opts.config_eos_ids) add_eos(v);
  if (eos) add_eos(*eos);
  if (!eos_ids.empty()) kvs.push_back({K::kGenEosIds, Value::array_i32(eos_ids)});
  if (c.has_gen) {
    if (c.gen.contains("temperature") && c.gen["temperature"].is_number())
      kvs.push_back({K::kGenTemperature, Value::f32(c.gen["temperature"].get<float>())});
    if (c.gen.contains("top_p") && c.gen["top_p"].is_number())
      kvs.push_back({K::kGenTopP, Value::f32(c.gen["top_p"].get<float>())});
    if (c.gen.contains("top_k") && c.gen["top_k"].is_number_integer())
      kvs.push_back({K::kGenTopK, Value::i32(static_cast<int32_t>(c.gen["top_k"].get<int64_t>()))});
  }
  for (auto& kv : kvs) out->push_back(std::move(kv));
  return Status::Ok();
}

}  // namespace

ggf8::Status import_tokenizer(const std::string& model_dir, std::vector<ggf8::KV>* out,
                              std::vector<std::string>* warnings, const TokenizerImportOptions& opts) {
  try {
    return import_impl(model_dir, out, warnings, opts);
  } catch (const std::bad_alloc&) {
    return Status::Error(Code::Io, model_dir + ": out of memory reading the tokenizer files");
  } catch (const std::exception& e) {
    // nlohmann::json type errors on fields we did not anticipate.
    return Status::Error(Code::BadType, model_dir + ": malformed tokenizer file: " + e.what());
  }
}

}  // namespace f8conv
