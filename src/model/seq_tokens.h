// seq_tokens.h — which token id each sequence holds at each position of the
// KV cache, so a caller can ask how much of a new prompt a sequence already
// holds (f8_kv_seq_common_prefix) and decode only the rest.
//
// Kept next to the cells' bookkeeping by Context and changed by the same
// operations (decode, seq_rm, seq_cp, seq_keep, clear); a position a
// sequence does not hold is -1. Host memory only: kMaxSeq vectors of int32,
// one entry per position up to the sequence's last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace f8model {

class SeqTokens {
 public:
  explicit SeqTokens(int32_t n_seq) : t_(size_t(n_seq > 0 ? n_seq : 0)) {}

  void set(int32_t seq, int32_t pos, int32_t token);
  void rm(int32_t seq, int32_t p0, int32_t p1);        // seq < 0: every sequence; p1 < 0: to the end
  void cp(int32_t src, int32_t dst, int32_t p0, int32_t p1);
  void keep(int32_t seq);
  void clear();
  // k such that seq holds tokens[0..k) at positions 0..k-1 (k <= n).
  size_t common_prefix(int32_t seq, const int32_t* tokens, size_t n) const;

 private:
  bool valid(int32_t seq) const { return seq >= 0 && size_t(seq) < t_.size(); }
  void trim(int32_t seq);  // drops trailing -1s

  std::vector<std::vector<int32_t>> t_;
};

}  // namespace f8model
