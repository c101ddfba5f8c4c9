// bpe.cpp — see bpe.h.
#include "tokenizer/bpe.h"

#include <algorithm>
#include <queue>

#include "tokenizer/utf8.h"

namespace f8tok {
namespace {

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the
// other 68 bytes to U+0100.. in byte order (so ' ' -> 'Ġ' U+0120).
std::array<uint32_t, 256> byte_to_codepoint() {
  std::array<uint32_t, 256> m{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    m[b] = printable ? b : next++;
  }
  return m;
}

uint32_t next_codepoint(const std::string& s, size_t* i) { return utf8::next_codepoint(s, i); }

}  // namespace

bool parse_byte_token(std::string_view t, uint8_t* out) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return false;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  if (hi < 0 || lo < 0) return false;
  *out = static_cast<uint8_t>(hi * 16 + lo);
  return true;
}

Status BpeTokenizer::create(BpeConfig cfg, std::unique_ptr<Tokenizer>* out) {
  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
  const size_t n = cfg.tokens.size();
  if (n == 0) return Status::Error(Code::BadCount, "tokenizer.tokens: empty vocabulary");
  if (n > static_cast<size_t>(INT32_MAX))
    return Status::Error(Code::BadCount, "tokenizer.tokens: " + std::to_string(n) + " tokens is more than int32 ids allow");
  if (!cfg.types.empty() && cfg.types.size() != n)
    return Status::Error(Code::BadCount, "tokenizer.token_type: " + std::to_string(cfg.types.size()) +
                                             " entries, expected one per token (" + std::to_string(n) + ")");
  t->types_.resize(n, TokenType::Normal);
  for (size_t i = 0; i < cfg.types.size(); ++i) {
    const int32_t v = cfg.types[i];
    if (v < 1 || v > 6)
      return Status::Error(Code::BadType, "tokenizer.token_type[" + std::to_string(i) + "] = " + std::to_string(v) +
                                              ", expected 1..6");
    t->types_[i] = static_cast<TokenType>(v);
  }
  t->tokens_ = std::move(cfg.tokens);
  t->vocab_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (!utf8::valid(t->tokens_[i]))
      return Status::Error(Code::BadString, "tokenizer.tokens[" + std::to_string(i) + "]: not valid UTF-8");
    // First occurrence wins (some vocabularies repeat a string in padding slots).
    t->vocab_.emplace(t->tokens_[i], static_cast<int32_t>(i));
  }

  Status st = make_normalizer(cfg.normalizer_json, &t->normalizer_);
  if (!st.ok()) return st;
  st = make_pre_tokenizer(cfg.pre_tokenizer_json, &t->pre_);
  if (!st.ok()) return st;
  t->byte_level_ = t->pre_ && t->pre_->byte_level();
  st = make_decode_chain(cfg.decoder_json, &t->chain_);
  if (!st.ok()) return st;
  t->fuse_unk_ = cfg.fuse_unk;
  t->byte_fallback_ = cfg.byte_fallback;
  t->ignore_merges_ = cfg.ignore_merges;

  const auto cps = byte_to_codepoint();
  for (int b = 0; b < 256; ++b) {
    t->byte_char_[b].clear();
    utf8::append_codepoint(cps[b], &t->byte_char_[b]);
    t->char_byte_[cps[b]] = static_cast<uint8_t>(b);
    auto it = t->vocab_.find(t->byte_char_[b]);
    t->byte_id_[b] = it == t->vocab_.end() ? -1 : it->second;
    char hex[8];
    snprintf(hex, sizeof hex, "<0x%02X>", b);
    auto f = t->vocab_.find(hex);
    t->fallback_id_[b] = f == t->vocab_.end() ? -1 : f->second;
  }

  t->merges_.reserve(cfg.merges.size());
  for (size_t r = 0; r < cfg.merges.size(); ++r) {
    const std::string& m = cfg.merges[r];
    // "left right". Byte-level tokens never contain ' ', but SentencePiece-
    // style vocabularies can (Gemma): take the first space at which both
    // sides and their concatenation are tokens.
    const bool given = r < cfg.merge_left_len.size();
    size_t sp = given ? static_cast<size_t>(cfg.merge_left_len[r]) : m.find(' ', 1);
    if (sp == std::string::npos || sp == 0 || sp + 1 >= m.size() || m[sp] != ' ')
      return Status::Error(Code::BadString, "tokenizer.bpe.merges[" + std::to_string(r) + "] = \"" + m +
                                                "\": expected \"left right\"");
    auto l = t->vocab_.end(), rr = t->vocab_.end(), merged = t->vocab_.end();
    for (; sp != std::string::npos; sp = given ? std::string::npos : m.find(' ', sp + 1)) {
      l = t->vocab_.find(m.substr(0, sp));
      rr = t->vocab_.find(m.substr(sp + 1));
      merged = t->vocab_.find(m.substr(0, sp) + m.substr(sp + 1));
      if (l != t->vocab_.end() && rr != t->vocab_.end() && merged != t->vocab_.end()) break;
    }
    if (sp == std::string::npos)
      return Status::Error(Code::NotFound, "tokenizer.bpe.merges[" + std::to_string(r) + "] = \"" + m +
                                               "\": a side or the merged token is not in tokenizer.tokens");
    // Keep the lowest rank if a pair repeats.
    t->merges_.emplace(pair_key(l->second, rr->second), MergeResult{static_cast<int32_t>(r), merged->second});
  }

  auto check_id = [&](int32_t id, const char* key) -> Status {
    if (id < -1 || id >= static_cast<int32_t>(n))
      return Status::Error(Code::BadCount, std::string(key) + " = " + std::to_string(id) + " is outside the vocabulary (" +
                                               std::to_string(n) + " tokens)");
    return Status::Ok();
  };
  for (auto [id, key] : {std::pair{cfg.bos, "tokenizer.bos_id"}, {cfg.eos, "tokenizer.eos_id"},
                         {cfg.pad, "tokenizer.pad_id"}, {cfg.unk, "tokenizer.unk_id"}}) {
    st = check_id(id, key);
    if (!st.ok()) return st;
  }
  t->bos_ = cfg.bos;
  t->eos_ = cfg.eos;
  t->pad_ = cfg.pad;
  t->unk_ = cfg.unk;
  t->add_bos_ = cfg.add_bos && cfg.bos >= 0;
  t->add_eos_ = cfg.add_eos && cfg.eos >= 0;
  t->finish_setup();
  if (!cfg.added_tokens_json.empty()) {
    std::vector<AddedToken> added;
    st = parse_added_tokens(cfg.added_tokens_json, static_cast<int32_t>(n), &added);
    if (!st.ok()) return st;
    std::vector<AddedToken> raw, norm;
    for (AddedToken& a : added) {
      if (!a.normalized) { raw.push_back(std::move(a)); continue; }
      // Matched in normalized text, so its content is normalized too (as
      // tokenizers does when it builds its normalized-token trie).
      if (t->normalizer_) {
        std::string c;
        st = t->normalizer_->apply(a.content, &c);
        if (!st.ok()) return st;
        a.content = std::move(c);
        // tokenizers decodes such a token as its normalized content too.
        t->tokens_[static_cast<size_t>(a.id)] = a.content;
        t->vocab_.emplace(a.content, a.id);
      }
      norm.push_back(std::move(a));
    }
    t->use_added_ = true;
    t->raw_added_ = AddedTokenMatcher(std::move(raw));
    t->norm_added_ = AddedTokenMatcher(std::move(norm));
  }
  *out = std::move(t);
  return Status::Ok();
}

