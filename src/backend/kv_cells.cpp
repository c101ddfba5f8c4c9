// kv_cells.cpp — KV cell bookkeeping (see kv_cells.h).
#include "backend/kv_cells.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace f8backend {

// Shapes > 0, a dtype every backend stores, per-layer scales finite and > 0.
Status check_kv_params(const KVCacheParams& p) {
  auto bad = [](const std::string& m) { return Status::Error(Code::InvalidArgument, "kv cache: " + m); };
  if (p.n_layers <= 0 || p.n_cells <= 0 || p.n_kv_heads <= 0 || p.head_dim <= 0)
    return bad("n_layers, n_cells, n_kv_heads and head_dim must be > 0");
  if (p.mla_kv_lora < 0 || (p.mla_kv_lora > 0 && (p.n_kv_heads != 1 || p.head_dim <= p.mla_kv_lora)))
    return bad("a latent (MLA) cache needs n_kv_heads = 1 and head_dim = kv_lora_rank + rope dims > mla_kv_lora");
  switch (p.dtype) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::E4M3: case DType::E5M2: case DType::I8: break;
    default:
      return Status::Error(Code::Unsupported, std::string("kv cache: dtype ") +
                                                  ggf8::dtype_name(p.dtype) + " (want e4m3/e5m2/bf16/f16/f32/i8)");
  }
  if (p.token_scales && ((p.dtype != DType::E4M3 && p.dtype != DType::I8) || p.mla_kv_lora > 0))
    return bad("per-token scales (token_scales) need an E4M3 or I8 cache of K and V heads (not e5m2/16/32-bit, not "
               "MLA)");
  if (p.dtype == DType::I8 && !p.token_scales) return bad("an I8 (INT8) cache needs token_scales");
  if (!p.k_center.empty()) {
    if (!p.token_scales) return bad("k_center (K centering) needs token_scales");
    const size_t want = size_t(p.n_layers) * size_t(p.n_kv_heads) * size_t(p.head_dim);
    if (p.k_center.size() != want || p.k_center_rope.size() != size_t(p.n_layers))
      return bad("k_center must have n_layers * n_kv_heads * head_dim (" + std::to_string(want) +
                 ") values and k_center_rope n_layers entries");
    for (float x : p.k_center)
      if (!std::isfinite(x)) return bad("k_center values must be finite");
    for (const RopeParams& r : p.k_center_rope)
      if (r.head_dim != p.head_dim || r.n_rot < 0 || r.n_rot > p.head_dim || r.n_rot % 2 != 0)
        return bad("k_center_rope: head_dim must match the cache's and n_rot be even and <= head_dim");
  }
  for (const auto* v : {&p.k_scale, &p.v_scale}) {
    if (!v->empty() && static_cast<int32_t>(v->size()) != p.n_layers)
      return bad("k_scale/v_scale must have n_layers (" + std::to_string(p.n_layers) + ") entries, got " +
                 std::to_string(v->size()));
    for (float s : *v)
      if (!(s > 0) || !std::isfinite(s)) return bad("k_scale/v_scale entries must be finite and > 0");
  }
  return Status::Ok();
}

KvCells::KvCells(int32_t n_cells)
    : cells_(n_cells > 0 ? n_cells : 0), pages_((std::max(n_cells, 0) + kPage - 1) / kPage) {
  for (auto& o : open_) o = -1;
  for (auto& d : order_dirty_) d = 0;
  free_pages_ = n_pages();
}

void KvCells::add_to_list(int32_t seq, int32_t page) {
  auto& l = lists_[seq];
  // Pages are usually taken in ascending order: appending is the common case.
  if (l.empty() || l.back() < page) {
    l.push_back(page);
  } else {
    auto it = std::lower_bound(l.begin(), l.end(), page);
    if (it != l.end() && *it == page) return;
    l.insert(it, page);
  }
  ++lists_version_;
}

// Inserts cell into seq's position order: appended in the usual case (a
// position after every other of the sequence).
void KvCells::add_to_order(int32_t seq, int32_t cell) {
  auto& o = order_[seq];
  const int32_t p = cells_[cell].pos;
  int32_t at = static_cast<int32_t>(o.size());
  if (o.empty() || cells_[o.back()].pos < p || (cells_[o.back()].pos == p && o.back() < cell)) {
    o.push_back(cell);
  } else {
    auto it = std::upper_bound(o.begin(), o.end(), cell, [&](int32_t a, int32_t b) {
      return cells_[a].pos != cells_[b].pos ? cells_[a].pos < cells_[b].pos : a < b;
    });
    at = static_cast<int32_t>(it - o.begin());
    o.insert(it, cell);
  }
  order_dirty_[seq] = std::min(order_dirty_[seq], at);
  ++order_version_;
}

// The sequence's open page first (the next cell after its last token, while
// it stays in the same page), then the first wholly free page from a moving
// head, then (no free page left) the first free cell from a moving head.
int32_t KvCells::take_cell(int32_t seq) {
  const int32_t n = size();
  for (int32_t c = open_[seq]; c >= 0 && c < n && c / kPage == open_[seq] / kPage; ++c)
    if (cells_[c].seqs == 0) return c;
  const int32_t np = free_pages_ > 0 ? n_pages() : 0;
  for (int32_t i = 0; i < np; ++i) {
    const int32_t p = (page_head_ + i) % np;
    if (pages_[p].used == 0) {
      page_head_ = (p + 1) % np;
      return page_begin(p);
    }
  }
  int32_t c = head_;
  while (cells_[c].seqs != 0) c = (c + 1) % n;
  head_ = (c + 1) % n;
  return c;
}

