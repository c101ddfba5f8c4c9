// prefix_cache.cpp — automatic prefix caching (see prefix_cache.h).
#include "server/prefix_cache.h"

#include <algorithm>
#include <cstring>

namespace f8srv {

namespace {

// splitmix64's finalizer: a cheap mix with full avalanche.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

PrefixCache::PrefixCache(Runtime* rt, std::vector<int32_t> ids) : rt_(rt) {
  for (int32_t id : ids) {
    Entry e;
    e.id = id;
    entries_.push_back(std::move(e));
  }
}

std::vector<uint64_t> PrefixCache::chain(const int32_t* tokens, int32_t n) {
  std::vector<uint64_t> h(size_t(std::max(n, 0) / kBlock));
  uint64_t prev = 0x66385f7072656678ULL;  // "f8_prefx": the chain's seed
  for (size_t b = 0; b < h.size(); ++b) {
    uint64_t x = prev;
    for (int32_t i = 0; i < kBlock; ++i) x = mix(x ^ uint32_t(tokens[b * kBlock + size_t(i)]));
    h[b] = prev = x;
  }
  return h;
}

int32_t PrefixCache::common_blocks(const Entry& e, const int32_t* tokens, const std::vector<uint64_t>& hashes) {
  size_t k = 0;
  const size_t n = std::min(e.hashes.size(), hashes.size());
  while (k < n && e.hashes[k] == hashes[k]) ++k;
  // Equal chains mean equal tokens but for a 2^-64 collision: check, so a
  // collision costs a miss, never wrong cells.
  for (size_t b = 0; b < k; ++b)
    if (std::memcmp(e.tokens.data() + b * kBlock, tokens + b * kBlock, kBlock * sizeof(int32_t)) != 0) return int32_t(b);
  return int32_t(k);
}

int32_t PrefixCache::entries() const {
  int32_t n = 0;
  for (const Entry& e : entries_) n += !e.hashes.empty();
  return n;
}

int32_t PrefixCache::cached_blocks() const {
  int32_t n = 0;
  for (const Entry& e : entries_) n += int32_t(e.hashes.size());
  return n;
}

int32_t PrefixCache::map(const std::vector<int32_t>& tokens, int32_t max_tokens, int32_t seq) {
  ++stats_.lookups;
  max_tokens = std::min<int32_t>(max_tokens, int32_t(tokens.size()));
  if (max_tokens <= 0) return 0;
  // Blocks that reach max_tokens (the last may be cut there).
  const int32_t nb = std::min<int32_t>((max_tokens + kBlock - 1) / kBlock, int32_t(tokens.size()) / kBlock);
  const std::vector<uint64_t> h = chain(tokens.data(), nb * kBlock);
  Entry* best = nullptr;
  int32_t best_blocks = 0;
  for (Entry& e : entries_) {
    if (e.hashes.empty()) continue;
    const int32_t c = common_blocks(e, tokens.data(), h);
    if (c > best_blocks || (c == best_blocks && c > 0 && e.used > best->used)) {
      best = &e;
      best_blocks = c;
    }
  }
  const int32_t m = std::min(best_blocks * kBlock, max_tokens);
  if (!best || m <= 0) return 0;
  if (!rt_->seq_cp(best->id, seq, 0, m)) {
    rt_->seq_clear(seq);
    return 0;
  }
  best->used = ++tick_;
  ++stats_.hits;
  stats_.cached_tokens += m;
  return m;
}

void PrefixCache::keep(int32_t seq, const std::vector<int32_t>& tokens, int32_t n) {
  n = std::min<int32_t>(n, int32_t(tokens.size()));
  const int32_t nb = std::max(n, 0) / kBlock;
  if (nb == 0 || entries_.empty()) {
    rt_->seq_clear(seq);
    return;
  }
  const std::vector<uint64_t> h = chain(tokens.data(), nb * kBlock);
  for (Entry& e : entries_) {
    if (e.hashes.empty()) continue;
    const int32_t c = common_blocks(e, tokens.data(), h);
    if (c == nb) {  // already cached (this request mapped it, or an equal one kept it)
      e.used = ++tick_;
      rt_->seq_clear(seq);
      return;
    }
    // The new entry extends e: e's tokens are covered, its cells not needed.
    if (c == int32_t(e.hashes.size())) drop(e);
  }
  Entry* slot = nullptr;
  for (Entry& e : entries_)
    if (e.hashes.empty()) {
      slot = &e;
      break;
    }
  if (!slot && evict_lru())
    for (Entry& e : entries_)
      if (e.hashes.empty()) {
        slot = &e;
        break;
      }
  if (slot && rt_->seq_cp(seq, slot->id, 0, nb * kBlock)) {
    slot->tokens.assign(tokens.begin(), tokens.begin() + size_t(nb) * kBlock);
    slot->hashes = h;
    slot->used = ++tick_;
  }
  rt_->seq_clear(seq);
}

void PrefixCache::drop(Entry& e) {
  rt_->seq_clear(e.id);
  e.tokens.clear();
  e.hashes.clear();
  e.used = 0;
}

bool PrefixCache::evict_lru() {
  Entry* lru = nullptr;
  for (Entry& e : entries_)
    if (!e.hashes.empty() && (!lru || e.used < lru->used)) lru = &e;
  if (!lru) return false;
  drop(*lru);
  ++stats_.evictions;
  return true;
}

void PrefixCache::clear() {
  for (Entry& e : entries_)
    if (!e.hashes.empty()) drop(e);
}

}  // namespace f8srv
