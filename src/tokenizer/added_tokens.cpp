// added_tokens.cpp — see added_tokens.h.
#include "tokenizer/added_tokens.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "tokenizer/utf8.h"

namespace f8tok {
namespace {

using json = nlohmann::json;

// \w in the Unicode sense tokenizers' single_word check uses.
bool is_word_char(uint32_t c) {
  if (c == '_' || c == 0x200C || c == 0x200D) return true;
  const UChar32 u = static_cast<UChar32>(c);
  if (u_hasBinaryProperty(u, UCHAR_ALPHABETIC)) return true;
  switch (u_charType(u)) {
    case U_NON_SPACING_MARK: case U_COMBINING_SPACING_MARK: case U_ENCLOSING_MARK:
    case U_DECIMAL_DIGIT_NUMBER: case U_CONNECTOR_PUNCTUATION:
      return true;
    default:
      return false;
  }
}

// The code point that ends text[0, end), or 0 if none.
uint32_t cp_before(std::string_view text, size_t end) {
  if (end == 0) return 0;
  size_t p = end - 1;
  while (p > 0 && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
  return utf8::next_codepoint(text, &p);
}

}  // namespace

Status parse_added_tokens(std::string_view text, int32_t vocab_size, std::vector<AddedToken>* out) {
  constexpr const char* kWhere = "tokenizer.bpe.added_tokens_json";
  out->clear();
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Error(Code::BadString, std::string(kWhere) + ": not valid JSON");
  if (j.is_null()) return Status::Ok();
  if (!j.is_array()) return Status::Error(Code::BadType, std::string(kWhere) + ": expected an array");
  for (size_t k = 0; k < j.size(); ++k) {
    const json& a = j[k];
    const std::string at = std::string(kWhere) + "[" + std::to_string(k) + "]";
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
        !a["content"].is_string())
      return Status::Error(Code::BadType, at + ": needs an integer \"id\" and a string \"content\"");
    AddedToken t;
    const int64_t id = a["id"].get<int64_t>();
    if (id < 0 || id >= vocab_size)
      return Status::Error(Code::BadCount, at + ": id " + std::to_string(id) + " is outside the vocabulary (" +
                                               std::to_string(vocab_size) + " tokens)");
    t.id = static_cast<int32_t>(id);
    t.content = a["content"].get<std::string>();
    if (!utf8::valid(t.content)) return Status::Error(Code::BadString, at + ": content is not valid UTF-8");
    auto flag = [&](const char* key, bool def) { return a.contains(key) && a[key].is_boolean() ? a[key].get<bool>() : def; };
    t.special = flag("special", false);
    t.lstrip = flag("lstrip", false);
    t.rstrip = flag("rstrip", false);
    t.single_word = flag("single_word", false);
    // tokenizers' default: special tokens are not normalized, others are.
    t.normalized = flag("normalized", !t.special);
    out->push_back(std::move(t));
  }
  return Status::Ok();
}

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : by_first_(256) {
  for (auto& t : tokens)
    if (!t.content.empty()) tokens_.push_back(std::move(t));
  // Longest first, so the first hit at a position is the longest there.
  std::stable_sort(tokens_.begin(), tokens_.end(),
                   [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  for (uint32_t k = 0; k < tokens_.size(); ++k)
    by_first_[static_cast<unsigned char>(tokens_[k].content[0])].push_back(k);
}

void AddedTokenMatcher::split(std::string_view text, bool parse_special, std::vector<Span>* out) const {
  size_t last = 0;  // end of the previous kept span (text before it is emitted)
  for (size_t i = 0; i < text.size() && !tokens_.empty();) {
    const AddedToken* hit = nullptr;
    for (uint32_t k : by_first_[static_cast<unsigned char>(text[i])]) {
      const std::string& c = tokens_[k].content;
      if (text.compare(i, c.size(), c) == 0) { hit = &tokens_[k]; break; }
    }
    if (!hit) { ++i; continue; }
    size_t b = i, e = i + hit->content.size();
    i = e;  // the match consumes its text even when rejected below
    if (hit->special && !parse_special) continue;
    if (hit->single_word) {
      const uint32_t before = cp_before(text, b);
      size_t k = e;
      const uint32_t after = e < text.size() ? utf8::next_codepoint(text, &k) : 0;
      if ((b > 0 && is_word_char(before)) || (e < text.size() && is_word_char(after))) continue;
    }
    if (hit->lstrip)
      while (b > last) {
        size_t p = b - 1;
        while (p > last && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
        size_t q = p;
        if (!utf8::is_white_space(utf8::next_codepoint(text, &q))) break;
        b = p;
      }
    if (hit->rstrip)
      while (e < text.size()) {
        size_t q = e;
        if (!utf8::is_white_space(utf8::next_codepoint(text, &q))) break;
        e = q;
      }
    if (b > last) out->push_back({last, b, -1});
    out->push_back({b, e, hit->id});
    last = e;
    i = std::max(i, e);
  }
  if (last < text.size()) out->push_back({last, text.size(), -1});
}

}  // namespace f8tok
