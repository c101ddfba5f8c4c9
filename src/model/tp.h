// tp.h — tensor parallel (Megatron split) over `tp` ranks, each reading its
// slice straight from the one mapped file (zero copy on the CPU; a device
// backend uploads only the slice):
//   q/k/v, gate/up  column-parallel: rank r holds a range of their ROWS
//                   (its query heads, its KV heads, its FFN columns);
//   o, down         row-parallel: a range of their COLUMNS (row_stride of the
//                   full matrix); an all-reduce sums the partial outputs;
//   embeddings and the output projection: a range of vocabulary rows; the
//                   embedding rows are all-reduced (other ranks give zeros),
//                   the logits gathered on the host.
// KV heads: tp <= n_head_kv splits them (n_head_kv % tp == 0); tp > n_head_kv
// replicates them (tp % n_head_kv == 0): rank r uses KV head r / (tp / n_head_kv).
// MoE: every expert's FFN splits like a dense FFN (its rows / columns), the
// shared expert too; the router is replicated (every rank routes the same),
// per-expert down biases stay on rank 0 (the all-reduce adds them once).
// Norms are replicated. Per-channel scales go with their rows, block scales
// with their blocks (a slice must not cut a block), tensor scales are shared.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/hparams.h"
#include "model/status.h"
#include "model/weights.h"

namespace f8model {

struct TpRank {
  int32_t tp = 1, rank = 0;
  int32_t n_head = 0, n_head_kv = 0;  // this rank's query / KV heads
  int64_t q0 = 0, q_dim = 0;          // rows of wq (= columns of wo) [q0, q0 + q_dim)
  int64_t kv0 = 0, kv_dim = 0;        // rows of wk, wv
  int64_t ff0 = 0, n_ff = 0;          // rows of gate/up (= columns of down)
  int64_t ffe0 = 0, n_ff_exp = 0;     // MoE: rows of every expert's gate/up (= columns of its down)
  int64_t ffs0 = 0, n_ff_shexp = 0;   // MoE: rows of the shared expert's gate/up
  int64_t v0 = 0, n_vocab = 0;        // vocabulary rows of the embedding / output
};

// Checks that the model splits `tp` ways (names the size that does not
// divide) and gives rank `rank`'s share.
Status tp_plan(const HParams& hp, int32_t tp, int32_t rank, TpRank* out);

// Rank r's views of the full (host) weights. Fails naming the tensor when a
// slice would cut a scale block.
Status tp_slice(const ModelWeights& full, const HParams& hp, const TpRank& r, ModelWeights* out);

// Bytes of weights (with scales) each of the tp ranks holds.
Status tp_rank_bytes(const ModelWeights& full, const HParams& hp, int32_t tp, std::vector<uint64_t>* out);

}  // namespace f8model
