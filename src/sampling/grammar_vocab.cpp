// grammar_vocab.cpp — vocabulary trie and per-step token masks (grammar_vocab.h).
#include "sampling/grammar_vocab.h"

#include <algorithm>
#include <numeric>

namespace f8::sampling {

namespace {

bool never_utf8(const std::string& s) {
  for (char c : s) {
    uint8_t b = uint8_t(c);
    if (b == 0xC0 || b == 0xC1 || b >= 0xF5) return true;
  }
  return false;
}

}  // namespace

TokenTrie::TokenTrie(const std::vector<std::string>& pieces, const std::vector<bool>& control,
                     std::vector<int32_t> eog, int32_t n_logits)
    : eog_(std::move(eog)), n_logits_(std::max<int32_t>(n_logits, int32_t(pieces.size()))) {
  std::sort(eog_.begin(), eog_.end());
  spelling_.assign(pieces.size(), "");
  std::vector<int32_t> order;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (is_eog(int32_t(i))) continue;
    if (i < control.size() && control[i]) {
      spelling_[i] = control_token_bytes(int32_t(i));
    } else if (!pieces[i].empty() && !never_utf8(pieces[i])) {
      spelling_[i] = pieces[i];
    }
    if (!spelling_[i].empty()) order.push_back(int32_t(i));
  }
  // Depth-first order = the spellings in lexicographic (byte) order.
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const std::string& x = spelling_[size_t(a)];
    const std::string& y = spelling_[size_t(b)];
    return x != y ? x < y : a < b;
  });
  std::vector<int32_t> path;  // node index per depth - 1
  std::vector<std::pair<int32_t, int32_t>> node_tok;
  const std::string* prev = nullptr;
  for (int32_t id : order) {
    const std::string& s = spelling_[size_t(id)];
    size_t common = 0;
    if (prev)
      while (common < prev->size() && common < s.size() && (*prev)[common] == s[common]) ++common;
    while (path.size() > common) {  // close the subtrees we leave
      end_[size_t(path.back())] = int32_t(byte_.size());
      path.pop_back();
    }
    for (size_t k = common; k < s.size(); ++k) {
      path.push_back(int32_t(byte_.size()));
      byte_.push_back(uint8_t(s[k]));
      depth_.push_back(uint16_t(std::min<size_t>(k + 1, 65535)));
      end_.push_back(-1);
    }
    node_tok.push_back({path.back(), id});
    prev = &s;
  }
  while (!path.empty()) {
    end_[size_t(path.back())] = int32_t(byte_.size());
    path.pop_back();
  }
  for (uint16_t d : depth_) max_depth_ = std::max<int32_t>(max_depth_, d);
  tok_begin_.assign(byte_.size() + 1, 0);
  for (auto [node, id] : node_tok) ++tok_begin_[size_t(node) + 1];
  std::partial_sum(tok_begin_.begin(), tok_begin_.end(), tok_begin_.begin());
  toks_.resize(node_tok.size());
  std::vector<int32_t> fill(tok_begin_.begin(), tok_begin_.end() - 1);
  for (auto [node, id] : node_tok) toks_[size_t(fill[size_t(node)]++)] = id;
}

bool TokenTrie::is_eog(int32_t id) const { return std::binary_search(eog_.begin(), eog_.end(), id); }

void TokenTrie::walk(GrammarMatcher& m, int32_t state, uint64_t* bits) const {
  // st[d]: the state after the first d bytes of the current path.
  std::vector<int32_t> st(size_t(max_depth_) + 1);
  st[0] = state;
  const int32_t n = n_nodes();
  const uint8_t* byte = byte_.data();
  const uint16_t* depth = depth_.data();
  const int32_t* end = end_.data();
  const int32_t* tb = tok_begin_.data();
  for (int32_t i = 0; i < n;) {
    uint16_t d = depth[i];
    int32_t s = m.step(st[d - 1u], byte[i]);
    if (s == GrammarMatcher::kDead) {
      i = end[i];
      continue;
    }
    st[d] = s;
    for (int32_t k = tb[i]; k < tb[i + 1]; ++k) {
      int32_t t = toks_[size_t(k)];
      bits[t >> 6] |= uint64_t(1) << (t & 63);
    }
    ++i;
  }
  if (m.accepting(state))
    for (int32_t t : eog_)
      if (t >= 0 && t < n_logits_) bits[t >> 6] |= uint64_t(1) << (t & 63);
}

GrammarConstraint::GrammarConstraint(std::shared_ptr<const Grammar> g, std::shared_ptr<const TokenTrie> trie)
    : m_(std::move(g)),
      trie_(std::move(trie)),
      words_((size_t(trie_->n_logits()) + 63) / 64),
      max_masks_(std::max<size_t>(64, kCacheBytes / (words_ * sizeof(uint64_t)))) {}

const uint64_t* GrammarConstraint::mask() {
  if (epoch_ != m_.epoch()) {
    lru_.clear();
    index_.clear();
    epoch_ = m_.epoch();
  }
  int32_t s = m_.state();
  auto it = index_.find(s);
  if (it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return lru_.front().second.data();
  }
  std::vector<uint64_t> bits;
  if (lru_.size() >= max_masks_) {
    bits = std::move(lru_.back().second);
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  bits.assign(words_, 0);
  trie_->walk(m_, s, bits.data());
  lru_.emplace_front(s, std::move(bits));
  index_[s] = lru_.begin();
  return lru_.front().second.data();
}

bool GrammarConstraint::accept(int32_t token) {
  if (token < 0 || token >= trie_->n_logits()) return false;
  if (trie_->is_eog(token)) return accepting();
  const std::string& sp = trie_->spelling(token);
  if (sp.empty()) return false;
  if (!m_.advance(sp)) return false;
  m_.maybe_compact();
  return true;
}

void GrammarConstraint::reset() { m_.reset(); }

}  // namespace f8::sampling
