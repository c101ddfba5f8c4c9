// kv_cache.cpp — the CPU KV cache storage (bookkeeping: backend/kv_cells.h).
#include <algorithm>
#include <cmath>
#include <cstring>
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
  if (!p.k_center.empty()) {
    c->centers_.resize(size_t(p.n_layers));
    for (int32_t l = 0; l < p.n_layers; ++l) c->center_inv_.push_back(rope_inv_freq(p.k_center_rope[size_t(l)]));
  }
  *out = std::move(c);
  return Status::Ok();
}

// rope(m, p0) per head as the rope op computes it (HF rotate_half pairs
// (i, i + n_rot/2), cos and sin times attn_factor; dims >= n_rot as they are),
// except pairs that turn more than kCenterMaxTurn radians over a block: a
// mean rotated to the block's first position is a poor guess for its last
// cells there (simulated at 4k tokens: KL 0.0048 with every pair, 0.0041
// without those; docs/kv-quant-research.md), so they are not centered (0).
constexpr float kCenterMaxTurn = 1.0f;
void CpuKVCache::ensure_centers(int32_t max_pos) {
  if (p_.k_center.empty() || max_pos < kKvCenterFrom) return;
  const int32_t need = std::min(max_pos, kKvCenterMaxPos - 1) / kKvCenterBlock + 1;
  if (need <= center_blocks_) return;
  const int32_t D = p_.head_dim;
  const size_t re = row_elems();
  for (int32_t l = 0; l < p_.n_layers; ++l) {
    const RopeParams& rp = p_.k_center_rope[size_t(l)];
    const std::vector<float>& inv = center_inv_[size_t(l)];
    const int half = static_cast<int>(inv.size());
    const float* m = p_.k_center.data() + size_t(l) * re;
    std::vector<float>& rows = centers_[size_t(l)];
    rows.resize(size_t(need) * re);
    for (int32_t b = center_blocks_; b < need; ++b) {
      const int32_t p0 = b * kKvCenterBlock;
      float* out = rows.data() + size_t(b) * re;
      std::memcpy(out, m, re * sizeof(float));
      for (int32_t h = 0; h < p_.n_kv_heads; ++h) {
        const float* mh = m + size_t(h) * D;
        float* oh = out + size_t(h) * D;
        for (int i = 0; i < half; ++i) {
          if (inv[size_t(i)] * float(kKvCenterBlock) > kCenterMaxTurn) {
            oh[i] = oh[i + half] = 0.0f;
            continue;
          }
          const float a = static_cast<float>(p0) * inv[size_t(i)];
          const float c = std::cos(a) * rp.attn_factor, s = std::sin(a) * rp.attn_factor;
          oh[i] = mh[i] * c - mh[i + half] * s;
          oh[i + half] = mh[i + half] * c + mh[i] * s;
        }
      }
    }
  }
  center_blocks_ = need;
}

}  // namespace f8backend::cpu
