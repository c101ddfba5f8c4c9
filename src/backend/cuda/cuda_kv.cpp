// cuda_kv.cpp — CudaKVCache (see cuda_kv.h).
#include "backend/cuda/cuda_kv.h"

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
size_t storage_bytes(const KVCacheParams& p) {
  return 2 * size_t(p.n_layers) * size_t(p.n_cells) * size_t(p.n_kv_heads) * size_t(p.head_dim) *
         cpu::elem_size(p.dtype);
}
}  // namespace

size_t CudaKVCache::device_bytes(const KVCacheParams& p) { return storage_bytes(p) + meta_bytes(p); }

Status CudaKVCache::create(const CudaBackend& be, const KVCacheParams& p, std::unique_ptr<KVCache>* out) {
  if (Status s = check_kv_params(p); !s.ok()) return s;
  if (p.head_dim > 2 * f8k::kMaxRopeHalf || p.head_dim % 2)
    return Status::Error(Code::Unsupported, "kv cache: head_dim " + std::to_string(p.head_dim) +
                                                ": the CUDA backend needs an even head_dim <= 512");
  const size_t half = storage_bytes(p) / 2;
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
  c->kv_bytes_ = 2 * half;
  c->seqs_off_ = seqs_offset(p.n_cells);
  const int dev = be.device().index;
  if (Status s = DeviceBuffer::create(dev, half, &c->k_); !s.ok()) return s;
  if (Status s = DeviceBuffer::create(dev, half, &c->v_); !s.ok()) return s;
  if (Status s = DeviceBuffer::create(dev, meta_bytes(p), &c->meta_); !s.ok()) return s;
  if (Status s = c->mirror_.alloc(c->seqs_off_ + size_t(p.n_cells) * 8); !s.ok()) return s;
  F8_CUDA_TRY(cudaEventCreateWithFlags(&c->copied_, cudaEventDisableTiming), "cudaEventCreate");

  // Scales: 1.0 for non-FP8 caches (the kernels multiply unconditionally).
  const bool fp8 = p.dtype == DType::E4M3 || p.dtype == DType::E5M2;
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
  F8_CUDA_TRY(cudaEventRecord(copied_, stream), "kv sync: cudaEventRecord");
  return Status::Ok();
}

}  // namespace f8backend::cuda
