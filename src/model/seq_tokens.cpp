// seq_tokens.cpp — token ids held per sequence and position (see seq_tokens.h).
#include "model/seq_tokens.h"

#include <algorithm>

namespace f8model {

void SeqTokens::set(int32_t seq, int32_t pos, int32_t token) {
  if (!valid(seq) || pos < 0) return;
  auto& v = t_[size_t(seq)];
  if (v.size() <= size_t(pos)) v.resize(size_t(pos) + 1, -1);
  v[size_t(pos)] = token;
}

void SeqTokens::trim(int32_t seq) {
  auto& v = t_[size_t(seq)];
  while (!v.empty() && v.back() < 0) v.pop_back();
}

void SeqTokens::rm(int32_t seq, int32_t p0, int32_t p1) {
  if (seq < 0) {
    for (int32_t s = 0; s < int32_t(t_.size()); ++s) rm(s, p0, p1);
    return;
  }
  if (!valid(seq)) return;
  auto& v = t_[size_t(seq)];
  const size_t a = size_t(std::max(p0, 0));
  const size_t b = p1 < 0 ? v.size() : std::min(v.size(), size_t(p1));
  for (size_t p = a; p < b; ++p) v[p] = -1;
  trim(seq);
}

void SeqTokens::cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) {
  if (!valid(src) || !valid(dst) || src == dst) return;
  const auto& s = t_[size_t(src)];
  const size_t a = size_t(std::max(p0, 0));
  const size_t b = p1 < 0 ? s.size() : std::min(s.size(), size_t(p1));
  for (size_t p = a; p < b; ++p)
    if (s[p] >= 0) set(dst, int32_t(p), s[p]);
}

void SeqTokens::keep(int32_t seq) {
  for (int32_t s = 0; s < int32_t(t_.size()); ++s)
    if (s != seq) t_[size_t(s)].clear();
}

void SeqTokens::clear() {
  for (auto& v : t_) v.clear();
}

size_t SeqTokens::common_prefix(int32_t seq, const int32_t* tokens, size_t n) const {
  if (!valid(seq) || !tokens) return 0;
  const auto& v = t_[size_t(seq)];
  size_t k = 0;
  while (k < n && k < v.size() && v[k] >= 0 && v[k] == tokens[k]) ++k;
  return k;
}

}  // namespace f8model
