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
  switch (p.dtype) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::E4M3: case DType::E5M2: break;
    default:
      return Status::Error(Code::Unsupported, std::string("kv cache: dtype ") +
                                                  ggf8::dtype_name(p.dtype) + " (want e4m3/e5m2/bf16/f16/f32)");
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
  // First fit from a moving head keeps a single sequence contiguous.
  int32_t c = head_;
  for (int32_t i = 0; i < n; ++i) {
    while (cells_[c].seqs != 0) c = (c + 1) % n_cells;
    cells_[c].pos = pos[i];
    cells_[c].seqs = uint64_t{1} << seq[i];
    cells_out[i] = c;
    touch(c);
    hi_ = std::max(hi_, c + 1);
    c = (c + 1) % n_cells;
  }
  head_ = c;
  n_used_ += n;
  return Status::Ok();
}

void KvCells::recount() {
  n_used_ = 0;
  hi_ = 0;
  for (int32_t c = 0; c < size(); ++c) {
    if (cells_[c].seqs) {
      ++n_used_;
      hi_ = c + 1;
    } else {
      cells_[c].pos = -1;
    }
  }
  if (n_used_ == 0) head_ = 0;
}

void KvCells::seq_rm(int32_t seq, int32_t p0, int32_t p1) {
  if (seq >= kMaxSeq) return;
  const uint64_t mask = seq < 0 ? ~uint64_t{0} : uint64_t{1} << seq;
  for (auto& cell : cells_)
    if ((cell.seqs & mask) && cell.pos >= p0 && (p1 < 0 || cell.pos < p1)) cell.seqs &= ~mask;
  recount();
  touch_all();
}

void KvCells::seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) {
  if (src < 0 || src >= kMaxSeq || dst < 0 || dst >= kMaxSeq || src == dst) return;
  for (auto& cell : cells_)
    if (((cell.seqs >> src) & 1) && cell.pos >= p0 && (p1 < 0 || cell.pos < p1))
      cell.seqs |= uint64_t{1} << dst;
  touch_all();
}

void KvCells::seq_keep(int32_t seq) {
  const uint64_t mask = (seq >= 0 && seq < kMaxSeq) ? uint64_t{1} << seq : 0;
  for (auto& cell : cells_) cell.seqs &= mask;
  recount();
  touch_all();
}

void KvCells::clear() {
  for (auto& cell : cells_) cell = Cell{};
  n_used_ = hi_ = head_ = 0;
  touch_all();
}

int32_t KvCells::seq_pos_max(int32_t seq) const {
  if (seq < 0 || seq >= kMaxSeq) return -1;
  int32_t m = -1;
  for (int32_t c = 0; c < hi_; ++c)
    if ((cells_[c].seqs >> seq) & 1) m = std::max(m, cells_[c].pos);
  return m;
}

}  // namespace f8backend
