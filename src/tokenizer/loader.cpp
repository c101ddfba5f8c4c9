// loader.cpp — builds a Tokenizer from GGF8 metadata (tokenizer.* keys of
// ggf8/keys.h, as convert/tokenizer_import.cpp writes them).
#include "ggf8/keys.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/sentencepiece.h"
#include "tokenizer/tokenizer.h"

namespace f8tok {
namespace {

namespace K = ggf8::keys;

Status bad(const char* key, const std::string& what) {
  return Status::Error(Code::BadType, std::string(key) + ": " + what);
}

Status get_str(const MetaLookup& m, const char* key, bool required, std::string* out) {
  const ggf8::Value* v = m(key);
  if (!v) return required ? Status::Error(Code::NotFound, std::string("missing metadata key ") + key) : Status::Ok();
  const std::string* s = v->get_str();
  if (!s) return bad(key, std::string("expected a string, found ") + ggf8::vtype_name(v->type()));
  *out = *s;
  return Status::Ok();
}

// Optional integer id; -1 stays -1 (none).
Status get_id(const MetaLookup& m, const char* key, int32_t* out, bool* given = nullptr) {
  const ggf8::Value* v = m(key);
  if (given) *given = v != nullptr;
  if (!v) return Status::Ok();
  int64_t x;
  if (!v->get_i64(&x) || x < -1 || x > INT32_MAX) return bad(key, "expected an integer id >= -1");
  *out = static_cast<int32_t>(x);
  return Status::Ok();
}

Status get_flag(const MetaLookup& m, const char* key, int* out) {  // -1 absent, 0/1
  const ggf8::Value* v = m(key);
  if (!v) return Status::Ok();
  bool b;
  if (!v->get_bool(&b)) return bad(key, "expected a bool");
  *out = b ? 1 : 0;
  return Status::Ok();
}

Status load_bpe(const MetaLookup& m, std::unique_ptr<Tokenizer>* out) {
  BpeConfig c;
  const ggf8::Value* v = m(K::kTokTokens);
  if (!v) return Status::Error(Code::NotFound, std::string("missing metadata key ") + K::kTokTokens);
  if (!v->strings()) return bad(K::kTokTokens, "expected an array of strings");
  c.tokens = *v->strings();
  if (const ggf8::Value* t = m(K::kTokTypes)) {
    std::vector<int64_t> ty;
    if (!t->to_i64_vector(&ty)) return bad(K::kTokTypes, "expected an integer array");
    c.types.reserve(ty.size());
    for (int64_t x : ty) c.types.push_back(x < INT32_MIN || x > INT32_MAX ? 0 : static_cast<int32_t>(x));
  }
  if (const ggf8::Value* mg = m(K::kTokMerges)) {
    if (!mg->strings()) return bad(K::kTokMerges, "expected an array of strings");
    c.merges = *mg->strings();
  }
  if (const ggf8::Value* ml = m(K::kTokMergeLeftLen)) {
    std::vector<int64_t> v;
    if (!ml->to_i64_vector(&v) || v.size() != c.merges.size())
      return bad(K::kTokMergeLeftLen, "expected an integer array with one entry per merge");
    for (int64_t x : v) c.merge_left_len.push_back(x < 0 || x > INT32_MAX ? 0 : static_cast<int32_t>(x));
  }
  std::string family;
  Status st = get_str(m, K::kTokPre, false, &family);
  if (st.ok()) st = get_str(m, K::kTokPreJson, false, &c.pre_tokenizer_json);
  if (st.ok()) st = get_str(m, K::kTokNormJson, false, &c.normalizer_json);
  if (st.ok()) st = get_str(m, K::kTokDecoderJson, false, &c.decoder_json);
  if (st.ok()) st = get_str(m, K::kTokAddedJson, false, &c.added_tokens_json);
  if (!st.ok()) return st;
  if (c.pre_tokenizer_json.empty() && !family.empty()) {
    c.pre_tokenizer_json = pre_tokenizer_json_for(family);
    if (c.pre_tokenizer_json.empty())
      return bad(K::kTokPre, "unknown pre-tokenizer family \"" + family + "\" and no " + K::kTokPreJson);
  }
  int fb = -1, im = -1, ab = -1, ae = -1, fu = -1;
  st = get_flag(m, K::kTokByteFallback, &fb);
  if (st.ok()) st = get_flag(m, K::kTokFuseUnk, &fu);
  if (st.ok()) st = get_flag(m, K::kTokIgnoreMerges, &im);
  if (st.ok()) st = get_flag(m, K::kTokAddBos, &ab);
  if (st.ok()) st = get_flag(m, K::kTokAddEos, &ae);
  if (st.ok()) st = get_id(m, K::kTokBosId, &c.bos);
  if (st.ok()) st = get_id(m, K::kTokEosId, &c.eos);
  if (st.ok()) st = get_id(m, K::kTokPadId, &c.pad);
  if (st.ok()) st = get_id(m, K::kTokUnkId, &c.unk);
  if (!st.ok()) return st;
  c.byte_fallback = fb == 1;
  c.ignore_merges = im == 1;
  c.fuse_unk = fu == 1;
  c.add_bos = ab == 1;
  c.add_eos = ae == 1;
  return BpeTokenizer::create(std::move(c), out);
}

Status load_sp(const MetaLookup& m, std::unique_ptr<Tokenizer>* out) {
  const ggf8::Value* v = m(K::kTokSpModel);
  if (!v) return Status::Error(Code::NotFound, std::string("missing metadata key ") + K::kTokSpModel);
  if (!v->is_array() || (v->elem_type() != ggf8::VType::U8 && v->elem_type() != ggf8::VType::I8))
    return bad(K::kTokSpModel, "expected an array of u8 (the tokenizer.model bytes)");
  const auto& raw = v->raw();
  SpOverrides ov;
  bool g;
  int32_t id = -1;
  Status st = get_id(m, K::kTokBosId, &id, &g);
  if (st.ok() && g) ov.bos = id;
  id = -1;
  if (st.ok()) st = get_id(m, K::kTokEosId, &id, &g);
  if (st.ok() && g) ov.eos = id;
  id = -1;
  if (st.ok()) st = get_id(m, K::kTokPadId, &id, &g);
  if (st.ok() && g) ov.pad = id;
  id = -1;
  if (st.ok()) st = get_id(m, K::kTokUnkId, &id, &g);
  if (st.ok() && g) ov.unk = id;
  if (st.ok()) st = get_flag(m, K::kTokAddBos, &ov.add_bos);
  if (st.ok()) st = get_flag(m, K::kTokAddEos, &ov.add_eos);
  if (!st.ok()) return st;
  return make_sentencepiece(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()), ov, out);
}

}  // namespace

Status load(const MetaLookup& meta, std::unique_ptr<Tokenizer>* out) {
  std::string kind;
  Status st = get_str(meta, K::kTokKind, true, &kind);
  if (!st.ok()) return st;
  if (kind == "sentencepiece") return load_sp(meta, out);
  if (kind == "bpe") return load_bpe(meta, out);
  return bad(K::kTokKind, "unknown tokenizer kind \"" + kind + "\" (expected \"sentencepiece\" or \"bpe\")");
}

Status load_from_file(const ggf8::File& file, std::unique_ptr<Tokenizer>* out) {
  return load([&file](std::string_view k) { return file.find(k); }, out);
}

Status load_from_kvs(const std::vector<ggf8::KV>& kvs, std::unique_ptr<Tokenizer>* out) {
  return load(
      [&kvs](std::string_view k) -> const ggf8::Value* {
        for (const auto& kv : kvs)
          if (kv.key == k) return &kv.value;
        return nullptr;
      },
      out);
}

}  // namespace f8tok
