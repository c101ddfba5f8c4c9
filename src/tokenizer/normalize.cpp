// normalize.cpp — see normalize.h.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/normalize.h"

#include <pcre2.h>
#include <unicode/errorcode.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "tokenizer/utf8.h"

namespace f8tok {
namespace {

using json = nlohmann::json;
constexpr const char* kWhere = "tokenizer.bpe.normalizer_json";

Status err(Code c, std::string msg) { return Status::Error(c, std::string(kWhere) + ": " + std::move(msg)); }

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
    if (U_FAILURE(ec)) return Status::Error(Code::InvalidArgument, std::string("tokenizer normalizer: ICU error ") + u_errorName(ec));
    out->clear();
    r.toUTF8String(*out);
    return Status::Ok();
  }

 private:
  const icu::Normalizer2* n_;  // owned by ICU
};

// Replace: every non-overlapping occurrence of a literal string or a regex
// (PCRE2, UTF + UCP) becomes `content`, scanning left to right.
class ReplaceNormalizer final : public Normalizer {
 public:
  ~ReplaceNormalizer() override {
    if (code_) pcre2_code_free(code_);
  }
  static Status make(const std::string& pattern, bool literal, std::string content, std::unique_ptr<Normalizer>* out) {
    auto r = std::unique_ptr<ReplaceNormalizer>(new ReplaceNormalizer());
    r->content_ = std::move(content);
    if (literal) {
      if (pattern.empty()) return err(Code::BadString, "Replace with an empty String pattern");
      r->literal_ = pattern;
    } else {
      int ec = 0;
      PCRE2_SIZE off = 0;
      r->code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                               PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &ec, &off, nullptr);
      if (!r->code_) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(ec, buf, sizeof buf);
        return err(Code::BadString, "Replace regex does not compile at offset " + std::to_string(off) + ": " +
                                        reinterpret_cast<char*>(buf));
      }
    }
    *out = std::move(r);
    return Status::Ok();
  }
  Status apply(std::string_view in, std::string* out) const override {
    out->clear();
    if (!code_) {
      size_t pos = 0;
      for (size_t hit; (hit = in.find(literal_, pos)) != std::string_view::npos; pos = hit + literal_.size()) {
        out->append(in.substr(pos, hit - pos));
        out->append(content_);
      }
      out->append(in.substr(pos));
      return Status::Ok();
    }
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_, nullptr);
    if (!md) return Status::Error(Code::Io, "tokenizer normalizer: out of memory");
    const auto* subj = reinterpret_cast<PCRE2_SPTR>(in.data());
    size_t pos = 0, copied = 0;
    while (pos <= in.size() &&
           pcre2_match(code_, subj, in.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr) >= 0) {
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      const size_t b = ov[0], e = ov[1];
      out->append(in.substr(copied, b - copied));
      out->append(content_);
      copied = e;
      if (e > b) { pos = e; continue; }
      // Empty match: step over one character so the scan advances.
      if (b >= in.size()) break;
      size_t next = b;
      utf8::next_codepoint(in, &next);
      out->append(in.substr(b, next - b));
      copied = pos = next;
    }
    out->append(in.substr(std::min(copied, in.size())));
    pcre2_match_data_free(md);
    return Status::Ok();
  }

 private:
  ReplaceNormalizer() = default;
  std::string literal_, content_;
  pcre2_code* code_ = nullptr;
};

// Lowercase: each code point on its own (Rust's char::to_lowercase, which is
// context-free: no final-sigma rule). Its only multi-character mapping is
// U+0130 (İ) -> "i" + U+0307.
class LowercaseNormalizer final : public Normalizer {
 public:
  Status apply(std::string_view in, std::string* out) const override {
    out->clear();
    out->reserve(in.size());
    for (size_t i = 0; i < in.size();) {
      if (static_cast<unsigned char>(in[i]) < 0x80) {
        const char c = in[i++];
        out->push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
        continue;
      }
      const uint32_t cp = utf8::next_codepoint(in, &i);
      if (cp == 0x130) {
        out->push_back('i');
        utf8::append_codepoint(0x307, out);
      } else {
        utf8::append_codepoint(static_cast<uint32_t>(u_tolower(static_cast<UChar32>(cp))), out);
      }
    }
    return Status::Ok();
  }
};

// Prepend: adds the string in front of non-empty text (empty text stays empty).
class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string p) : p_(std::move(p)) {}
  Status apply(std::string_view in, std::string* out) const override {
    out->clear();
    if (!in.empty()) out->append(p_);
    out->append(in);
    return Status::Ok();
  }

 private:
  std::string p_;
};

