// kv_cells.h — KV cache cell bookkeeping shared by every backend's cache:
// which cells are used, the position each holds and the set of sequences
// that see it (see backend.h KVCache). Host memory only; a device backend
// mirrors cells [0, hi) to the device (the dirty range tells what changed).
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"

namespace f8backend {

// Validates cache params (shared by every backend's create_kv_cache).
Status check_kv_params(const KVCacheParams& p);

class KvCells {
 public:
  struct Cell {
    int32_t pos = -1;   // position of the token stored here (-1: free)
    uint64_t seqs = 0;  // bit s set: sequence s sees this cell; 0 = free
  };

  explicit KvCells(int32_t n_cells = 0) : cells_(n_cells) {}

  Status alloc(int32_t n, const int32_t* seq, const int32_t* pos, int32_t* cells_out);
  void seq_rm(int32_t seq, int32_t p0, int32_t p1);
  void seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1);
  void seq_keep(int32_t seq);
  void clear();
  int32_t seq_pos_max(int32_t seq) const;

  int32_t size() const { return static_cast<int32_t>(cells_.size()); }
  int32_t n_used() const { return n_used_; }
  int32_t hi() const { return hi_; }  // cells >= hi() are all free
  const std::vector<Cell>& cells() const { return cells_; }

  // Cells changed since the last take_dirty(): [lo, hi) (lo >= hi: none).
  void take_dirty(int32_t* lo, int32_t* hi) {
    *lo = dirty_lo_;
    *hi = dirty_hi_;
    dirty_lo_ = size();
    dirty_hi_ = 0;
  }

 private:
  void recount();
  void touch(int32_t c) {
    if (c < dirty_lo_) dirty_lo_ = c;
    if (c + 1 > dirty_hi_) dirty_hi_ = c + 1;
  }
  void touch_all() {
    dirty_lo_ = 0;
    dirty_hi_ = size();
  }

  std::vector<Cell> cells_;
  int32_t n_used_ = 0, hi_ = 0, head_ = 0;
  int32_t dirty_lo_ = 0, dirty_hi_ = 0x7fffffff;  // everything dirty at first
};

// A KVCache whose bookkeeping is a KvCells: every backend's cache derives
// from it and adds only its storage (and, on a device, the mirror).
class KvCacheBase : public KVCache {
 public:
  Status alloc_cells(int32_t n, const int32_t* seq, const int32_t* pos, int32_t* cells_out) override {
    return cells_.alloc(n, seq, pos, cells_out);
  }
  void seq_rm(int32_t seq, int32_t p0, int32_t p1) override { cells_.seq_rm(seq, p0, p1); }
  void seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) override { cells_.seq_cp(src, dst, p0, p1); }
  void seq_keep(int32_t seq) override { cells_.seq_keep(seq); }
  void clear() override { cells_.clear(); }
  int32_t seq_pos_max(int32_t seq) const override { return cells_.seq_pos_max(seq); }
  int32_t n_used() const override { return cells_.n_used(); }

 protected:
  KvCells cells_;
};

}  // namespace f8backend
