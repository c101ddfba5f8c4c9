// kv_cells.h — KV cache cell bookkeeping shared by every backend's cache:
// which cells are used, the position each holds and the set of sequences
// that see it (see backend.h KVCache), grouped into fixed-size pages.
//
// Paging. The cells form one pool shared by every sequence, cut into pages
// of kPage consecutive cells. Allocation keeps each sequence in pages of its
// own (a sequence fills its open page, then takes a wholly free page), so a
// sequence's tokens live in few pages and no sequence reserves memory it
// does not use. Per page the bookkeeping keeps a summary (the sequences that
// see any of its cells, how many cells are used, their position range), and
// per sequence the list of pages holding a cell it sees (the page table,
// ascending page order). Attention walks a token's sequence's page list and
// checks each cell of those pages, so it reads only that sequence's pages;
// seq_cp shares pages simply by adding the destination to their cells. When
// no wholly free page is left, allocation takes any free cell (pages then
// mix sequences: still correct, since visibility is checked per cell).
//
// Position order. Per sequence the bookkeeping also keeps the cells it sees
// sorted by position (seq_cells): attention walks them in position order,
// so its result depends on which (position, K, V) a token sees and not on
// where in the pool they are (docs/backend.md "Invariance"). A decode or
// prefill appends at the end of the list (positions of a sequence only
// grow, f8model::Context checks it); seq_rm / seq_cp / seq_keep rebuild.
//
// Host memory only; a device backend mirrors cells [0, hi), the page
// summaries and the page lists to the device (the dirty ranges and the
// lists' version tell what changed).
#pragma once

#include <climits>
#include <cstdint>
#include <vector>

#include "backend/backend.h"

namespace f8backend {

// Validates cache params (shared by every backend's create_kv_cache).
Status check_kv_params(const KVCacheParams& p);

class KvCells {
 public:
  static constexpr int32_t kPage = 64;  // cells per page (= the GPU attention chunk)

  struct Cell {
    int32_t pos = -1;   // position of the token stored here (-1: free)
    uint64_t seqs = 0;  // bit s set: sequence s sees this cell; 0 = free
  };
  // Summary of one page's used cells (an empty page: seqs 0, used 0,
  // pos_min INT32_MAX, pos_max -1).
  struct Page {
    uint64_t seqs = 0;        // OR of its cells' seqs
    int32_t used = 0;         // used cells
    int32_t pos_min = INT32_MAX, pos_max = -1;
  };

  explicit KvCells(int32_t n_cells = 0);

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

  int32_t n_pages() const { return static_cast<int32_t>(pages_.size()); }
  const std::vector<Page>& pages() const { return pages_; }
  // Pages holding a cell that sequence s (0..kMaxSeq-1) sees, ascending.
  const std::vector<int32_t>& seq_pages(int32_t s) const { return lists_[s]; }
  // Changes whenever any page list changes (a device mirror re-uploads them).
  uint64_t lists_version() const { return lists_version_; }
  // Cells that sequence s (0..kMaxSeq-1) sees, ascending by position (equal
  // positions, which only seq_cp onto a sequence that already holds them can
  // make, by cell index).
  const std::vector<int32_t>& seq_cells(int32_t s) const { return order_[s]; }
  // Changes whenever any seq_cells list changes.
  uint64_t order_version() const { return order_version_; }
  // The first index of seq_cells(s) that changed since the last call for s
  // (>= its size: none); a device mirror uploads from there.
  int32_t take_order_dirty(int32_t s) {
    const int32_t d = order_dirty_[s];
    order_dirty_[s] = INT32_MAX;
    return d;
  }
  // Cells [page_begin(p), page_end(p)) form page p.
  int32_t page_begin(int32_t p) const { return p * kPage; }
  int32_t page_end(int32_t p) const { return p * kPage + kPage < size() ? p * kPage + kPage : size(); }

  // Cells changed since the last take_dirty(): [lo, hi) (lo >= hi: none).
  // Pages of changed cells are [lo / kPage, (hi + kPage - 1) / kPage).
  void take_dirty(int32_t* lo, int32_t* hi) {
    *lo = dirty_lo_;
    *hi = dirty_hi_;
    dirty_lo_ = size();
    dirty_hi_ = 0;
  }

 private:
  void recount();                 // cells -> n_used, hi, every page summary and list
  int32_t take_cell(int32_t seq); // the cell the next token of seq goes to (one is free)
  void add_to_list(int32_t seq, int32_t page);
  void add_to_order(int32_t seq, int32_t cell);
  void touch(int32_t c) {
    if (c < dirty_lo_) dirty_lo_ = c;
    if (c + 1 > dirty_hi_) dirty_hi_ = c + 1;
  }
  void touch_all() {
    dirty_lo_ = 0;
    dirty_hi_ = size();
  }

  std::vector<Cell> cells_;
  std::vector<Page> pages_;
  std::vector<int32_t> lists_[kMaxSeq];
  std::vector<int32_t> order_[kMaxSeq];  // seq_cells
  int32_t order_dirty_[kMaxSeq];        // take_order_dirty
  uint64_t order_version_ = 0;
  int32_t open_[kMaxSeq];         // next cell to try in the sequence's open page, -1: none
  uint64_t lists_version_ = 0;
  int32_t n_used_ = 0, hi_ = 0, head_ = 0, page_head_ = 0;
  int32_t free_pages_ = 0;        // pages with no used cell (a full pool skips their search)
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

  const KvCells& bookkeeping() const { return cells_; }

 protected:
  KvCells cells_;
};

}  // namespace f8backend
