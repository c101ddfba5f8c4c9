// cuda_kv.cpp — CudaKVCache (see cuda_kv.h).
#include "backend/cuda/cuda_kv.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "backend/cpu/cpu_common.h"
#include "backend/cuda/cuda_backend.h"

namespace f8backend::cuda {

namespace {
// meta_ layout: pos int32[n_cells], hi int32, (pad to 8), seqs u64[n_cells],
// k_scale f32[n_layers], v_scale f32[n_layers].
size_t seqs_offset(int32_t n_cells) { return round_up((size_t(n_cells) + 1) * 4, 8); }
size_t meta_bytes(const KVCacheParams& p) {
  return seqs_offset(p.n_cells) + size_t(p.n_cells) * 8 + 2 * size_t(p.n_layers) * 4;
}
// pages_ layout (ints): pos_min[np], pos_max[np], list_off[65], list_pages[np * 64].
size_t n_pages_of(const KVCacheParams& p) { return (size_t(p.n_cells) + f8k::kKvPage - 1) / f8k::kKvPage; }
size_t pages_ints(const KVCacheParams& p) {
  const size_t np = n_pages_of(p);
  return 2 * np + f8k::kKvMaxSeq + 1 + np * f8k::kKvMaxSeq;
}
// K and V; a latent (MLA) cache has its rows in K and no V.
size_t storage_bytes(const KVCacheParams& p) {
  return (p.mla_kv_lora ? 1 : 2) * size_t(p.n_layers) * size_t(p.n_cells) * size_t(p.n_kv_heads) * size_t(p.head_dim) *
         cpu::elem_size(p.dtype);
}
// token_scales: the BF16 scales of K and V, [n_layers][n_cells][n_kv_heads] uint16 each.
size_t ts_bytes(const KVCacheParams& p) {
  return p.token_scales ? size_t(p.n_layers) * size_t(p.n_cells) * size_t(p.n_kv_heads) * sizeof(uint16_t) : 0;
}
}  // namespace

// order_ (position lists): lengths [64] then one row of n_cells per sequence.
size_t order_ints(const KVCacheParams& p) {
  return p.position_lists ? size_t(f8k::kKvMaxSeq) * (1 + size_t(p.n_cells)) : 0;
}

size_t CudaKVCache::device_bytes(const KVCacheParams& p) {
  return storage_bytes(p) + 2 * ts_bytes(p) + meta_bytes(p) + pages_ints(p) * 4 + order_ints(p) * 4;
}

Status CudaKVCache::create(const CudaBackend& be, const KVCacheParams& p, std::unique_ptr<KVCache>* out) {
  if (Status s = check_kv_params(p); !s.ok()) return s;
  if (p.dtype == DType::I8 || !p.k_center.empty())
    return Status::Error(Code::Unsupported, "kv cache: the INT8 cache and K centering (--kv-type int8, the fp8 "
                                            "default's centering) run on the CPU backends only");
  // (A latent cache's rows, R + P = 576 for DeepSeek-V3, are read by the
  // MLA kernels only, which have no head_dim limit.)
  if (!p.mla_kv_lora && (p.head_dim > 2 * f8k::kMaxRopeHalf || p.head_dim % 2))
    return Status::Error(Code::Unsupported, "kv cache: head_dim " + std::to_string(p.head_dim) +
                                                ": the CUDA backend needs an even head_dim <= 512");
  const size_t half = storage_bytes(p) / (p.mla_kv_lora ? 1 : 2);  // K's bytes (V's the same, or none)
  if (half / size_t(p.n_layers) / size_t(p.n_cells) != size_t(p.n_kv_heads) * p.head_dim * cpu::elem_size(p.dtype))
    return Status::Error(Code::OutOfMemory, "kv cache: size overflow");
  if (Status s = be.use(); !s.ok()) return s;
  size_t fr = 0, tot = 0;
  be.memory(&fr, &tot);
  const size_t need = device_bytes(p);
  if (tot && need > fr)
    return Status::Error(Code::OutOfMemory, "kv cache of " + std::to_string(p.n_cells) + " cells needs " + mib(need) +
                                                " but " + be.device().name + " has " + mib(fr) +
                                                " free (use a smaller --ctx or --kv-type fp8)");
  std::unique_ptr<CudaKVCache> c(new CudaKVCache());
  c->p_ = p;
  c->cells_ = KvCells(p.n_cells);
  c->kv_bytes_ = storage_bytes(p) + 2 * ts_bytes(p);
  c->seqs_off_ = seqs_offset(p.n_cells);
  const int dev = be.device().index;
  if (Status s = DeviceBuffer::create(dev, half, &c->k_); !s.ok()) return s;
  if (Status s = DeviceBuffer::create(dev, p.mla_kv_lora ? 256 : half, &c->v_); !s.ok()) return s;
  if (Status s = DeviceBuffer::create(dev, meta_bytes(p), &c->meta_); !s.ok()) return s;
  if (p.token_scales) {  // scales start at 0 (a cell is read only after its store writes them)
    if (Status s = DeviceBuffer::create(dev, ts_bytes(p), &c->k_ts_); !s.ok()) return s;
    if (Status s = DeviceBuffer::create(dev, ts_bytes(p), &c->v_ts_); !s.ok()) return s;
    F8_CUDA_TRY(cudaMemset(c->k_ts_->data(), 0, ts_bytes(p)), "kv cache: cudaMemset(k scales)");
    F8_CUDA_TRY(cudaMemset(c->v_ts_->data(), 0, ts_bytes(p)), "kv cache: cudaMemset(v scales)");
  }
  if (Status s = c->mirror_.alloc(c->seqs_off_ + size_t(p.n_cells) * 8); !s.ok()) return s;
  if (Status s = DeviceBuffer::create(dev, pages_ints(p) * 4, &c->pages_); !s.ok()) return s;
  if (Status s = c->pages_mirror_.alloc(pages_ints(p) * 4); !s.ok()) return s;
  F8_CUDA_TRY(cudaEventCreateWithFlags(&c->copied_, cudaEventDisableTiming), "cudaEventCreate");
  {  // Empty pages (min > max) and empty lists; sync() uploads every page on its first call.
    const size_t np = n_pages_of(p);
    auto* m = static_cast<int32_t*>(c->pages_mirror_.data());
    for (size_t i = 0; i < np; ++i) m[i] = INT32_MAX, m[np + i] = -1;
    for (int i = 0; i <= f8k::kKvMaxSeq; ++i) m[2 * np + i] = 0;
    F8_CUDA_TRY(cudaMemcpy(c->pages_->data(), m, (2 * np + f8k::kKvMaxSeq + 1) * 4, cudaMemcpyHostToDevice),
                "kv cache: pages");
    c->lists_version_ = c->cells_.lists_version();
  }

  // Scales: 1.0 for non-FP8 caches (the kernels multiply unconditionally)
  // and with per-token scales (the per-row scales carry them).
  const bool fp8 = (p.dtype == DType::E4M3 || p.dtype == DType::E5M2) && !p.token_scales;
  std::vector<float> sc(2 * size_t(p.n_layers), 1.0f);
  for (int32_t l = 0; l < p.n_layers; ++l) {
    if (fp8 && !p.k_scale.empty()) sc[l] = p.k_scale[l];
    if (fp8 && !p.v_scale.empty()) sc[p.n_layers + l] = p.v_scale[l];
  }
  uint8_t* meta = static_cast<uint8_t*>(c->meta_->data());
  const size_t sc_off = c->seqs_off_ + size_t(p.n_cells) * 8;
  F8_CUDA_TRY(cudaMemcpy(meta + sc_off, sc.data(), sc.size() * 4, cudaMemcpyHostToDevice), "kv cache: scales");
  // Free cells: pos -1, seqs 0, hi 0.
  F8_CUDA_TRY(cudaMemset(meta, 0xFF, size_t(p.n_cells) * 4), "kv cache: cudaMemset");
  F8_CUDA_TRY(cudaMemset(meta + size_t(p.n_cells) * 4, 0, c->seqs_off_ - size_t(p.n_cells) * 4 +
                                                          size_t(p.n_cells) * 8),
              "kv cache: cudaMemset");
  int32_t lo, hi;
  c->cells_.take_dirty(&lo, &hi);  // the device already matches the empty cache

  f8k::DevKv& d = c->dev_;
  d.k = static_cast<uint8_t*>(c->k_->data());
  d.v = static_cast<uint8_t*>(c->v_->data());
  d.type = to_elem(p.dtype);
  d.n_layers = p.n_layers;
  d.n_cells = p.n_cells;
  d.n_kv_heads = p.n_kv_heads;
  d.head_dim = p.head_dim;
  d.cell_pos = reinterpret_cast<const int32_t*>(meta);
  d.hi = reinterpret_cast<const int32_t*>(meta + size_t(p.n_cells) * 4);
  d.cell_seqs = reinterpret_cast<const unsigned long long*>(meta + c->seqs_off_);
  d.k_scale = reinterpret_cast<const float*>(meta + sc_off);
  d.v_scale = d.k_scale + p.n_layers;
  if (p.token_scales) {
    d.k_ts = static_cast<uint16_t*>(c->k_ts_->data());
    d.v_ts = static_cast<uint16_t*>(c->v_ts_->data());
  }
  const auto* pg = static_cast<const int32_t*>(c->pages_->data());
  const size_t np = n_pages_of(p);
  d.n_pages = static_cast<int32_t>(np);
  d.page_pos_min = pg;
  d.page_pos_max = pg + np;
  d.list_off = pg + 2 * np;
  d.list_pages = pg + 2 * np + f8k::kKvMaxSeq + 1;
  if (p.position_lists) {  // empty lists; sync() uploads each sequence's from its first change
    if (Status s = DeviceBuffer::create(dev, order_ints(p) * 4, &c->order_); !s.ok()) return s;
    if (Status s = c->order_mirror_.alloc(order_ints(p) * 4); !s.ok()) return s;
    std::memset(c->order_mirror_.data(), 0, size_t(f8k::kKvMaxSeq) * 4);
    F8_CUDA_TRY(cudaMemset(c->order_->data(), 0, size_t(f8k::kKvMaxSeq) * 4), "kv cache: cudaMemset(order)");
    const auto* o = static_cast<const int32_t*>(c->order_->data());
    d.order_len = o;
    d.order_cells = o + f8k::kKvMaxSeq;
  }
  *out = std::move(c);
  return Status::Ok();
}

CudaKVCache::~CudaKVCache() {
  if (copied_) {
    cudaEventSynchronize(copied_);
    cudaEventDestroy(copied_);
  }
}

Status CudaKVCache::sync(cudaStream_t stream) {
  int32_t lo, hi;
  cells_.take_dirty(&lo, &hi);
  hi = std::min(hi, cells_.size());
  // The previous copy out of the mirror must be done before it is rewritten.
  F8_CUDA_TRY(cudaEventSynchronize(copied_), "kv sync: cudaEventSynchronize");
  auto* mpos = static_cast<int32_t*>(mirror_.data());
  auto* mhi = mpos + p_.n_cells;
  auto* mseq = reinterpret_cast<unsigned long long*>(static_cast<uint8_t*>(mirror_.data()) + seqs_off_);
  uint8_t* meta = static_cast<uint8_t*>(meta_->data());
  const auto& cells = cells_.cells();
  for (int32_t c = lo; c < hi; ++c) {
    mpos[c] = cells[c].seqs ? cells[c].pos : -1;
    mseq[c] = cells[c].seqs;
  }
  *mhi = cells_.hi();
  if (lo < hi) {
    F8_CUDA_TRY(cudaMemcpyAsync(meta + size_t(lo) * 4, mpos + lo, size_t(hi - lo) * 4, cudaMemcpyHostToDevice, stream),
                "kv sync: cudaMemcpyAsync(pos)");
    F8_CUDA_TRY(cudaMemcpyAsync(meta + seqs_off_ + size_t(lo) * 8, mseq + lo, size_t(hi - lo) * 8,
                                cudaMemcpyHostToDevice, stream),
                "kv sync: cudaMemcpyAsync(seqs)");
  }
  F8_CUDA_TRY(cudaMemcpyAsync(meta + size_t(p_.n_cells) * 4, mhi, 4, cudaMemcpyHostToDevice, stream),
              "kv sync: cudaMemcpyAsync(hi)");

  // Page summaries of the changed cells' pages, then the page lists when
  // any list changed (their version moves on every change).
  const size_t np = size_t(cells_.n_pages());
  auto* pm = static_cast<int32_t*>(pages_mirror_.data());
  auto* pd = static_cast<int32_t*>(pages_->data());
  if (lo < hi) {
    const int32_t p0 = lo / KvCells::kPage, p1 = (hi + KvCells::kPage - 1) / KvCells::kPage;
    for (int32_t p = p0; p < p1; ++p) {
      const KvCells::Page& pg = cells_.pages()[p];
      pm[p] = pg.used ? pg.pos_min : INT32_MAX;
      pm[np + p] = pg.used ? pg.pos_max : -1;
    }
    F8_CUDA_TRY(cudaMemcpyAsync(pd + p0, pm + p0, size_t(p1 - p0) * 4, cudaMemcpyHostToDevice, stream),
                "kv sync: cudaMemcpyAsync(page pos_min)");
    F8_CUDA_TRY(cudaMemcpyAsync(pd + np + p0, pm + np + p0, size_t(p1 - p0) * 4, cudaMemcpyHostToDevice, stream),
                "kv sync: cudaMemcpyAsync(page pos_max)");
  }
  if (cells_.lists_version() != lists_version_) {
    int32_t* off = pm + 2 * np;
    int32_t* lp = off + f8k::kKvMaxSeq + 1;
    int32_t n = 0;
    for (int32_t sq = 0; sq < f8k::kKvMaxSeq; ++sq) {
      off[sq] = n;
      for (int32_t p : cells_.seq_pages(sq)) lp[n++] = p;  // <= n_pages per sequence: fits
    }
    off[f8k::kKvMaxSeq] = n;
    F8_CUDA_TRY(cudaMemcpyAsync(pd + 2 * np, off, (size_t(f8k::kKvMaxSeq) + 1 + size_t(n)) * 4,
                                cudaMemcpyHostToDevice, stream),
                "kv sync: cudaMemcpyAsync(page lists)");
    lists_version_ = cells_.lists_version();
  }
  // Position lists: each sequence's list from its first changed entry (a
  // decode step appends one per sequence), then the 64 lengths if any moved.
  if (order_) {
    auto* olen = static_cast<int32_t*>(order_mirror_.data());
    int32_t* ocells = olen + f8k::kKvMaxSeq;
    auto* dlen = static_cast<int32_t*>(order_->data());
    int32_t* dcells = dlen + f8k::kKvMaxSeq;
    bool lens = false;
    for (int32_t sq = 0; sq < f8k::kKvMaxSeq; ++sq) {
      const int32_t from = cells_.take_order_dirty(sq);
      const std::vector<int32_t>& l = cells_.seq_cells(sq);
      const int32_t n = static_cast<int32_t>(l.size());
      if (from < n) {
        int32_t* m = ocells + size_t(sq) * size_t(p_.n_cells);
        std::copy(l.begin() + from, l.end(), m + from);
        F8_CUDA_TRY(cudaMemcpyAsync(dcells + size_t(sq) * size_t(p_.n_cells) + from, m + from,
                                    size_t(n - from) * 4, cudaMemcpyHostToDevice, stream),
                    "kv sync: cudaMemcpyAsync(position list)");
      }
      if (olen[sq] != n) {
        olen[sq] = n;
        lens = true;
      }
    }
    if (lens)
      F8_CUDA_TRY(cudaMemcpyAsync(dlen, olen, size_t(f8k::kKvMaxSeq) * 4, cudaMemcpyHostToDevice, stream),
                  "kv sync: cudaMemcpyAsync(position list lengths)");
  }
  F8_CUDA_TRY(cudaEventRecord(copied_, stream), "kv sync: cudaEventRecord");
  return Status::Ok();
}

}  // namespace f8backend::cuda
