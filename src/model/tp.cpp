// tp.cpp — tensor-parallel plan and weight slices (see tp.h).
#include "model/tp.h"

#include "ggf8/ggf8.h"

namespace f8model {

namespace {

using f8backend::ScaleKind;

size_t esz(ggf8::DType d) { return ggf8::dtype_size(d); }

}  // namespace

// Rows [r0, r0 + n) of w.
Status weight_rows(const Weight& w, int64_t r0, int64_t n, const std::string& name, Weight* out) {
  Weight s = w;
  if (!w.data) {
    *out = s;
    return Status::Ok();
  }
  s.data = static_cast<const uint8_t*>(w.data) + r0 * w.stride() * int64_t(esz(w.dtype));
  s.rows = n;
  s.row_stride = w.stride();
  if (w.scale_kind == ScaleKind::Channel) {
    s.scale = w.scale + r0;
  } else if (w.scale_kind == ScaleKind::Block) {
    if (r0 % w.block_rows || (n % w.block_rows && r0 + n != w.rows))
      return Status::Error(Code::Unsupported, name + ": a tensor-parallel slice of rows [" + std::to_string(r0) + ", " +
                                                  std::to_string(r0 + n) + ") cuts its " + std::to_string(w.block_rows) +
                                                  "-row scale blocks (use another --tp)");
    const int64_t sc = w.scale_cols ? w.scale_cols : (w.cols + w.block_cols - 1) / w.block_cols;
    s.scale = w.scale + (r0 / w.block_rows) * sc;
    s.scale_cols = sc;
  }
  *out = s;
  return Status::Ok();
}

// Columns [c0, c0 + n) of w (row-parallel).
Status weight_cols(const Weight& w, int64_t c0, int64_t n, const std::string& name, Weight* out) {
  Weight s = w;
  s.data = static_cast<const uint8_t*>(w.data) + c0 * int64_t(esz(w.dtype));
  s.cols = n;
  s.row_stride = w.stride();
  if (w.scale_kind == ScaleKind::Block) {
    if (c0 % w.block_cols || (n % w.block_cols && c0 + n != w.cols))
      return Status::Error(Code::Unsupported, name + ": a tensor-parallel slice of columns [" + std::to_string(c0) +
                                                  ", " + std::to_string(c0 + n) + ") cuts its " +
                                                  std::to_string(w.block_cols) + "-column scale blocks (use another --tp)");
    const int64_t sc = w.scale_cols ? w.scale_cols : (w.cols + w.block_cols - 1) / w.block_cols;
    s.scale = w.scale + c0 / w.block_cols;
    s.scale_cols = sc;
  }
  *out = s;
  return Status::Ok();
}

namespace {

Status slice_rows(const Weight& w, int64_t r0, int64_t n, const std::string& name, Weight* out) {
  return weight_rows(w, r0, n, name, out);
}
Status slice_cols(const Weight& w, int64_t c0, int64_t n, const std::string& name, Weight* out) {
  return weight_cols(w, c0, n, name, out);
}

Bias slice_bias(const Bias& b, int64_t r0) {
  Bias s = b;
  if (b.data) s.data = static_cast<const uint8_t*>(b.data) + r0 * int64_t(esz(b.dtype));
  return s;
}

uint64_t weight_bytes(const Weight& w) {
  if (!w.data) return 0;
  uint64_t b = uint64_t(w.rows) * uint64_t(w.cols) * esz(w.dtype);
  if (w.scale_kind == ScaleKind::Tensor) b += 4;
  if (w.scale_kind == ScaleKind::Channel) b += 4 * uint64_t(w.rows);
  if (w.scale_kind == ScaleKind::Block)
    b += 4 * uint64_t((w.rows + w.block_rows - 1) / w.block_rows) * uint64_t((w.cols + w.block_cols - 1) / w.block_cols);
  return b;
}

}  // namespace

Status tp_plan(const HParams& hp, int32_t tp, int32_t rank, TpRank* out) {
  const std::string at = "--tp " + std::to_string(tp) + ": ";
  if (tp < 1 || tp > 64) return Status::Error(Code::InvalidArgument, at + "expected 1..64");
  if (rank < 0 || rank >= tp) return Status::Error(Code::InvalidArgument, at + "rank out of range");
  if (hp.n_head % uint32_t(tp))
    return Status::Error(Code::InvalidArgument, at + "the model's " + std::to_string(hp.n_head) +
                                                    " attention heads do not split " + std::to_string(tp) + " ways");
  if (hp.any_dense_ffn() && hp.n_ff % uint32_t(tp))
    return Status::Error(Code::InvalidArgument, at + "the FFN size " + std::to_string(hp.n_ff) +
                                                    " does not split " + std::to_string(tp) + " ways");
  if (hp.n_expert && hp.n_ff_exp % uint32_t(tp))
    return Status::Error(Code::InvalidArgument, at + "the expert FFN size " + std::to_string(hp.n_ff_exp) +
                                                    " does not split " + std::to_string(tp) + " ways");
  if (hp.n_expert && hp.n_ff_shexp % uint32_t(tp))
    return Status::Error(Code::InvalidArgument, at + "the shared expert's FFN size " + std::to_string(hp.n_ff_shexp) +
                                                    " does not split " + std::to_string(tp) + " ways");
  const uint32_t kv = hp.n_head_kv;
  if (!(kv % uint32_t(tp) == 0 || uint32_t(tp) % kv == 0))
    return Status::Error(Code::InvalidArgument, at + "the model's " + std::to_string(kv) +
                                                    " KV heads neither split " + std::to_string(tp) +
                                                    " ways nor replicate evenly (need kv % tp == 0 or tp % kv == 0)");
  if (uint32_t(tp) > hp.n_vocab)
    return Status::Error(Code::InvalidArgument, at + "more ranks than vocabulary rows");
  TpRank r;
  r.tp = tp;
  r.rank = rank;
  r.n_head = int32_t(hp.n_head) / tp;
  r.q_dim = int64_t(r.n_head) * hp.head_dim;
  r.q0 = int64_t(rank) * r.q_dim;
  if (kv % uint32_t(tp) == 0) {
    r.n_head_kv = int32_t(kv) / tp;
    r.kv0 = int64_t(rank) * r.n_head_kv * hp.head_dim;
  } else {
    r.n_head_kv = 1;  // replicated: rank r uses KV head r / (tp / kv)
    r.kv0 = int64_t(rank / (tp / int32_t(kv))) * hp.head_dim;
  }
  r.kv_dim = int64_t(r.n_head_kv) * hp.head_dim;
  if (hp.is_mla()) {
    // MLA: one latent row per token, shared by every head, replicated on
    // every rank (each rank's heads attend over all of it).
    r.n_head_kv = 1;
    r.kv0 = 0;
    r.kv_dim = int64_t(hp.mla_kv_lora) + hp.mla_rope;
  }
  r.n_ff = int64_t(hp.n_ff) / tp;
  r.ff0 = int64_t(rank) * r.n_ff;
  r.n_ff_exp = int64_t(hp.n_ff_exp) / tp;
  r.ffe0 = int64_t(rank) * r.n_ff_exp;
  r.n_ff_shexp = int64_t(hp.n_ff_shexp) / tp;
  r.ffs0 = int64_t(rank) * r.n_ff_shexp;
  r.v0 = int64_t(hp.n_vocab) * rank / tp;
  r.n_vocab = int64_t(hp.n_vocab) * (rank + 1) / tp - r.v0;
  *out = r;
  return Status::Ok();
}

Status tp_slice(const ModelWeights& full, const HParams& hp, const TpRank& r, ModelWeights* out) {
  (void)hp;
  ModelWeights w = full;
  Status st;
  const bool tied = full.output.data == full.token_embd.data;
  if (!(st = slice_rows(full.token_embd, r.v0, r.n_vocab, "token_embd.weight", &w.token_embd)).ok()) return st;
  if (tied) w.output = w.token_embd;
  else if (!(st = slice_rows(full.output, r.v0, r.n_vocab, "output.weight", &w.output)).ok()) return st;
  for (size_t l = 0; l < full.layers.size(); ++l) {
    const LayerWeights& F = full.layers[l];
    LayerWeights& L = w.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    if (!(st = slice_rows(F.wq, r.q0, r.q_dim, p + "attn_q.weight", &L.wq)).ok()) return st;
    if (hp.is_mla()) {
      // MLA: q_b (or q) and kv_b by this rank's heads, o_proj's columns of
      // their values; q_a, kv_a and the norms replicated.
      const int64_t h0 = int64_t(r.rank) * r.n_head, nv = int64_t(hp.mla_nope) + hp.mla_v;
      if (!(st = slice_rows(F.mla.wq_b, r.q0, r.q_dim, p + "attn_q_b.weight", &L.mla.wq_b)).ok()) return st;
      if (!(st = slice_rows(F.mla.wkv_b, h0 * nv, r.n_head * nv, p + "attn_kv_b.weight", &L.mla.wkv_b)).ok())
        return st;
      if (!(st = slice_cols(F.wo, h0 * hp.mla_v, int64_t(r.n_head) * hp.mla_v, p + "attn_output.weight", &L.wo)).ok())
        return st;
    } else {
      if (!(st = slice_rows(F.wk, r.kv0, r.kv_dim, p + "attn_k.weight", &L.wk)).ok()) return st;
      if (!(st = slice_rows(F.wv, r.kv0, r.kv_dim, p + "attn_v.weight", &L.wv)).ok()) return st;
      L.bq = slice_bias(F.bq, r.q0);
      L.bk = slice_bias(F.bk, r.kv0);
      L.bv = slice_bias(F.bv, r.kv0);
      if (!(st = slice_cols(F.wo, r.q0, r.q_dim, p + "attn_output.weight", &L.wo)).ok()) return st;
    }
    if (r.rank != 0) L.bo = {};  // row-parallel o_proj: the all-reduce adds rank 0's bias once
    if (F.sinks.data) {          // this rank's query heads' sinks
      L.sinks.data = static_cast<const float*>(F.sinks.data) + r.q0 / hp.head_dim;
      L.sinks.cols = r.n_head;
    }
    if (hp.layer_moe(l)) {
      // Stacks slice per matrix: rows/columns within every expert (the
      // stride between experts stays the full one).
      const f8backend::MoeExperts& FX = F.experts;
      f8backend::MoeExperts& X = L.experts;
      if (!(st = slice_rows(FX.gate, r.ffe0, r.n_ff_exp, p + "ffn_gate_exps.weight", &X.gate)).ok()) return st;
      if (!(st = slice_rows(FX.up, r.ffe0, r.n_ff_exp, p + "ffn_up_exps.weight", &X.up)).ok()) return st;
      if (!(st = slice_cols(FX.down, r.ffe0, r.n_ff_exp, p + "ffn_down_exps.weight", &X.down)).ok()) return st;
      X.gate_b = slice_bias(FX.gate_b, r.ffe0);
      X.up_b = slice_bias(FX.up_b, r.ffe0);
      X.fb_stride = FX.fb_stride ? FX.fb_stride : FX.gate.rows;
      if (r.rank != 0) X.down_b = {};
      if (hp.n_ff_shexp) {
        if (!(st = slice_rows(F.sh_gate, r.ffs0, r.n_ff_shexp, p + "ffn_gate_shexp.weight", &L.sh_gate)).ok()) return st;
        if (!(st = slice_rows(F.sh_up, r.ffs0, r.n_ff_shexp, p + "ffn_up_shexp.weight", &L.sh_up)).ok()) return st;
        if (!(st = slice_cols(F.sh_down, r.ffs0, r.n_ff_shexp, p + "ffn_down_shexp.weight", &L.sh_down)).ok())
          return st;
      }
    } else {
      if (!(st = slice_rows(F.gate, r.ff0, r.n_ff, p + "ffn_gate.weight", &L.gate)).ok()) return st;
      if (!(st = slice_rows(F.up, r.ff0, r.n_ff, p + "ffn_up.weight", &L.up)).ok()) return st;
      if (!(st = slice_cols(F.down, r.ff0, r.n_ff, p + "ffn_down.weight", &L.down)).ok()) return st;
    }
  }
  // Bytes this rank reads per token (the embedding row lookup is not counted,
  // as for the full model, unless it doubles as the output projection).
  uint64_t b = weight_bytes(w.output) + weight_bytes(w.output_norm);
  for (const LayerWeights& L : w.layers) {
    for (const Weight* x : {&L.attn_norm, &L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_norm, &L.gate, &L.up, &L.down,
                            &L.q_norm, &L.k_norm, &L.post_attn_norm, &L.post_ffw_norm, &L.router, &L.sh_gate,
                            &L.sh_up, &L.sh_down, &L.sh_gate_inp, &L.sinks, &L.score_bias, &L.mla.wq_a,
                            &L.mla.q_a_norm, &L.mla.wq_b, &L.mla.wkv_a, &L.mla.kv_a_norm, &L.mla.wkv_b})
      b += weight_bytes(*x);
    // A token reads n_expert_used of the experts (weight_bytes counts one matrix of a stack).
    for (const Weight* x : {&L.experts.gate, &L.experts.up, &L.experts.down})
      b += weight_bytes(*x) * hp.n_expert_used;
  }
  w.bytes = b;
  *out = std::move(w);
  return Status::Ok();
}

Status tp_rank_bytes(const ModelWeights& full, const HParams& hp, int32_t tp, std::vector<uint64_t>* out) {
  out->assign(size_t(tp), 0);
  for (int32_t r = 0; r < tp; ++r) {
    TpRank tr;
    Status st = tp_plan(hp, tp, r, &tr);
    if (!st.ok()) return st;
    ModelWeights w;
    if (!(st = tp_slice(full, hp, tr, &w)).ok()) return st;
    uint64_t b = w.bytes;
    if (w.output.data != w.token_embd.data) b += weight_bytes(w.token_embd);
    // w.bytes counts the n_expert_used experts a token reads; a rank holds
    // its slice of every expert (weight_bytes counts one matrix of a stack).
    if (hp.n_expert > hp.n_expert_used)
      for (const LayerWeights& L : w.layers)
        for (const Weight* x : {&L.experts.gate, &L.experts.up, &L.experts.down})
          b += weight_bytes(*x) * (hp.n_expert - hp.n_expert_used);
    (*out)[size_t(r)] = b;
  }
  return Status::Ok();
}

}  // namespace f8model