Status KvCells::alloc(int32_t n, const int32_t* seq, const int32_t* pos, int32_t* cells_out) {
  if (n < 0) return Status::Error(Code::InvalidArgument, "kv alloc_cells: n < 0");
  for (int32_t i = 0; i < n; ++i) {
    if (seq[i] < 0 || seq[i] >= kMaxSeq)
      return Status::Error(Code::InvalidArgument, "kv alloc_cells: seq id " + std::to_string(seq[i]) +
                                                      " outside [0, " + std::to_string(kMaxSeq) + ")");
    if (pos[i] < 0)
      return Status::Error(Code::InvalidArgument, "kv alloc_cells: negative position " + std::to_string(pos[i]));
  }
  const int32_t n_cells = size();
  if (n > n_cells - n_used_)
    return Status::Error(Code::CacheFull, "kv cache full: " + std::to_string(n) + " cells wanted, " +
                                              std::to_string(n_cells - n_used_) + " free of " +
                                              std::to_string(n_cells));
  for (int32_t i = 0; i < n; ++i) {
    const int32_t s = seq[i];
    const int32_t c = take_cell(s);
    const uint64_t bit = uint64_t{1} << s;
    cells_[c].pos = pos[i];
    cells_[c].seqs = bit;
    cells_out[i] = c;
    open_[s] = (c + 1) % kPage ? c + 1 : -1;  // a full page closes
    Page& pg = pages_[c / kPage];
    if (pg.used++ == 0) --free_pages_;
    pg.pos_min = std::min(pg.pos_min, pos[i]);
    pg.pos_max = std::max(pg.pos_max, pos[i]);
    if (!(pg.seqs & bit)) {
      pg.seqs |= bit;
      add_to_list(s, c / kPage);
    }
    add_to_order(s, c);
    touch(c);
    hi_ = std::max(hi_, c + 1);
  }
  n_used_ += n;
  return Status::Ok();
}

void KvCells::recount() {
  n_used_ = 0;
  hi_ = 0;
  for (auto& pg : pages_) pg = Page{};
  for (auto& l : lists_) l.clear();
  for (int32_t c = 0; c < size(); ++c) {
    Cell& cell = cells_[c];
    if (!cell.seqs) {
      cell.pos = -1;
      continue;
    }
    ++n_used_;
    hi_ = c + 1;
    Page& pg = pages_[c / kPage];
    ++pg.used;
    pg.seqs |= cell.seqs;
    pg.pos_min = std::min(pg.pos_min, cell.pos);
    pg.pos_max = std::max(pg.pos_max, cell.pos);
  }
  free_pages_ = 0;
  for (int32_t p = 0; p < n_pages(); ++p) {
    free_pages_ += pages_[p].used == 0;
    for (uint64_t m = pages_[p].seqs; m; m &= m - 1) lists_[__builtin_ctzll(m)].push_back(p);
  }
  ++lists_version_;
  // Position order: cells in index order, then a stable sort by position.
  for (auto& o : order_) o.clear();
  for (int32_t c = 0; c < hi_; ++c)
    for (uint64_t m = cells_[c].seqs; m; m &= m - 1) order_[__builtin_ctzll(m)].push_back(c);
  auto by_pos = [&](int32_t a, int32_t b) { return cells_[a].pos < cells_[b].pos; };
  for (auto& o : order_)
    if (!std::is_sorted(o.begin(), o.end(), by_pos)) std::stable_sort(o.begin(), o.end(), by_pos);
  for (auto& d : order_dirty_) d = 0;
  ++order_version_;
  if (n_used_ == 0) head_ = page_head_ = 0;
}

void KvCells::seq_rm(int32_t seq, int32_t p0, int32_t p1) {
  if (seq >= kMaxSeq) return;
  const uint64_t mask = seq < 0 ? ~uint64_t{0} : uint64_t{1} << seq;
  for (auto& cell : cells_)
    if ((cell.seqs & mask) && cell.pos >= p0 && (p1 < 0 || cell.pos < p1)) cell.seqs &= ~mask;
  // A sequence that lost cells reopens no page: its next token starts a fresh one
  // (the cells after its open cell may now be another sequence's to reuse).
  if (seq < 0) {
    for (auto& o : open_) o = -1;
  } else {
    open_[seq] = -1;
  }
  recount();
  touch_all();
}

void KvCells::seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) {
  if (src < 0 || src >= kMaxSeq || dst < 0 || dst >= kMaxSeq || src == dst) return;
  for (auto& cell : cells_)
    if (((cell.seqs >> src) & 1) && cell.pos >= p0 && (p1 < 0 || cell.pos < p1))
      cell.seqs |= uint64_t{1} << dst;
  open_[dst] = -1;  // the shared pages stay src's to fill; dst's new tokens take their own
  recount();
  touch_all();
}

void KvCells::seq_keep(int32_t seq) {
  const uint64_t mask = (seq >= 0 && seq < kMaxSeq) ? uint64_t{1} << seq : 0;
  for (auto& cell : cells_) cell.seqs &= mask;
  for (int32_t s = 0; s < kMaxSeq; ++s)
    if (s != seq) open_[s] = -1;
  recount();
  touch_all();
}

void KvCells::clear() {
  for (auto& cell : cells_) cell = Cell{};
  for (auto& o : open_) o = -1;
  recount();
  head_ = page_head_ = 0;
  touch_all();
}

int32_t KvCells::seq_pos_max(int32_t seq) const {
  if (seq < 0 || seq >= kMaxSeq) return -1;
  int32_t m = -1;
  for (int32_t p : lists_[seq]) {
    if (pages_[p].pos_max <= m) continue;
    for (int32_t c = page_begin(p); c < page_end(p); ++c)
      if ((cells_[c].seqs >> seq) & 1) m = std::max(m, cells_[c].pos);
  }
  return m;
}

}  // namespace f8backend
