// model.cpp — load = hparams + weight binding (both fully validated) + the
// default backend; nothing is copied on the CPU.
#include "model/model.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "model/k_center.h"

namespace f8model {

namespace {

uint64_t elems(const f8backend::Weight& w) {
  return w.data ? uint64_t(w.n_mats) * uint64_t(w.rows) * uint64_t(w.cols) : 0;
}

// The weights of a layer's FFN that exist only in MoE layers (null elsewhere).
std::vector<std::pair<const f8backend::Weight*, const char*>> moe_weights(const LayerWeights& L) {
  return {{&L.router, "ffn_gate_inp.weight"},       {&L.experts.gate, "ffn_gate_exps.weight"},
          {&L.experts.up, "ffn_up_exps.weight"},     {&L.experts.down, "ffn_down_exps.weight"},
          {&L.sh_gate, "ffn_gate_shexp.weight"},     {&L.sh_up, "ffn_up_shexp.weight"},
          {&L.sh_down, "ffn_down_shexp.weight"},     {&L.sh_gate_inp, "ffn_gate_inp_shexp.weight"},
          {&L.score_bias, "ffn_gate_inp.score_bias"}};
}

// The multi-head latent attention weights the forward pass reads (null in
// other models). attn_kv_a_mqa goes up as its two row views (c_kv, k_pe).
std::vector<std::pair<const f8backend::Weight*, const char*>> mla_weights(const LayerWeights& L) {
  return {{&L.mla.wq_a, "attn_q_a.weight"},          {&L.mla.q_a_norm, "attn_q_a_norm.weight"},
          {&L.mla.wq_b, "attn_q_b.weight"},          {&L.mla.wkv_a_c, "attn_kv_a_mqa.weight (c_kv rows)"},
          {&L.mla.wkv_a_pe, "attn_kv_a_mqa.weight (k_pe rows)"}, {&L.mla.kv_a_norm, "attn_kv_a_norm.weight"},
          {&L.mla.wkv_b, "attn_kv_b.weight"}};
}

// Hands every weight to the backend (a zero-copy view on the CPU).
Status upload_all(f8backend::Backend& be, const ModelWeights& host, ModelWeights* dev,
                  ProgressFn progress, void* ud) {
  *dev = host;
  // A device backend: compare what the weights need with free memory first,
  // so a model that does not fit fails with one line instead of half-way.
  size_t need = 0;
  auto add = [&](const f8backend::Weight& w) {
    if (w.data) need += be.upload_bytes(w);
  };
  add(host.token_embd);
  add(host.output_norm);
  if (host.output.data != host.token_embd.data) add(host.output);
  for (const LayerWeights& L : host.layers) {
    for (const f8backend::Weight* w : {&L.attn_norm, &L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_norm, &L.gate, &L.up, &L.down,
                                       &L.q_norm, &L.k_norm, &L.post_attn_norm, &L.post_ffw_norm, &L.sinks})
      add(*w);
    for (const auto& [w, name] : moe_weights(L)) add(*w);
    for (const auto& [w, name] : mla_weights(L)) add(*w);
    for (const f8backend::Bias* b : {&L.experts.gate_b, &L.experts.up_b, &L.experts.down_b})  // per-expert biases
      if (b->data) need += 4 * size_t(L.experts.gate.n_mats) * size_t(std::max(L.experts.gate.rows, L.experts.gate.cols)) + 256;
    for (const f8backend::Bias* b : {&L.bq, &L.bk, &L.bv, &L.bo, &L.router_b})
      if (b->data) need += 4 * size_t(L.wq.rows) + 256;
  }
  size_t fr = 0, tot = 0;
  be.memory(&fr, &tot);
  if (tot && need > fr) {
    char msg[256];
    std::snprintf(msg, sizeof msg, "the weights need %.2f GiB of device memory but %s has %.2f GiB free (of %.2f GiB)",
                  double(need) / double(1ull << 30), be.description().c_str(), double(fr) / double(1ull << 30),
                  double(tot) / double(1ull << 30));
    return Status::Error(Code::OutOfMemory, msg);
  }
  auto up = [&](const f8backend::Weight& h, f8backend::Weight* d, const char* what, int layer) -> Status {
    if (!h.data) return Status::Ok();
    f8backend::Status s = be.upload(h, d);
    if (!s.ok())
      return Status::Error(from_backend(s.code), std::string("backend ") + be.name() + ": " +
                                                     (layer >= 0 ? "blk." + std::to_string(layer) + "." : "") +
                                                     what + ": " + s.message);
    return Status::Ok();
  };
  Status st;
  if (!(st = up(host.token_embd, &dev->token_embd, "token_embd.weight", -1)).ok()) return st;
  if (!(st = up(host.output_norm, &dev->output_norm, "output_norm.weight", -1)).ok()) return st;
  if (host.output.data == host.token_embd.data) {
    dev->output = dev->token_embd;
  } else if (!(st = up(host.output, &dev->output, "output.weight", -1)).ok()) {
    return st;
  }
  const size_t n = host.layers.size();
  for (size_t l = 0; l < n; ++l) {
    const LayerWeights& h = host.layers[l];
    LayerWeights& d = dev->layers[l];
    int li = static_cast<int>(l);
    if (!(st = up(h.attn_norm, &d.attn_norm, "attn_norm.weight", li)).ok()) return st;
    if (!(st = up(h.wq, &d.wq, "attn_q.weight", li)).ok()) return st;
    if (!(st = up(h.wk, &d.wk, "attn_k.weight", li)).ok()) return st;
    if (!(st = up(h.wv, &d.wv, "attn_v.weight", li)).ok()) return st;
    if (!(st = up(h.q_norm, &d.q_norm, "attn_q_norm.weight", li)).ok()) return st;
    if (!(st = up(h.k_norm, &d.k_norm, "attn_k_norm.weight", li)).ok()) return st;
    if (!(st = up(h.wo, &d.wo, "attn_output.weight", li)).ok()) return st;
    if (!(st = up(h.sinks, &d.sinks, "attn_sinks.weight", li)).ok()) return st;
    if (!(st = up(h.ffn_norm, &d.ffn_norm, "ffn_norm.weight", li)).ok()) return st;
    if (!(st = up(h.post_attn_norm, &d.post_attn_norm, "post_attention_norm.weight", li)).ok()) return st;
    if (!(st = up(h.post_ffw_norm, &d.post_ffw_norm, "post_ffw_norm.weight", li)).ok()) return st;
    if (!(st = up(h.gate, &d.gate, "ffn_gate.weight", li)).ok()) return st;
    if (!(st = up(h.up, &d.up, "ffn_up.weight", li)).ok()) return st;
    if (!(st = up(h.down, &d.down, "ffn_down.weight", li)).ok()) return st;
    {
      const auto hl = mla_weights(h), dl = mla_weights(d);
      for (size_t i = 0; i < hl.size(); ++i)
        if (!(st = up(*hl[i].first, const_cast<f8backend::Weight*>(dl[i].first), hl[i].second, li)).ok()) return st;
      if (!be.host_memory()) d.mla.wkv_a = f8backend::Weight{};  // only its views run (uploaded above)
    }
    {
      const auto hm = moe_weights(h), dm = moe_weights(d);
      for (size_t i = 0; i < hm.size(); ++i)
        if (!(st = up(*hm[i].first, const_cast<f8backend::Weight*>(dm[i].first), hm[i].second, li)).ok()) return st;
      if (!be.host_memory() && (h.experts.gate_b.data || h.experts.up_b.data || h.experts.down_b.data)) {
        // Per-expert biases [E, N] (a tensor-parallel slice keeps the full
        // row stride fb_stride) go up as a stack of E one-row vectors; the
        // uploaded stack's mat_stride is the device's stride between experts
        // (CUDA: compact F32, expert e's at e * N).
        const f8backend::MoeExperts& hx = h.experts;
        const int64_t F = hx.gate.rows, H = hx.gate.cols, FB = hx.fb_stride ? hx.fb_stride : F;
        auto up_bias = [&](const f8backend::Bias& hb, f8backend::Bias* db, int64_t n, int64_t stride,
                           const char* what, bool gate_up) -> Status {
          if (!hb.data) return Status::Ok();
          f8backend::Weight hw, dw;
          hw.data = hb.data;
          hw.dtype = hb.dtype;
          hw.rows = 1;
          hw.cols = n;
          hw.n_mats = hx.gate.n_mats;
          hw.mat_stride = stride;
          if (Status bs = up(hw, &dw, what, li); !bs.ok()) return bs;
          db->data = dw.data;
          db->dtype = dw.dtype;
          if (gate_up && dw.mat_stride) d.experts.fb_stride = dw.mat_stride;
          return Status::Ok();
        };
        f8backend::MoeExperts& dx = d.experts;
        if (!(st = up_bias(hx.gate_b, &dx.gate_b, F, FB, "ffn_gate_exps.bias", true)).ok()) return st;
        if (!(st = up_bias(hx.up_b, &dx.up_b, F, FB, "ffn_up_exps.bias", true)).ok()) return st;
        if (!(st = up_bias(hx.down_b, &dx.down_b, H, H, "ffn_down_exps.bias", false)).ok()) return st;
      }
    }
    // Biases are small vectors; upload them as 1-row weights.
    for (auto [hb, db, nm, n] :
         {std::tuple{&h.bq, &d.bq, "attn_q.bias", h.wq.rows}, std::tuple{&h.bk, &d.bk, "attn_k.bias", h.wk.rows},
          std::tuple{&h.bv, &d.bv, "attn_v.bias", h.wv.rows}, std::tuple{&h.bo, &d.bo, "attn_output.bias", h.wo.rows},
          std::tuple{&h.router_b, &d.router_b, "ffn_gate_inp.bias", h.router.rows}}) {
      if (!hb->data) continue;
      f8backend::Weight hw, dw;
      hw.data = hb->data;
      hw.dtype = hb->dtype;
      hw.rows = 1;
      hw.cols = n;
      if (!(st = up(hw, &dw, nm, li)).ok()) return st;
      db->data = dw.data;
      db->dtype = dw.dtype;
    }
    if (progress && !progress(0.5f + 0.5f * float(l + 1) / float(n), ud))
      return Status::Error(Code::Aborted, "model load cancelled by the progress callback");
  }
  return Status::Ok();
}

}  // namespace

Status Model::load(const ggf8::File& file, const LoadOptions& opts, std::unique_ptr<Model>* out) {
  std::unique_ptr<Model> m(new Model(file));
  Status st = load_hparams(file, &m->hp_);
  if (!st.ok()) return st;
  st = bind_weights(file, m->hp_, &m->w_);
  if (!st.ok()) return st;
  // K centering's means where `f8 convert` stored them (else the first
  // fp8/int8 context measures them: k_center.h).
  bool stored = false;
  st = read_k_center(file, m->hp_, &m->kcenter_, &stored);
  if (!st.ok()) return st;
  if (opts.progress && !opts.progress(0.5f, opts.progress_user_data))
    return Status::Error(Code::Aborted, "model load cancelled by the progress callback");
  uint64_t n = elems(m->w_.token_embd) + elems(m->w_.output_norm);
  if (!m->hp_.tied_embeddings) n += elems(m->w_.output);
  for (const LayerWeights& L : m->w_.layers) {
    n += elems(L.attn_norm) + elems(L.wq) + elems(L.wk) + elems(L.wv) + elems(L.wo) +
         elems(L.ffn_norm) + elems(L.gate) + elems(L.up) + elems(L.down) + elems(L.q_norm) + elems(L.k_norm) +
         elems(L.post_attn_norm) + elems(L.post_ffw_norm) + elems(L.sinks);
    for (const auto& [w, name] : moe_weights(L)) n += elems(*w);
    n += elems(L.mla.wq_a) + elems(L.mla.q_a_norm) + elems(L.mla.wq_b) + elems(L.mla.wkv_a) + elems(L.mla.kv_a_norm) +
         elems(L.mla.wkv_b);
    if (L.bq.data) n += uint64_t(L.wq.rows) + 2 * uint64_t(L.wk.rows);
    if (L.bo.data) n += uint64_t(L.wo.rows);
    if (L.router_b.data) n += uint64_t(L.router.rows);
    for (const f8backend::Bias* b : {&L.experts.gate_b, &L.experts.up_b})
      if (b->data) n += uint64_t(L.experts.gate.n_mats) * uint64_t(L.experts.gate.rows);
    if (L.experts.down_b.data) n += uint64_t(L.experts.down.n_mats) * uint64_t(L.experts.down.rows);
  }
  m->n_params_ = n;

  // Create the default backend now so a load fails early and the load time
  // includes it.
  {
    std::unique_ptr<BackendWeights> bw(new BackendWeights);
    f8backend::Status bs = f8backend::create_backend(opts.backend, {}, &bw->backend);
    if (!bs.ok()) return Status::Error(from_backend(bs.code), "backend '" + opts.backend + "': " + bs.message);
    st = upload_all(*bw->backend, m->w_, &bw->weights, opts.progress, opts.progress_user_data);
    if (!st.ok()) return st;
    const std::string key = opts.backend == "cuda:0" ? "cuda" : opts.backend == "cpu-simd" ? "cpu" : opts.backend;
    m->backends_[key] = std::move(bw);
    m->load_backend_ = key;
  }
  *out = std::move(m);
  return Status::Ok();
}

Status Model::backend(const std::string& name_in, BackendWeights** out) {
  // Two names of one device share one copy of the weights.
  const std::string name = name_in == "cuda:0" ? "cuda" : name_in == "cpu-simd" ? "cpu" : name_in;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = backends_.find(name);
  if (it != backends_.end()) {
    *out = it->second.get();
    return Status::Ok();
  }
  std::unique_ptr<BackendWeights> bw(new BackendWeights);
  f8backend::Status bs = f8backend::create_backend(name, {}, &bw->backend);
  if (!bs.ok()) return Status::Error(from_backend(bs.code), "backend '" + name + "': " + bs.message);
  Status st = upload_all(*bw->backend, w_, &bw->weights, nullptr, nullptr);
  if (!st.ok()) return st;
  *out = bw.get();
  backends_[name] = std::move(bw);
  return Status::Ok();
}

Status Model::backend_rank(const std::string& name, const TpRank& r, BackendWeights** out) {
  if (r.tp == 1) return backend(name, out);
  const std::string key = name + "#tp" + std::to_string(r.tp) + "." + std::to_string(r.rank);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = backends_.find(key);
  if (it != backends_.end()) {
    *out = it->second.get();
    return Status::Ok();
  }
  ModelWeights slice;
  Status st = tp_slice(w_, hp_, r, &slice);
  if (!st.ok()) return st;
  std::unique_ptr<BackendWeights> bw(new BackendWeights);
  f8backend::Status bs = f8backend::create_backend(name, {}, &bw->backend);
  if (!bs.ok()) return Status::Error(from_backend(bs.code), "backend '" + name + "': " + bs.message);
  st = upload_all(*bw->backend, slice, &bw->weights, nullptr, nullptr);
  if (!st.ok()) return st;
  *out = bw.get();
  backends_[key] = std::move(bw);
  return Status::Ok();
}

bool Model::kv_calibrated(std::vector<float>* k, std::vector<float>* v) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (kcal_.empty()) return false;
  *k = kcal_;
  *v = vcal_;
  return true;
}

bool Model::k_center(std::vector<float>* mean) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (kcenter_.empty()) return false;
  *mean = kcenter_;
  return true;
}

void Model::set_k_center(std::vector<float> mean) {
  std::lock_guard<std::mutex> lock(mu_);
  kcenter_ = std::move(mean);
}

void Model::set_kv_calibration(std::vector<float> k, std::vector<float> v) {
  std::lock_guard<std::mutex> lock(mu_);
  kcal_ = std::move(k);
  vcal_ = std::move(v);
}

}  // namespace f8model
