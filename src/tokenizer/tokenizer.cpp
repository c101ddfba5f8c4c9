// tokenizer.cpp — the parts shared by both tokenizer kinds: UTF-8 clean-up,
// special-token splitting, BOS/EOS, decode and the streaming Decoder.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>

#include "tokenizer/utf8.h"

namespace f8tok {

void Tokenizer::finish_setup() {
  specials_.clear();
  for (int32_t id = 0; id < vocab_size(); ++id) {
    const TokenType t = types_[static_cast<size_t>(id)];
    if (t != TokenType::Control && t != TokenType::UserDefined) continue;
    const std::string& s = token_text(id);
    if (!s.empty()) specials_.emplace_back(s, id);
  }
  // Longest first so that "<|im_start|>" wins over a shorter prefix of it.
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

Status Tokenizer::encode(std::string_view text, const EncodeOptions& opts, std::vector<int32_t>* out) const {
  // Invalid UTF-8 is tokenized as U+FFFD (documented in tokenizer.h).
  std::string clean;
  if (!utf8::valid(text)) {
    utf8::append_lossy(text, &clean, false);
    text = clean;
  }
  if (opts.add_special && add_bos_) out->push_back(bos_);
  if (use_added_) {
    std::vector<AddedTokenMatcher::Span> spans;
    raw_added_.split(text, opts.parse_special, &spans);
    for (const auto& sp : spans) {
      if (sp.id >= 0) { out->push_back(sp.id); continue; }
      Status st = encode_text(text.substr(sp.begin, sp.end - sp.begin), sp.begin == 0, opts.parse_special, out);
      if (!st.ok()) return st;
    }
    if (opts.add_special && add_eos_) out->push_back(eos_);
    return Status::Ok();
  }

  // Candidate specials bucketed by first byte; control tokens only when
  // parse_special (user-defined added tokens are always matched, as in
  // Hugging Face tokenizers).
  std::array<std::vector<uint32_t>, 256> by_first;
  bool any = false;
  for (uint32_t k = 0; k < specials_.size(); ++k) {
    const auto& [s, id] = specials_[k];
    if (!opts.parse_special && types_[static_cast<size_t>(id)] == TokenType::Control) continue;
    by_first[static_cast<unsigned char>(s[0])].push_back(k);
    any = true;
  }
  size_t start = 0;
  bool at_start = true;
  if (any) {
    for (size_t i = 0; i < text.size();) {
      const auto& cands = by_first[static_cast<unsigned char>(text[i])];
      int32_t hit = -1;
      size_t hit_len = 0;
      for (uint32_t k : cands) {  // longest first
        const std::string& s = specials_[k].first;
        if (text.compare(i, s.size(), s) == 0) { hit = specials_[k].second; hit_len = s.size(); break; }
      }
      if (hit < 0) { ++i; continue; }
      if (i > start) {
        Status st = encode_text(text.substr(start, i - start), at_start, opts.parse_special, out);
        if (!st.ok()) return st;
      }
      out->push_back(hit);
      at_start = false;
      i += hit_len;
      start = i;
    }
  }
  if (start < text.size()) {
    Status st = encode_text(text.substr(start), at_start, opts.parse_special, out);
    if (!st.ok()) return st;
  }
  if (opts.add_special && add_eos_) out->push_back(eos_);
  return Status::Ok();
}

Status Tokenizer::piece(int32_t id, const DecodeOptions& opts, std::string* out) const {
  if (!valid_id(id))
    return Status::Error(Code::InvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                                    std::to_string(vocab_size()) + ")");
  if (type(id) == TokenType::Control && !opts.render_special) return Status::Ok();
  raw_piece(id, out);
  return Status::Ok();
}

Status Tokenizer::decode(const int32_t* ids, size_t n, const DecodeOptions& opts, std::string* out) const {
  for (size_t i = 0; i < n; ++i)
    if (!valid_id(ids[i]))
      return Status::Error(Code::InvalidArgument, "token id " + std::to_string(ids[i]) +
                                                      " is outside the vocabulary [0, " + std::to_string(vocab_size()) + ")");
  if (decode_all(ids, n, opts, out)) return Status::Ok();
  std::string bytes;
  bool started = false;
  for (size_t i = 0; i < n; ++i) {
    const size_t before = bytes.size();
    Status st = piece(ids[i], opts, &bytes);
    if (!st.ok()) return st;
    if (!started && bytes.size() > before) {
      started = true;
      if (opts.strip_leading_space && strips_dummy_prefix() && may_strip_first(ids[i]) && bytes[before] == ' ')
        bytes.erase(before, 1);
    }
  }
  utf8::append_lossy(bytes, out, false);
  return Status::Ok();
}

Status Decoder::push(int32_t id, std::string* out) {
  const size_t before = held_.size();
  Status st = tok_.piece(id, opts_, &held_);
  if (!st.ok()) return st;
  if (!started_ && held_.size() > before) {
    started_ = true;
    if (opts_.strip_leading_space && tok_.strips_dummy_prefix() && tok_.may_strip_first(id) &&
        held_[before] == ' ')
      held_.erase(before, 1);
  }
  const size_t keep = utf8::append_lossy(held_, out, /*hold_incomplete=*/true);
  held_.erase(0, held_.size() - keep);
  return Status::Ok();
}

void Decoder::finish(std::string* out) {
  utf8::append_lossy(held_, out, false);
  held_.clear();
  started_ = false;
}

}  // namespace f8tok
