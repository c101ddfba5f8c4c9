// prefix_cache.h — automatic prefix caching over the shared KV pool.
//
// What a finished (or preempted) request decoded stays in the pool, in whole
// blocks of kBlock = 64 positions (one KV page's worth), and a new request
// whose prompt starts with the same tokens maps those cells instead of
// decoding them again.
//
// Entries. An entry is a sequence id of the context that no slot uses
// (ids n_slots .. F8_MAX_SEQ-1) holding positions [0, 64·blocks) of one token
// sequence, with a hash chain over its blocks: h[0] = H(seed, block 0),
// h[i] = H(h[i-1], block i). Two sequences share their first k blocks iff
// their h[k-1] are equal (the tokens are compared too, so a hash collision
// can never map wrong cells). Nothing but the token ids changes what a cell
// holds within one context: the KV scales are per layer and fixed when the
// context is created (weights' kv_scale, or the calibration pass on a fixed
// token set) or made from the cell's own values (per-token scales), K's
// centering mean is measured once per model on a fixed text, never from a
// prompt, and RoPE depends only on the position; so the chain hashes token
// ids only. The cache lives and dies
// with its context.
//
// Sharing without copying. Mapping an entry into a slot is Runtime::seq_cp
// (f8_kv_seq_cp): the slot's sequence also sees those cells. A shared cell is
// never written: the slot's next positions get cells of their own (a
// sequence's positions only grow, and seq_cp leaves the destination no open
// page), so what the entry holds stays valid for every later user. At most
// the prompt's length - 1 positions are mapped: the last prompt token is
// always decoded, for its logits; the rest after the last cached block (a
// partial last block) is recomputed. The blocks are positions, not pool
// pages: the cells of one block may lie anywhere in the pool (attention
// reads them in position order, docs/backend.md "Invariance"), which is why
// a reused prefix gives bit-identical logits on the CPU.
//
// Eviction. Entries hold cells that no running request is charged for. The
// scheduler calls evict_lru() while the pool has fewer free cells than the
// next batch needs: the least recently used entry (a map or keep touches it)
// is dropped. Cells an entry shares with a running slot or another entry
// stay until their last user lets go. An entry whose blocks another entry
// extends is dropped when the longer one is kept (its tokens are covered).
#pragma once

#include <cstdint>
#include <vector>

#include "server/runtime.h"

namespace f8srv {

struct PrefixCacheStats {
  int64_t lookups = 0;        // map() calls
  int64_t hits = 0;           // ... that mapped at least one block
  int64_t cached_tokens = 0;  // positions mapped instead of decoded
  int64_t evictions = 0;      // entries dropped for room
};

class PrefixCache {
 public:
  static constexpr int32_t kBlock = 64;  // positions per cached block (= KvCells::kPage)

  // ids: the sequence ids the cache may hold entries in (unused by slots).
  PrefixCache(Runtime* rt, std::vector<int32_t> ids);

  // Maps the longest cached prefix of tokens, in whole blocks and at most
  // max_tokens positions (cut inside a block when max_tokens falls there),
  // into sequence seq, which must hold nothing. Returns the positions
  // mapped (0: none; seq still empty).
  int32_t map(const std::vector<int32_t>& tokens, int32_t max_tokens, int32_t seq);
  // seq holds positions [0, n) with tokens[0..n): keeps its whole blocks as
  // an entry and clears seq (always cleared on return).
  void keep(int32_t seq, const std::vector<int32_t>& tokens, int32_t n);
  // Drops the least recently used entry; false when there is none.
  bool evict_lru();
  // Drops every entry.
  void clear();

  int32_t entries() const;
  int32_t cached_blocks() const;  // blocks over all entries (shared ones counted per entry)
  const PrefixCacheStats& stats() const { return stats_; }

  // Hash chain of the whole blocks of tokens[0..n) (exposed for tests).
  static std::vector<uint64_t> chain(const int32_t* tokens, int32_t n);

 private:
  struct Entry {
    int32_t id = -1;              // sequence id; -1: unused
    std::vector<int32_t> tokens;  // 64 * hashes.size() token ids
    std::vector<uint64_t> hashes; // the chain
    uint64_t used = 0;            // last map/keep tick (LRU)
  };
  // Blocks that e and (tokens, hashes) share from the start.
  static int32_t common_blocks(const Entry& e, const int32_t* tokens, const std::vector<uint64_t>& hashes);
  void drop(Entry& e);

  Runtime* rt_;
  std::vector<Entry> entries_;  // one per id
  uint64_t tick_ = 0;
  PrefixCacheStats stats_;
};

}  // namespace f8srv