int32_t BpeTokenizer::find_token(std::string_view text) const {
  auto it = vocab_.find(std::string(text));
  return it == vocab_.end() ? -1 : it->second;
}

Status BpeTokenizer::encode_text(std::string_view text, bool at_start, bool parse_special,
                                 std::vector<int32_t>* out) const {
  std::string norm;
  if (normalizer_) {
    Status st = normalizer_->apply(text, &norm);
    if (!st.ok()) return st;
    text = norm;
  }
  if (norm_added_.empty()) {
    encode_normalized(text, at_start, out);
    return Status::Ok();
  }
  // Added tokens with normalized = true are found in the normalized text.
  std::vector<AddedTokenMatcher::Span> spans;
  norm_added_.split(text, parse_special, &spans);
  for (const auto& sp : spans) {
    if (sp.id >= 0) out->push_back(sp.id);
    else encode_normalized(text.substr(sp.begin, sp.end - sp.begin), at_start && sp.begin == 0, out);
  }
  return Status::Ok();
}

void BpeTokenizer::encode_normalized(std::string_view text, bool at_start, std::vector<int32_t>* out) const {
  std::vector<std::string> pieces;
  pieces.emplace_back(text);
  if (pre_) pre_->split(&pieces, at_start);
  if (text.size() < kCacheFromBytes) {
    for (const std::string& p : pieces)
      if (!p.empty()) encode_piece(p, out);
    return;
  }
  // Long inputs repeat words: memoize within this call (no shared state, so
  // the tokenizer stays safe to use from many threads).
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> seen;  // piece -> [begin, end) in *out
  for (const std::string& p : pieces) {
    if (p.empty()) continue;
    auto it = seen.find(p);
    if (it != seen.end()) {
      const auto [b, e] = it->second;
      for (uint32_t k = b; k < e; ++k) {
        const int32_t id = (*out)[k];  // copy first: push_back may reallocate
        out->push_back(id);
      }
      continue;
    }
    const size_t b = out->size();
    encode_piece(p, out);
    if (out->size() < UINT32_MAX) seen.emplace(p, std::pair{static_cast<uint32_t>(b), static_cast<uint32_t>(out->size())});
  }
}

