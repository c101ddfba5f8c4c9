// pretokenize.cpp — see pretokenize.h.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenize.h"

#include <pcre2.h>
#include <unicode/errorcode.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <nlohmann/json.hpp>

namespace f8tok {
namespace {

using json = nlohmann::json;

// tokenizers' ByteLevel pre-tokenizer regex (GPT-2).
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

Status err(Code c, std::string msg) { return Status::Error(c, std::move(msg)); }

// ---- normalizers -------------------------------------------------------------
class IcuNormalizer final : public Normalizer {
 public:
  explicit IcuNormalizer(const icu::Normalizer2* n) : n_(n) {}
  Status apply(std::string_view in, std::string* out) const override {
    icu::UnicodeString s = icu::UnicodeString::fromUTF8(icu::StringPiece(in.data(), static_cast<int32_t>(in.size())));
    UErrorCode ec = U_ZERO_ERROR;
    if (n_->isNormalized(s, ec) && U_SUCCESS(ec)) {
      out->assign(in);
      return Status::Ok();
    }
    ec = U_ZERO_ERROR;
    icu::UnicodeString r = n_->normalize(s, ec);
    if (U_FAILURE(ec)) return err(Code::InvalidArgument, std::string("tokenizer normalizer: ICU error ") + u_errorName(ec));
    out->clear();
    r.toUTF8String(*out);
    return Status::Ok();
  }

 private:
  const icu::Normalizer2* n_;  // owned by ICU
};

class SequenceNormalizer final : public Normalizer {
 public:
  std::vector<std::unique_ptr<Normalizer>> steps;
  Status apply(std::string_view in, std::string* out) const override {
    std::string cur(in), next;
    for (const auto& s : steps) {
      Status st = s->apply(cur, &next);
      if (!st.ok()) return st;
      cur.swap(next);
    }
    *out = std::move(cur);
    return Status::Ok();
  }
};

Status normalizer_from(const json& j, std::unique_ptr<Normalizer>* out) {
  if (j.is_null()) { out->reset(); return Status::Ok(); }
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return err(Code::BadType, "tokenizer.bpe.normalizer_json: expected an object with a string \"type\"");
  const std::string type = j["type"].get<std::string>();
  UErrorCode ec = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  if (type == "NFC") n = icu::Normalizer2::getNFCInstance(ec);
  else if (type == "NFD") n = icu::Normalizer2::getNFDInstance(ec);
  else if (type == "NFKC") n = icu::Normalizer2::getNFKCInstance(ec);
  else if (type == "NFKD") n = icu::Normalizer2::getNFKDInstance(ec);
  else if (type == "Sequence") {
    if (!j.contains("normalizers") || !j["normalizers"].is_array())
      return err(Code::BadType, "tokenizer.bpe.normalizer_json: Sequence without a \"normalizers\" array");
    auto seq = std::make_unique<SequenceNormalizer>();
    for (const auto& e : j["normalizers"]) {
      std::unique_ptr<Normalizer> step;
      Status st = normalizer_from(e, &step);
      if (!st.ok()) return st;
      if (step) seq->steps.push_back(std::move(step));
    }
    *out = std::move(seq);
    return Status::Ok();
  } else {
    return err(Code::BadType, "tokenizer.bpe.normalizer_json: unsupported normalizer type \"" + type +
                                  "\" (supported: NFC, NFD, NFKC, NFKD, Sequence)");
  }
  if (U_FAILURE(ec) || !n) return err(Code::Io, std::string("ICU normalizer unavailable: ") + u_errorName(ec));
  *out = std::make_unique<IcuNormalizer>(n);
  return Status::Ok();
}

// ---- pre-tokenizers ----------------------------------------------------------
enum class Behavior { Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous };

// Splits on the matches of a PCRE2 regex (or a literal string).
class SplitStep final : public PreTokenizer {
 public:
  ~SplitStep() override {
    if (code_) pcre2_code_free(code_);
  }
  static Status make(const std::string& pattern, bool literal, Behavior b, bool invert,
                     std::unique_ptr<SplitStep>* out) {
    auto s = std::unique_ptr<SplitStep>(new SplitStep());
    s->behavior_ = b;
    s->invert_ = invert;
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    uint32_t flags = PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK;
    if (literal) flags |= PCRE2_LITERAL;
    s->code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), flags,
                             &errcode, &erroff, nullptr);
    if (!s->code_) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(errcode, buf, sizeof buf);
      return err(Code::BadString, "tokenizer pre-tokenizer regex does not compile at offset " +
                                      std::to_string(erroff) + ": " + reinterpret_cast<char*>(buf));
    }
    // JIT is an optimisation: if it is unavailable pcre2_match still works.
    s->jit_ = pcre2_jit_compile(s->code_, PCRE2_JIT_COMPLETE) == 0;
    *out = std::move(s);
    return Status::Ok();
  }

  void split(std::vector<std::string>* pieces) const override {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_, nullptr);
    if (!md) return;  // out of memory: leave the pieces unsplit
    std::vector<std::string> out;
    out.reserve(pieces->size() * 2);
    std::vector<std::pair<size_t, bool>> cuts;  // (end offset, is_match) spans
    for (const std::string& p : *pieces) {
      cuts.clear();
      const auto* subj = reinterpret_cast<PCRE2_SPTR>(p.data());
      size_t pos = 0, last = 0;
      while (pos <= p.size()) {
        int rc = jit_ ? pcre2_jit_match(code_, subj, p.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr)
                      : pcre2_match(code_, subj, p.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc < 0) break;
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t b = ov[0], e = ov[1];
        if (e == b) {  // empty match: step one character and retry
          if (b >= p.size()) break;
          pos = b + 1;
          while (pos < p.size() && (static_cast<unsigned char>(p[pos]) & 0xC0) == 0x80) ++pos;
          continue;
        }
        if (b > last) cuts.push_back({b, false});
        cuts.push_back({e, true});
        last = pos = e;
      }
      if (last < p.size()) cuts.push_back({p.size(), false});
      emit(p, cuts, &out);
    }
    pcre2_match_data_free(md);
    pieces->swap(out);
  }

 private:
  SplitStep() = default;

  void emit(const std::string& p, const std::vector<std::pair<size_t, bool>>& cuts,
            std::vector<std::string>* out) const {
    size_t start = 0;
    bool pending_next = false;  // MergedWithNext: a delimiter waiting for its successor
    std::string carry;
    bool prev_was_match = false;
    const size_t first_new = out->size();
    for (const auto& [end, m0] : cuts) {
      const bool m = invert_ ? !m0 : m0;
      std::string_view s(p.data() + start, end - start);
      start = end;
      if (!m) {
        if (pending_next) { carry.append(s); out->push_back(std::move(carry)); carry.clear(); pending_next = false; }
        else out->emplace_back(s);
        prev_was_match = false;
        continue;
      }
      switch (behavior_) {
        case Behavior::Isolated: out->emplace_back(s); break;
        case Behavior::Removed: break;
        case Behavior::MergedWithPrevious:
          if (out->size() > first_new) out->back().append(s);
          else out->emplace_back(s);
          break;
        case Behavior::MergedWithNext:
          carry.append(s);
          pending_next = true;
          break;
        case Behavior::Contiguous:
          if (prev_was_match && out->size() > first_new) out->back().append(s);
          else out->emplace_back(s);
          break;
      }
      prev_was_match = true;
    }
    if (pending_next) out->push_back(std::move(carry));
  }

  pcre2_code* code_ = nullptr;
  bool jit_ = false;
  Behavior behavior_ = Behavior::Isolated;
  bool invert_ = false;
};

