// kv_cache.cpp — the CPU KV cache storage (bookkeeping: backend/kv_cells.h).
#include <algorithm>
#include <cmath>
#include <string>

#include "backend/cpu/cpu_common.h"

namespace f8backend::cpu {

Status CpuKVCache::create(const KVCacheParams& p, std::unique_ptr<KVCache>* out) {
  if (Status s = check_kv_params(p); !s.ok()) return s;
  auto c = std::unique_ptr<CpuKVCache>(new CpuKVCache());
  c->p_ = p;
  c->row_bytes_ = static_cast<size_t>(p.n_kv_heads) * p.head_dim * elem_size(p.dtype);
  c->layer_bytes_ = c->row_bytes_ * static_cast<size_t>(p.n_cells);
  const size_t total = c->layer_bytes_ * static_cast<size_t>(p.n_layers);
  if (total / p.n_layers != c->layer_bytes_) return Status::Error(Code::OutOfMemory, "kv cache: size overflow");
  if (Status s = host_alloc(total, &c->k_); !s.ok()) return s;
  if (p.mla_kv_lora == 0)  // a latent (MLA) cache has its rows in k_ and no V
    if (Status s = host_alloc(total, &c->v_); !s.ok()) return s;
  if (p.token_scales) {  // one BF16 scale per (layer, cell, KV head), for K and V
    c->ts_layer_bytes_ = size_t(p.n_cells) * p.n_kv_heads * sizeof(uint16_t);
    if (Status s = host_alloc(c->ts_layer_bytes_ * p.n_layers, &c->k_ts_); !s.ok()) return s;
    if (Status s = host_alloc(c->ts_layer_bytes_ * p.n_layers, &c->v_ts_); !s.ok()) return s;
  }
  c->cells_ = KvCells(p.n_cells);
  *out = std::move(c);
  return Status::Ok();
}

}  // namespace f8backend::cpu