void BpeTokenizer::encode_piece(const std::string& piece, std::vector<int32_t>* out) const {
  std::vector<int32_t> syms;
  syms.reserve(piece.size());
  if (byte_level_) {
    if (ignore_merges_) {
      std::string mapped;
      mapped.reserve(piece.size() * 2);
      for (unsigned char c : piece) mapped += byte_char_[c];
      auto it = vocab_.find(mapped);
      if (it != vocab_.end()) { out->push_back(it->second); return; }
    }
    for (unsigned char c : piece) {
      int32_t id = byte_id_[c];
      if (id < 0) id = byte_fallback_ ? fallback_id_[c] : -1;
      if (id < 0) id = unk_;
      if (id >= 0) syms.push_back(id);
    }
  } else {
    if (ignore_merges_) {
      auto it = vocab_.find(piece);
      if (it != vocab_.end()) { out->push_back(it->second); return; }
    }
    // Character-level symbols; a character missing from the vocabulary becomes
    // its "<0xNN>" byte tokens (byte_fallback) or unk.
    size_t i = 0;
    bool last_unk = false;
    while (i < piece.size()) {
      const size_t b = i;
      next_codepoint(piece, &i);
      auto it = vocab_.find(piece.substr(b, i - b));
      last_unk = last_unk && it == vocab_.end();
      if (it != vocab_.end()) { syms.push_back(it->second); continue; }
      bool all = byte_fallback_;
      for (size_t k = b; all && k < i; ++k) all = fallback_id_[static_cast<unsigned char>(piece[k])] >= 0;
      if (all) {
        for (size_t k = b; k < i; ++k) syms.push_back(fallback_id_[static_cast<unsigned char>(piece[k])]);
      } else if (unk_ >= 0) {
        // fuse_unk: a run of unknown characters is one unk symbol.
        if (!(fuse_unk_ && last_unk)) syms.push_back(unk_);
        last_unk = true;
        continue;
      }
    }
  }
  merge_word(&syms);
  out->insert(out->end(), syms.begin(), syms.end());
}