// Strip: removes leading and/or trailing White_Space.
class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  Status apply(std::string_view in, std::string* out) const override {
    size_t b = 0, e = in.size();
    if (left_)
      for (size_t i = 0; i < in.size();) {
        const size_t at = i;
        if (!utf8::is_white_space(utf8::next_codepoint(in, &i))) { b = at; break; }
        b = i;
      }
    if (right_) {
      size_t last_non_ws = b;  // end of the last non-space character
      for (size_t i = b; i < in.size();)
        if (!utf8::is_white_space(utf8::next_codepoint(in, &i))) last_non_ws = i;
      e = last_non_ws;
    }
    out->assign(in.substr(b, e > b ? e - b : 0));
    return Status::Ok();
  }

 private:
  bool left_, right_;
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

bool get_bool(const json& j, const char* k, bool def) {
  return j.contains(k) && j[k].is_boolean() ? j[k].get<bool>() : def;
}

Status normalizer_from(const json& j, int depth, std::unique_ptr<Normalizer>* out) {
  if (j.is_null()) { out->reset(); return Status::Ok(); }
  if (depth > 16) return err(Code::BadType, "Sequence nested deeper than 16");
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return err(Code::BadType, "expected an object with a string \"type\"");
  const std::string type = j["type"].get<std::string>();
  UErrorCode ec = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  if (type == "NFC") n = icu::Normalizer2::getNFCInstance(ec);
  else if (type == "NFD") n = icu::Normalizer2::getNFDInstance(ec);
  else if (type == "NFKC") n = icu::Normalizer2::getNFKCInstance(ec);
  else if (type == "NFKD") n = icu::Normalizer2::getNFKDInstance(ec);
  else if (type == "Sequence") {
    if (!j.contains("normalizers") || !j["normalizers"].is_array())
      return err(Code::BadType, "Sequence without a \"normalizers\" array");
    auto seq = std::make_unique<SequenceNormalizer>();
    for (const auto& e : j["normalizers"]) {
      std::unique_ptr<Normalizer> step;
      Status st = normalizer_from(e, depth + 1, &step);
      if (!st.ok()) return st;
      if (step) seq->steps.push_back(std::move(step));
    }
    *out = std::move(seq);
    return Status::Ok();
  } else if (type == "Replace") {
    const json pat = j.value("pattern", json());
    if (!j.contains("content") || !j["content"].is_string() || !pat.is_object())
      return err(Code::BadType, "Replace needs a \"pattern\" object and a string \"content\"");
    if (pat.contains("String") && pat["String"].is_string())
      return ReplaceNormalizer::make(pat["String"].get<std::string>(), true, j["content"].get<std::string>(), out);
    if (pat.contains("Regex") && pat["Regex"].is_string())
      return ReplaceNormalizer::make(pat["Regex"].get<std::string>(), false, j["content"].get<std::string>(), out);
    return err(Code::BadType, "Replace pattern needs \"String\" or \"Regex\"");
  } else if (type == "Lowercase") {
    *out = std::make_unique<LowercaseNormalizer>();
    return Status::Ok();
  } else if (type == "Prepend") {
    if (!j.contains("prepend") || !j["prepend"].is_string()) return err(Code::BadType, "Prepend needs a string \"prepend\"");
    *out = std::make_unique<PrependNormalizer>(j["prepend"].get<std::string>());
    return Status::Ok();
  } else if (type == "Strip") {
    *out = std::make_unique<StripNormalizer>(get_bool(j, "strip_left", true), get_bool(j, "strip_right", true));
    return Status::Ok();
  } else {
    return err(Code::BadType, "unsupported normalizer type \"" + type + "\" (supported: " + supported_normalizers() + ")");
  }
  if (U_FAILURE(ec) || !n) return Status::Error(Code::Io, std::string("ICU normalizer unavailable: ") + u_errorName(ec));
  *out = std::make_unique<IcuNormalizer>(n);
  return Status::Ok();
}

}  // namespace

const char* supported_normalizers() { return "NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip, Sequence"; }

Status make_normalizer(std::string_view text, std::unique_ptr<Normalizer>* out) {
  out->reset();
  if (text.empty()) return Status::Ok();
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return err(Code::BadString, "not valid JSON");
  return normalizer_from(j, 0, out);
}

}  // namespace f8tok