// ByteLevel: optional prefix space, optional GPT-2 regex split. The byte ->
// printable-character mapping itself happens in the BPE model.
class ByteLevelStep final : public PreTokenizer {
 public:
  ByteLevelStep(bool prefix, std::unique_ptr<SplitStep> re) : prefix_(prefix), re_(std::move(re)) {}
  void split(std::vector<std::string>* pieces) const override {
    if (prefix_)
      for (auto& p : *pieces)
        if (p.empty() || p[0] != ' ') p.insert(p.begin(), ' ');
    if (re_) re_->split(pieces);
  }
  bool byte_level() const override { return true; }

 private:
  bool prefix_;
  std::unique_ptr<SplitStep> re_;
};

class SequenceStep final : public PreTokenizer {
 public:
  std::vector<std::unique_ptr<PreTokenizer>> steps;
  void split(std::vector<std::string>* pieces) const override {
    for (const auto& s : steps) s->split(pieces);
  }
  bool byte_level() const override {
    for (const auto& s : steps)
      if (s->byte_level()) return true;
    return false;
  }
};

bool get_bool(const json& j, const char* k, bool def) {
  return j.contains(k) && j[k].is_boolean() ? j[k].get<bool>() : def;
}

Status pre_from(const json& j, std::unique_ptr<PreTokenizer>* out) {
  if (j.is_null()) { out->reset(); return Status::Ok(); }
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: expected an object with a string \"type\"");
  const std::string type = j["type"].get<std::string>();
  if (type == "Sequence") {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
      return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: Sequence without a \"pretokenizers\" array");
    auto seq = std::make_unique<SequenceStep>();
    for (const auto& e : j["pretokenizers"]) {
      std::unique_ptr<PreTokenizer> step;
      Status st = pre_from(e, &step);
      if (!st.ok()) return st;
      if (step) seq->steps.push_back(std::move(step));
    }
    *out = std::move(seq);
    return Status::Ok();
  }
  if (type == "ByteLevel") {
    std::unique_ptr<SplitStep> re;
    if (get_bool(j, "use_regex", true)) {
      Status st = SplitStep::make(kGpt2Pattern, false, Behavior::Isolated, false, &re);
      if (!st.ok()) return st;
    }
    *out = std::make_unique<ByteLevelStep>(get_bool(j, "add_prefix_space", false), std::move(re));
    return Status::Ok();
  }
  if (type == "Digits") {
    // tokenizers splits on char::is_numeric() (categories Nd, Nl, No = \p{N}),
    // so "²", "½" and "Ⅻ" are split off as well as ASCII digits.
    std::unique_ptr<SplitStep> s;
    Status st = SplitStep::make(get_bool(j, "individual_digits", false) ? "\\p{N}" : "\\p{N}+", false,
                                Behavior::Isolated, false, &s);
    if (!st.ok()) return st;
    *out = std::move(s);
    return Status::Ok();
  }
  if (type == "Split") {
    if (!j.contains("pattern") || !j["pattern"].is_object())
      return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: Split without a \"pattern\" object");
    const json& pat = j["pattern"];
    std::string text;
    bool literal;
    if (pat.contains("Regex") && pat["Regex"].is_string()) { text = pat["Regex"].get<std::string>(); literal = false; }
    else if (pat.contains("String") && pat["String"].is_string()) { text = pat["String"].get<std::string>(); literal = true; }
    else return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: Split pattern needs \"Regex\" or \"String\"");
    const std::string b = j.contains("behavior") && j["behavior"].is_string() ? j["behavior"].get<std::string>() : "Isolated";
    Behavior beh;
    if (b == "Isolated") beh = Behavior::Isolated;
    else if (b == "Removed") beh = Behavior::Removed;
    else if (b == "MergedWithPrevious") beh = Behavior::MergedWithPrevious;
    else if (b == "MergedWithNext") beh = Behavior::MergedWithNext;
    else if (b == "Contiguous") beh = Behavior::Contiguous;
    else return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: unknown Split behavior \"" + b + "\"");
    std::unique_ptr<SplitStep> s;
    Status st = SplitStep::make(text, literal, beh, get_bool(j, "invert", false), &s);
    if (!st.ok()) return st;
    *out = std::move(s);
    return Status::Ok();
  }
  return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: unsupported pre-tokenizer type \"" + type +
                                "\" (supported: Sequence, Split, ByteLevel, Digits)");
}

