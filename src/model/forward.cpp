// forward.cpp — batched decode: validate the entries, take KV cells, run the
// Llama-family forward pass through the backend ops table chunk by chunk
// (n_batch tokens at a time), copy the requested logits to the host.
//
// Per layer, for T tokens (shapes [rows, cols], F32 activations):
//   h = rmsnorm(x) * attn_norm                        [T, E]
//   q = h Wq^T (+bq), k = h Wk^T (+bk), v = h Wv^T (+bv)   [T, Q], [T, KV] x2
//   Qwen3: q, k = rmsnorm(each head) * q_norm / k_norm            [T*heads, head_dim]
//   rope(q), rope(k)  (HF rotate_half pairs (i, i + d/2), per position)
//   kv_store(k, v) into this batch's cells; att = attention(q, cache)   [T, Q]
//   x += att Wo^T                                      [T, E]
//   h = rmsnorm(x) * ffn_norm; x += (silu(h Wg^T) * (h Wu^T)) Wd^T
// then logits = rmsnorm(x[rows wanting logits]) * output_norm . Wout^T.
// Gemma 2 / 3: x = embed * sqrt(hidden) first; the attention and MLP outputs
// go through their own rmsnorm (post_attention_norm, post_ffw_norm) before
// the residual add; GeGLU (gelu_tanh) instead of SwiGLU; softmax scale
// query_pre_attn_scalar^-0.5 with optional score soft-capping; alternate
// layers windowed (Gemma 3: with their own RoPE base); logits soft-capped.
// gpt-oss: o_proj bias, a sink logit per head in each softmax's denominator,
// a router with bias (top-k logits, then softmax) and the clamped SwiGLU
// experts with biases; YaRN RoPE (cos/sin scaled by its attention factor).
// (Norm weights are stored as 1 + w, so rmsnorm is the same op.)
// DeepSeek-V3: multi-head latent attention (forward_mla.cpp) and the
// sigmoid group-limited router with each layer's score bias.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <thread>

#include "model/context.h"

