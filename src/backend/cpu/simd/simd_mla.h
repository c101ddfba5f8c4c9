// simd_mla.h — cpu/simd's multi-head latent attention (Stream::mla_kv_store,
// Stream::mla_attention; the definitions are in backend.h, the oracle in
// cpu/mla_ref.cpp).
//
// Both forms follow the attention rule of docs/backend.md "Invariance": a
// token's visible cells in its sequence's position order (seq_cells), cut
// into runs of one position block (pos / 64, at most 64 cells), a partial
// (max, sum, acc) per run from nothing, the partials folded in ascending
// order: a token's output does not depend on the batch, the threads or the
// pool layout. (The two forms differ from each other in the last bits:
// --deterministic runs the absorbed one for every chunk size.)
// Expanded (prefill): per sequence of the call, its runs up to the last
// position its tokens see: a run's latent rows decoded once, c up-projected
// by the stream's own gemm (c [n, R] . kv_b^T -> [n, H (N + V)]: every
// head's k_nope and v; the gemm is batch-invariant), then one thread-pool
// pass over the sequence's (token, head) items, each folding its partial
// over the run's cells it sees. Cost per call: n_visible x H (N + V) x R
// multiply-adds for the up-projection (per sequence), T x H x n_visible x
// (N + P + V) for the attention.
// Absorbed (decode): q_lat = W_UK^T q_nope per head (a pass over heads: each
// W_UK row decoded once, applied to every token), attention over the latent
// rows with items of (token, up to kHeadsPerItem heads) so a run's decoded
// rows serve several heads, then out = W_UV o_lat per head. Tokens go in
// chunks of kTokChunk (the scratch's size). Reads: the latent rows of the
// visible cells (once per item) and kv_b once.
// Dot products use kLanes independent partial sums (vectorizable without
// reassociation); every order is fixed by the shapes and positions alone.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_common.h"
#include "backend/cpu/simd/kernels.h"
#include "backend/threadpool.h"

namespace f8backend::cpu::simd {

class SimdMla {
 public:
  static constexpr int32_t kCellChunk = 64;    // cells up-projected per pass (expanded: one run)
  static constexpr int32_t kTokChunk = 64;     // tokens per pass (absorbed)
  static constexpr int32_t kHeadsPerItem = 16; // heads per attention item (absorbed)

  // Sizes the scratch for StreamParams::mla (no-op when it is all 0; a
  // larger call later grows it once).
  void init(const StreamParams& p, int n_threads);

  void kv_store(const Kernels& k, CpuKVCache& c, int32_t layer, const float* cc, const float* kpe,
                const int32_t* cells, int32_t T);
  void attention(Stream& s, ThreadPool& pool, const Kernels& k, CpuKVCache& c, int32_t layer, const float* q,
                 const Weight& kv_b, const MlaDims& d, MlaForm form, const AttnBatch& b, float* out);

 private:
  void expanded(Stream& s, ThreadPool& pool, const Kernels& k, CpuKVCache& c, int32_t layer, const float* q,
                const Weight& kv_b, const MlaDims& d, const AttnBatch& b, float* out);
  void absorbed(ThreadPool& pool, const Kernels& k, CpuKVCache& c, int32_t layer, const float* q, const Weight& kv_b,
                const MlaDims& d, const AttnBatch& b, int32_t t0, int32_t nt, float* out);
  void reserve(const MlaDims& d, int32_t T, int n_threads);

  // Expanded
  std::vector<int32_t> cells_;                    // the tokens of one sequence of the call
  std::vector<float> cbuf_, pbuf_, kv_;           // [kCellChunk, R], [kCellChunk, P], [kCellChunk, H (N + V)]
  std::vector<float> m_, l_, acc_;                // per (token, head): max, sum, acc[V]
  // Absorbed
  std::vector<float> qlat_, olat_;                // [kTokChunk, H, R]
  // Per thread scratch (sizes in reserve()).
  std::vector<std::vector<float>> tw_;
};

}  // namespace f8backend::cpu::simd
