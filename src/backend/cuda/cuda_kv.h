// cuda_kv.h — the CUDA KV cache: K/V storage in device memory (layout of
// kernels/types.h DevKv, the same as the CPU's), cell bookkeeping on the
// host (backend/kv_cells.h) mirrored to the device by sync().
#pragma once

#include <cuda_runtime.h>

#include <memory>

#include "backend/backend.h"
#include "backend/cuda/cuda_util.h"
#include "backend/kv_cells.h"
#include "kernels/types.h"

namespace f8backend::cuda {

class CudaBackend;

class CudaKVCache final : public KvCacheBase {
 public:
  static Status create(const CudaBackend& be, const KVCacheParams& p, std::unique_ptr<KVCache>* out);
  ~CudaKVCache() override;

  const KVCacheParams& params() const override { return p_; }
  size_t bytes() const override { return kv_bytes_; }

  // Enqueues on `stream` the copy of the cells changed since the last sync
  // (and hi) to the device mirror. Returns a failed copy's status.
  Status sync(cudaStream_t stream);
  const f8k::DevKv& dev() const { return dev_; }

  // Device bytes a cache with these params takes (storage + metadata).
  static size_t device_bytes(const KVCacheParams& p);

 private:
  CudaKVCache() = default;
  KVCacheParams p_;
  size_t kv_bytes_ = 0;
  std::unique_ptr<DeviceBuffer> k_, v_, meta_;
  std::unique_ptr<DeviceBuffer> k_ts_, v_ts_;  // token_scales: BF16 scales (kernels/kv_scale.h)  // meta: pos int32[n] | hi int32 | pad | seqs u64[n] | scales
  PinnedBuffer mirror_;                         // same layout as meta_ (pos, hi, seqs)
  // Pages: pos_min int32[np] | pos_max int32[np] | list_off int32[65] | list_pages int32[np * 64].
  std::unique_ptr<DeviceBuffer> pages_;
  PinnedBuffer pages_mirror_;
  uint64_t lists_version_ = ~uint64_t{0};       // the version on the device (none yet)
  // Position lists (KVCacheParams::position_lists): order_len int32[64] |
  // order_cells int32[64 * n_cells] (KvCells::seq_cells, one row per sequence).
  std::unique_ptr<DeviceBuffer> order_;
  PinnedBuffer order_mirror_;
  cudaEvent_t copied_ = nullptr;                // the last mirror copy finished
  f8k::DevKv dev_;
  size_t seqs_off_ = 0;                         // byte offset of seqs in meta_/mirror_
};

}  // namespace f8backend::cuda