namespace f8model {

namespace {
constexpr int32_t kMaxPos = 1 << 30;
// Chunks of at most this many tokens (decode, batched decode) are recorded
// once per token count and replayed (CUDA graphs).
constexpr int32_t kMaxGraphTokens = 64;
}

Status Context::decode(const BatchView& b) {
  const HParams& hp = model_.hparams();
  out_index_.clear();
  n_out_ = 0;
  if (b.n <= 0) return Status::Error(Code::InvalidArgument, "decode: empty batch");
  if (!b.token || !b.pos || !b.seq)
    return Status::Error(Code::InvalidArgument, "decode: batch token/pos/seq arrays must not be NULL");

  // Validate every entry before touching the cache.
  int32_t last_pos[f8backend::kMaxSeq];
  int32_t first_pos[f8backend::kMaxSeq];
  for (int s = 0; s < f8backend::kMaxSeq; ++s) {
    last_pos[s] = -2;  // not yet looked up
    first_pos[s] = -1;
  }
  std::vector<int32_t> out_index(b.n, -1);
  int32_t n_out = 0;
  for (int32_t i = 0; i < b.n; ++i) {
    const int32_t t = b.token[i], p = b.pos[i], s = b.seq[i];
    const std::string at = "decode: batch entry " + std::to_string(i) + ": ";
    if (t < 0 || uint32_t(t) >= hp.n_vocab)
      return Status::Error(Code::InvalidArgument, at + "token " + std::to_string(t) + " out of range [0, " +
                                                      std::to_string(hp.n_vocab) + ")");
    if (s < 0 || s >= f8backend::kMaxSeq)
      return Status::Error(Code::InvalidArgument, at + "seq_id " + std::to_string(s) + ": expected 0.." +
                                                      std::to_string(f8backend::kMaxSeq - 1));
    if (p < 0 || p >= kMaxPos)
      return Status::Error(Code::InvalidArgument, at + "position " + std::to_string(p) + ": expected 0.." +
                                                      std::to_string(kMaxPos - 1));
    if (last_pos[s] == -2) last_pos[s] = ranks_[0]->kv->seq_pos_max(s);
    if (p <= last_pos[s])
      return Status::Error(Code::InvalidArgument,
                           at + "position " + std::to_string(p) + " of sequence " + std::to_string(s) +
                               " is not after its last position " + std::to_string(last_pos[s]) +
                               " (remove positions with f8_kv_seq_rm before rewriting them)");
    if (first_pos[s] < 0) first_pos[s] = p;
    last_pos[s] = p;
    const bool want = b.logits ? b.logits[i] != 0 : i == b.n - 1;
    if (want) out_index[i] = n_out++;
  }

  // Take the cells for the whole batch up front: all or nothing.
  // Every rank keeps the same bookkeeping (the allocator is deterministic).
  std::vector<int32_t> cells(b.n), cells_r(b.n);
  f8backend::Status bs = ranks_[0]->kv->alloc_cells(b.n, b.seq, b.pos, cells.data());
  for (size_t r = 1; bs.ok() && r < ranks_.size(); ++r) {
    bs = ranks_[r]->kv->alloc_cells(b.n, b.seq, b.pos, cells_r.data());
    if (bs.ok() && cells_r != cells)
      bs = f8backend::Status::Error(f8backend::Code::InvalidArgument, "tensor-parallel ranks allocated different cells");
  }
  if (!bs.ok()) {
    if (bs.code == f8backend::Code::CacheFull) {
      const int32_t free_cells = p_.n_ctx - ranks_[0]->kv->n_used();
      return Status::Error(Code::ContextFull,
                           "context full: the batch needs " + std::to_string(b.n) + " KV cells but only " +
                               std::to_string(free_cells) + " of " + std::to_string(p_.n_ctx) +
                               " are free (shorten the input, remove a sequence, or use a larger context)");
    }
    return Status::Error(Code::Internal, "kv cache: " + bs.message);
  }

  auto rollback = [&]() {
    for (int s = 0; s < f8backend::kMaxSeq; ++s)
      if (first_pos[s] >= 0)
        for (auto& R : ranks_) R->kv->seq_rm(s, first_pos[s], -1);
  };

  logits_.resize(static_cast<size_t>(n_out) * hp.n_vocab);
  std::vector<int32_t> rows;
  for (int32_t c0 = 0; c0 < b.n; c0 += p_.n_batch) {
    const int32_t n = std::min(p_.n_batch, b.n - c0);
    rows.clear();
    int32_t first_row = -1;
    for (int32_t i = 0; i < n; ++i) {
      if (out_index[c0 + i] >= 0) {
        if (first_row < 0) first_row = out_index[c0 + i];
        rows.push_back(i);
      }
    }
    float* lout = rows.empty() ? nullptr : logits_.data() + int64_t(first_row) * hp.n_vocab;
    Status st = run_chunk(n, b.token + c0, b.pos + c0, b.seq + c0, cells.data() + c0, rows.data(),
                          static_cast<int32_t>(rows.size()), lout);
    if (!st.ok()) {
      rollback();
      logits_.clear();
      return st;
    }
  }
  if (hp.final_softcap > 0) {  // Gemma 2: logits = cap * tanh(logits / cap), on the host copy
    const float cap = hp.final_softcap;
    for (float& z : logits_) z = cap * std::tanh(z / cap);
  }
  out_index_ = std::move(out_index);
  n_out_ = n_out;
  for (int32_t i = 0; i < b.n; ++i) seq_tokens_.set(b.seq[i], b.pos[i], b.token[i]);
  return Status::Ok();
}

// Calibration hooks: n_tok x dim activations copied to host_tmp_.
const float* Context::pull(Rank& R, const float* dev, int64_t n_tok, int64_t dim) {
  host_tmp_.resize(static_cast<size_t>(n_tok * dim));
  R.stream->to_host(host_tmp_.data(), dev, host_tmp_.size() * sizeof(float));
  return host_tmp_.data();
}

void Context::amax_into(Rank& R, const float* dev, int64_t n_tok, int64_t dim, float* slot) {
  const float* x = pull(R, dev, n_tok, dim);
  float m = *slot;
  for (int64_t i = 0; i < n_tok * dim; ++i) m = std::max(m, std::fabs(x[i]));
  *slot = m;
}

void Context::act_into(Rank& R, const float* dev, int64_t n_tok, int64_t dim, AbsHist* h) {
  h->add(pull(R, dev, n_tok, dim), n_tok * dim);
}

// One chunk on every rank: rank 0 on this thread, the others on their own
// threads (tp > 1), then the logits slices gathered into logits_out.
Status Context::run_chunk(int32_t n, const int32_t* tok, const int32_t* pos, const int32_t* seq,
                          const int32_t* cells, const int32_t* out_rows, int32_t n_rows, float* logits_out) {
  if (ranks_.size() == 1) return run_rank(*ranks_[0], n, tok, pos, seq, cells, out_rows, n_rows, logits_out);
  // Ranks cannot stop half-way on their own (the others would wait in a
  // collective): the abort callback is asked once, before the chunk.
  if (abort_fn_ && abort_fn_(abort_ud_)) return Status::Error(Code::Aborted, "decode aborted by the abort callback");
  // Several nodes: the logits are all-gathered on the GPUs and this
  // process's first rank writes them out; one node: gathered here on the host.
  const bool nodes = p_.tp_nodes > 1;
  std::vector<Status> st(ranks_.size());
  std::vector<std::thread> th;
  for (size_t r = 1; r < ranks_.size(); ++r)
    th.emplace_back([&, r] { st[r] = run_rank(*ranks_[r], n, tok, pos, seq, cells, out_rows, n_rows, nullptr); });
  st[0] = run_rank(*ranks_[0], n, tok, pos, seq, cells, out_rows, n_rows, nodes ? logits_out : nullptr);
  for (auto& t : th) t.join();
  for (const Status& x : st)
    if (!x.ok()) return x;
  if (nodes) return Status::Ok();
  // Gather: rank r computed columns [v0, v0 + n_vocab) of each logits row.
  const int64_t V = model_.hparams().n_vocab;
  for (auto& R : ranks_) {
    const int64_t nv = R->tp.n_vocab;
    for (int32_t i = 0; i < n_rows; ++i)
      std::memcpy(logits_out + int64_t(i) * V + R->tp.v0, R->lhost.data() + int64_t(i) * nv, size_t(nv) * 4);
  }
  return Status::Ok();
}

Status Context::comm_status(const f8backend::Status& s) const {
  if (s.ok()) return Status::Ok();
  return Status::Error(from_backend(s.code), "tensor parallel (" + std::string(comm_->name()) + "): " + s.message);
}

Status Context::all_gather(Rank& R, const float* send, size_t count, float* recv) {
  return comm_status(comm_->all_gather(R.tp.rank, send, count, recv, *R.stream));
}

Status Context::all_reduce(Rank& R, float* buf, int64_t n) {
  if (!comm_) return Status::Ok();
  return comm_status(comm_->all_reduce_sum(R.tp.rank, buf, size_t(n), *R.stream));
}

Status Context::run_rank(Rank& R, int32_t n, const int32_t* tok, const int32_t* pos, const int32_t* seq,
                         const int32_t* cells, const int32_t* out_rows, int32_t n_rows, float* logits_out) {
  const HParams& hp = model_.hparams();
  const ModelWeights& w = R.bw->weights;
  f8backend::Stream& s = *R.stream;
  const TpRank& tp = R.tp;
  const bool multi = ranks_.size() > 1 || p_.tp_nodes > 1;
  const int32_t E = hp.n_embd, KV = int32_t(tp.kv_dim), F = int32_t(tp.n_ff), V = int32_t(tp.n_vocab);
  float *x = R.x->f32(), *h = R.h->f32(), *q = R.q->f32(), *k = R.k->f32(), *v = R.v->f32();
  float *att = R.att->f32(), *g = R.g->f32(), *u = R.u->f32();
  int32_t *d_tok = R.d_tok->i32(), *d_pos = R.d_pos->i32(), *d_seq = R.d_seq->i32();
  int32_t *d_cells = R.d_cells->i32(), *d_rows = R.d_rows->i32();

  // This rank's vocabulary slice: ids outside it embed as zeros (the
  // all-reduce adds the owning rank's row).
  if (multi) {
    for (int32_t i = 0; i < n; ++i)
      R.tok[size_t(i)] = (tok[i] >= tp.v0 && tok[i] < tp.v0 + tp.n_vocab) ? int32_t(tok[i] - tp.v0) : -1;
    tok = R.tok.data();
  }
  s.from_host(d_tok, tok, size_t(n) * 4);
  s.from_host(d_pos, pos, size_t(n) * 4);
  s.from_host(d_seq, seq, size_t(n) * 4);
  s.from_host(d_cells, cells, size_t(n) * 4);

  // The device must see this chunk's cells before any kv_store/attention
  // (outside a graph recording: the copy reads host memory).
  s.kv_sync(*R.kv);

  // FP8 activations, static per-tensor scale when the file has one for this
  // weight, dynamic per token otherwise: what the GPU always does, and what
  // the CPU does in --emulate-gpu mode.
  const bool quant_act = p_.emulate_gpu || R.bw->backend->quantizes_activations();
  auto opts = [&](const f8backend::Weight& wt, f8backend::Bias bias = {}) {
    f8backend::GemmOpts o;
    o.bias = bias;
    if (quant_act)
      o.act = wt.input_scale > 0 ? f8backend::ActQuant::Static : f8backend::ActQuant::DynamicToken;
    return o;
  };

  f8backend::AttnBatch ab;
  ab.n_tokens = n;
  ab.seq = d_seq;
  ab.pos = d_pos;
  ab.n_heads = tp.n_head;
  ab.scale = hp.attn_scale > 0 ? hp.attn_scale : 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  ab.softcap = hp.attn_softcap;  // Gemma 2 (0 = none)

  // Embedding and every layer. check_abort: between layers (not while a
  // device backend records the step as a graph: a recording cannot stop
  // half-way, so the callback is asked once before it instead).
  auto body = [&](bool check_abort) -> Status {
    Status cst;
    s.embed(w.token_embd, d_tok, n, x);
    if (!(cst = all_reduce(R, x, int64_t(n) * E)).ok()) return cst;
    if (hp.embd_scale != 1.0f) s.scale(x, int64_t(n) * E, hp.embd_scale);  // Gemma: x sqrt(hidden)
    for (uint32_t l = 0; l < hp.n_layer; ++l) {
      if (check_abort && abort_fn_ && abort_fn_(abort_ud_))
        return Status::Error(Code::Aborted, "decode aborted by the abort callback");
      const LayerWeights& L = w.layers[l];
      const int32_t li = static_cast<int32_t>(l);
      s.rmsnorm(x, L.attn_norm, hp.rms_eps, n, E, h);
      if (hp.is_mla()) {  // DeepSeek-V3: multi-head latent attention (forward_mla.cpp)
        if (!(cst = mla_attention(R, li, n, ab, quant_act, h)).ok()) return cst;
      } else {
        if (act_) act_into(R, h, n, E, &act_->site[l][kSiteAttnIn]);
        const f8backend::Stream::GemmJob qkv[3] = {
            {&L.wq, q, opts(L.wq, L.bq)}, {&L.wk, k, opts(L.wk, L.bk)}, {&L.wv, v, opts(L.wv, L.bv)}};
        s.gemm_multi(h, n, qkv, 3);
        if (hp.qk_norm) {  // Qwen3: RMSNorm over each head's head_dim values, before RoPE
          s.rmsnorm(q, L.q_norm, hp.rms_eps, n * tp.n_head, int32_t(hp.head_dim), q);
          s.rmsnorm(k, L.k_norm, hp.rms_eps, n * tp.n_head_kv, int32_t(hp.head_dim), k);
        }
        // Sliding-window layers (every layer for Mistral / Phi-3, alternate
        // ones for Gemma) see only the last sliding_window positions; Gemma 3
        // gives them their own RoPE base.
        const bool windowed = hp.layer_windowed(l);
        const f8backend::RopeParams& rp = windowed ? rope_local_ : rope_;
        if (k_sum_) {  // calibration: pre-RoPE K of the centered positions
          const float* x = pull(R, k, n, KV);
          double* acc = k_sum_->data() + size_t(l) * size_t(KV);
          for (int32_t t = 0; t < n; ++t)
            if (pos[t] >= f8backend::kKvCenterFrom)
              for (int64_t i = 0; i < KV; ++i) acc[i] += x[int64_t(t) * KV + i];
          if (l == 0)
            for (int32_t t = 0; t < n; ++t) *k_sum_n_ += pos[t] >= f8backend::kKvCenterFrom ? 1 : 0;
        }
        s.rope(q, n, tp.n_head, d_pos, rp);
        s.rope(k, n, tp.n_head_kv, d_pos, rp);
        if (k_amax_) amax_into(R, k, n, KV, &(*k_amax_)[l]);
        if (v_amax_) amax_into(R, v, n, KV, &(*v_amax_)[l]);
        if (act_) {
          for (auto [src, dst] : {std::pair{k, &act_->k_amax}, std::pair{v, &act_->v_amax}})
            act_->add_kv(dst, li, pull(R, src, n, KV), n);
        }
        s.kv_store(*R.kv, li, k, v, d_cells, n);
        ab.window = windowed ? int32_t(hp.sliding_window) : 0;
        ab.sinks = static_cast<const float*>(L.sinks.data);  // gpt-oss: this rank's heads' sinks (null elsewhere)
        // Per-token KV scales (the fp8 default) have no FMHA path yet: the
        // kernel folds one K and one V scale per layer into its multipliers.
        ab.fp8_fmha = f8backend::use_fp8_fmha(p_.fp8_attention && !p_.deterministic && !R.kv->params().token_scales,
                                              quant_act,
                                              R.kv->params().dtype, int32_t(hp.head_dim), n);
        s.attention(*R.kv, li, q, ab, att);
        if (act_) act_into(R, att, n, int64_t(tp.n_head) * hp.head_dim, &act_->site[l][kSiteAttnOut]);
        s.gemm(att, n, L.wo, h, opts(L.wo, L.bo));  // bo: gpt-oss (rank 0 only under tensor parallel)
      }
      if (!(cst = all_reduce(R, h, int64_t(n) * E)).ok()) return cst;
      if (hp.post_norms) s.rmsnorm(h, L.post_attn_norm, hp.rms_eps, n, E, h);  // Gemma
      s.add(x, h, int64_t(n) * E);
      s.rmsnorm(x, L.ffn_norm, hp.rms_eps, n, E, h);
      if (act_) act_into(R, h, n, E, &act_->site[l][kSiteFfnIn]);
      if (hp.layer_moe(l)) {
        // Mixture of experts: router logits (F32 math on the BF16/F32
        // router), k experts per token, the grouped expert FFNs into mo;
        // the shared expert (Qwen2-MoE) is a dense FFN added after them.
        float *lr = R.lgr->f32(), *mo = R.mo->f32(), *mw = R.mw->f32();
        int32_t* mi = R.mids->i32();
        f8backend::GemmOpts ro;
        ro.bias = L.router_b;  // gpt-oss's router bias (replicated on every rank)
        s.gemm(h, n, L.router, lr, ro);
        f8backend::MoeRoute rt = moe_route_;
        rt.score_bias = static_cast<const float*>(L.score_bias.data);  // DeepSeek-V3's choice bias (null elsewhere)
        s.moe_route(lr, n, rt, mi, mw);
        s.moe_ffn(h, n, L.experts, mi, mw, moe_route_.k, mo,
                  quant_act ? f8backend::ActQuant::DynamicToken : f8backend::ActQuant::None);
        if (L.sh_down.data) {
          const int32_t FS = int32_t(tp.n_ff_shexp);
          const f8backend::Stream::GemmJob sgu[2] = {{&L.sh_gate, g, opts(L.sh_gate)}, {&L.sh_up, u, opts(L.sh_up)}};
          s.gemm_multi(h, n, sgu, 2);
          if (L.sh_gate_inp.data) s.gemm(h, n, L.sh_gate_inp, lr);  // [T, 1]: the routing is done with lr
          s.swiglu(g, u, int64_t(n) * FS, g);
          s.gemm(g, n, L.sh_down, h, opts(L.sh_down));
          if (L.sh_gate_inp.data) s.sigmoid_scale_rows(h, lr, n, E);
          s.add(mo, h, int64_t(n) * E);
        }
        if (!(cst = all_reduce(R, mo, int64_t(n) * E)).ok()) return cst;
        s.add(x, mo, int64_t(n) * E);
        continue;
      }
      const f8backend::Stream::GemmJob gate_up[2] = {{&L.gate, g, opts(L.gate)}, {&L.up, u, opts(L.up)}};
      s.gemm_multi(h, n, gate_up, 2);
      if (hp.gelu)
        s.geglu(g, u, int64_t(n) * F, g);  // Gemma: gelu_pytorch_tanh(gate) * up
      else
        s.swiglu(g, u, int64_t(n) * F, g);
      if (act_) act_into(R, g, n, F, &act_->site[l][kSiteFfnDown]);
      s.gemm(g, n, L.down, h, opts(L.down));
      if (!(cst = all_reduce(R, h, int64_t(n) * E)).ok()) return cst;
      if (hp.post_norms) s.rmsnorm(h, L.post_ffw_norm, hp.rms_eps, n, E, h);  // Gemma
      s.add(x, h, int64_t(n) * E);
    }
    return Status::Ok();
  };

  // Decode-sized chunks run as one recorded step per token count (a CUDA
  // graph on the GPU; the CPU backends never record). The KV-scale
  // measurement reads activations back mid-step, so it always runs eagerly.
  // The in-process communicator synchronizes on the host: no recording.
  const bool graphable = n <= kMaxGraphTokens && !k_amax_ && !v_amax_ && !k_sum_ && !act_ && (!comm_ || comm_->recordable());
  if (!multi && graphable && abort_fn_ && abort_fn_(abort_ud_))
    return Status::Error(Code::Aborted, "decode aborted by the abort callback");
  if (!(graphable && s.graph_replay(static_cast<uint64_t>(n)))) {
    const bool recording = graphable && s.graph_begin(static_cast<uint64_t>(n));
    Status st = body(!recording && !multi);
    if (recording) {
      f8backend::Status gs = s.graph_end();
      if (st.ok() && !gs.ok()) st = Status::Error(from_backend(gs.code), "backend: " + gs.message);
    }
    if (!st.ok()) return st;
  }

  if (n_rows == 0) {
    s.synchronize();
    return stream_status(R);
  }
  // Only the rows that want logits go through the norm and the (large)
  // output projection.
  s.from_host(d_rows, out_rows, size_t(n_rows) * 4);
  s.get_rows(x, d_rows, n_rows, E, h);
  s.rmsnorm(h, w.output_norm, hp.rms_eps, n_rows, E, h);
  float* lg = R.lg->f32();
  if (multi && R.lhost.size() < size_t(n_rows) * size_t(V)) R.lhost.resize(size_t(n_rows) * size_t(V));
  for (int32_t r0 = 0; r0 < n_rows; r0 += logits_chunk_) {
    const int32_t rc = std::min(logits_chunk_, n_rows - r0);
    s.gemm(h + int64_t(r0) * E, rc, w.output, lg, opts(w.output));
    if (p_.tp_nodes > 1) {
      // Several nodes: every rank sends rc x max_vocab_ floats (its rc x V
      // block, then padding) and receives all ranks' blocks.
      const size_t cnt = size_t(rc) * size_t(max_vocab_);
      if (Status gs = all_gather(R, lg, cnt, R.gat->f32()); !gs.ok()) return gs;
      if (logits_out) {
        const int64_t Vfull = hp.n_vocab;
        R.lhost.resize(size_t(p_.tp) * cnt);
        s.to_host(R.lhost.data(), R.gat->data(), R.lhost.size() * sizeof(float));
        for (int32_t rr = 0; rr < p_.tp; ++rr) {
          TpRank o;
          if (Status ps = tp_plan(hp, p_.tp, rr, &o); !ps.ok()) return ps;
          const float* blk = R.lhost.data() + size_t(rr) * cnt;
          for (int32_t i = 0; i < rc; ++i)
            std::memcpy(logits_out + (int64_t(r0) + i) * Vfull + o.v0, blk + int64_t(i) * o.n_vocab,
                        size_t(o.n_vocab) * sizeof(float));
        }
      }
      continue;
    }
    // tp > 1: this rank's vocabulary columns; run_chunk gathers them.
    float* dst = (multi ? R.lhost.data() : logits_out) + int64_t(r0) * V;
    s.to_host(dst, lg, size_t(rc) * V * sizeof(float));
  }
  return stream_status(R);
}

// A device error in this step (the stream is then unusable: the context
// must be recreated; the CPU backends never fail here).
Status Context::stream_status(const Rank& R) const {
  const f8backend::Status e = R.stream->error();
  if (e.ok()) return Status::Ok();
  return Status::Error(from_backend(e.code), std::string("backend ") + R.bw->backend->name() + ": " + e.message);
}

}  // namespace f8model