// Applies merges lowest rank first; among equal ranks the leftmost first.
// Symbols form a linked list; the heap holds candidate pairs and stale
// entries are skipped when popped (as tokenizers' Word::merge_all).
void BpeTokenizer::merge_word(std::vector<int32_t>* syms) const {
  const size_t n = syms->size();
  if (n < 2) return;
  if (n <= kSmallWord) {
    // Short words (nearly all): pair ranks in a stack array, rescanned after
    // each merge; O(n^2) integer compares but only O(n) hash lookups.
    int32_t id[kSmallWord], rank[kSmallWord], merged[kSmallWord];
    size_t len = n;
    std::copy(syms->begin(), syms->end(), id);
    auto look = [&](size_t i) {
      auto it = merges_.find(pair_key(id[i], id[i + 1]));
      rank[i] = it == merges_.end() ? INT32_MAX : it->second.rank;
      merged[i] = it == merges_.end() ? -1 : it->second.id;
    };
    for (size_t i = 0; i + 1 < len; ++i) look(i);
    for (;;) {
      size_t best = 0;
      int32_t br = INT32_MAX;
      for (size_t i = 0; i + 1 < len; ++i)
        if (rank[i] < br) { br = rank[i]; best = i; }  // strict <: leftmost wins ties
      if (br == INT32_MAX) break;
      id[best] = merged[best];
      for (size_t i = best + 1; i + 1 < len; ++i) {  // drop symbol best+1
        id[i] = id[i + 1];
        rank[i] = rank[i + 1];
        merged[i] = merged[i + 1];
      }
      --len;
      if (best + 1 < len) look(best);
      if (best > 0) look(best - 1);
    }
    syms->assign(id, id + len);
    return;
  }
  std::vector<int32_t>& id = *syms;
  std::vector<int32_t> prev(n), next(n);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Cand {
    int32_t rank, pos, left_id, right_id;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto consider = [&](int32_t pos) {
    const int32_t nx = next[static_cast<size_t>(pos)];
    if (nx < 0) return;
    auto it = merges_.find(pair_key(id[static_cast<size_t>(pos)], id[static_cast<size_t>(nx)]));
    if (it != merges_.end()) heap.push({it->second.rank, pos, id[static_cast<size_t>(pos)], id[static_cast<size_t>(nx)]});
  };
  for (size_t i = 0; i + 1 < n; ++i) consider(static_cast<int32_t>(i));
  std::vector<bool> dead(n, false);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const size_t p = static_cast<size_t>(c.pos);
    if (dead[p] || id[p] != c.left_id) continue;
    const int32_t nx = next[p];
    if (nx < 0 || id[static_cast<size_t>(nx)] != c.right_id) continue;
    const MergeResult& m = merges_.find(pair_key(c.left_id, c.right_id))->second;
    id[p] = m.id;
    dead[static_cast<size_t>(nx)] = true;
    next[p] = next[static_cast<size_t>(nx)];
    if (next[p] >= 0) prev[static_cast<size_t>(next[p])] = c.pos;
    if (prev[p] >= 0) consider(prev[p]);
    consider(c.pos);
  }
  size_t w = 0;
  for (int32_t i = 0; i >= 0; i = next[static_cast<size_t>(i)]) id[w++] = id[static_cast<size_t>(i)];
  id.resize(w);
}

// tokenizers' ByteLevel decoder: if every character of the token is in the
// printable alphabet, each maps back to its byte; otherwise the token's text
// is used as it is. Byte tokens "<0xNN>" give their byte.
void BpeTokenizer::raw_piece(int32_t id, std::string* out) const {
  const std::string& t = tokens_[static_cast<size_t>(id)];
  uint8_t byte;
  if (types_[static_cast<size_t>(id)] == TokenType::Byte && parse_byte_token(t, &byte)) {
    out->push_back(static_cast<char>(byte));
    return;
  }
  if (!byte_level_) {
    if (!chain_) { out->append(t); return; }
    // One token through the tokenizer.json decoder chain, as a continuation
    // (the first-token rules are applied by Decoder / decode_all).
    chain_->decode({t}, /*whole=*/false, out);
    return;
  }
  const size_t start = out->size();
  size_t i = 0;
  while (i < t.size()) {
    auto it = char_byte_.find(next_codepoint(t, &i));
    if (it == char_byte_.end()) {
      out->resize(start);
      out->append(t);
      return;
    }
    out->push_back(static_cast<char>(it->second));
  }
}

bool BpeTokenizer::strips_dummy_prefix() const { return !byte_level_ && chain_ && chain_->strips_leading_space(); }

// tokenizers' decode: the token texts (special added tokens left out unless
// rendered) through the decoder chain. Without a chain (files converted
// before decoder_json was read) the piece-by-piece decode is used.
bool BpeTokenizer::decode_all(const int32_t* ids, size_t n, const DecodeOptions& opts, std::string* out) const {
  if (!chain_) return false;
  std::vector<std::string> toks;
  toks.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = ids[i];
    if (types_[static_cast<size_t>(id)] == TokenType::Control && !opts.render_special) continue;
    toks.push_back(tokens_[static_cast<size_t>(id)]);
  }
  std::string s;
  chain_->decode(std::move(toks), opts.strip_leading_space, &s);
  utf8::append_lossy(s, out, false);
  return true;
}

}  // namespace f8tok