Status parse_json(std::string_view text, const char* what, json* out) {
  *out = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) return err(Code::BadString, std::string(what) + ": not valid JSON");
  return Status::Ok();
}

}  // namespace

std::string pre_tokenizer_json_for(std::string_view family) {
  auto split_then_bytelevel = [](const char* re) {
    json j = {{"type", "Sequence"},
              {"pretokenizers",
               json::array({{{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}},
                            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}})}};
    return j.dump();
  };
  if (family == "gpt2")
    return json({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}).dump();
  if (family == "smollm")
    return json({{"type", "Sequence"},
                 {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}},
                                                {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}})}})
        .dump();
  if (family == "llama3") return split_then_bytelevel(kLlama3Pattern);
  if (family == "qwen2") return split_then_bytelevel(kQwen2Pattern);
  return "";
}

Status make_normalizer(std::string_view text, std::unique_ptr<Normalizer>* out) {
  out->reset();
  if (text.empty()) return Status::Ok();
  json j;
  Status st = parse_json(text, "tokenizer.bpe.normalizer_json", &j);
  if (!st.ok()) return st;
  return normalizer_from(j, out);
}

Status make_pre_tokenizer(std::string_view text, std::unique_ptr<PreTokenizer>* out) {
  out->reset();
  if (text.empty()) return Status::Ok();
  json j;
  Status st = parse_json(text, "tokenizer.bpe.pre_tokenizer_json", &j);
  if (!st.ok()) return st;
  return pre_from(j, out);
}

}  // namespace f8tok
