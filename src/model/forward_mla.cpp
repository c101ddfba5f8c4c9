// forward_mla.cpp — one layer's multi-head latent attention (DeepSeek-V3),
// as transformers' DeepseekV3Attention computes it, for the n tokens of a
// chunk on one tensor-parallel rank (H = this rank's heads; R = kv_lora, P =
// rope, N = nope, V = v_head, D = N + P):
//   qa  = rmsnorm(h Wq_a^T) * q_a_norm                     [n, q_lora]  (q_lora > 0)
//   q   = qa Wq_b^T  (or h Wq^T)                            [n, H, D]
//   c   = rmsnorm(h Wkv_a[0:R]^T) * kv_a_norm               [n, R]
//   kpe = h Wkv_a[R:R+P]^T                                  [n, P]
//   RoPE on q[:, h, N:D] and on kpe (rotate_half pairs: the converter
//     de-interleaved DeepSeek's rows), at each token's position
//   mla_kv_store(c, kpe) into the chunk's cells (the latent cache: R + P
//     values per token, FP8 with this layer's two scales by default)
//   att = mla_attention(q, Wkv_b) over the cells each token sees   [n, H, V]
//     expanded for prefill chunks, absorbed for decode-sized ones (backend.h)
//   h   = att Wo^T  (this rank's partial sum; the caller all-reduces)   [n, E]
// q_a, kv_a and their norms are replicated under tensor parallel (every rank
// computes the whole latent and keeps the whole latent cache).
#include "model/context.h"

namespace f8model {

Status Context::mla_attention(Rank& R, int32_t li, int32_t n, const f8backend::AttnBatch& ab, bool quant_act,
                              float* h) {
  const HParams& hp = model_.hparams();
  const LayerWeights& L = R.bw->weights.layers[size_t(li)];
  const MlaLayerWeights& M = L.mla;
  f8backend::Stream& s = *R.stream;
  const int32_t QR = int32_t(hp.mla_q_lora), KR = int32_t(hp.mla_kv_lora);
  const int32_t P = int32_t(hp.mla_rope), N = int32_t(hp.mla_nope), H = R.tp.n_head;
  float *q = R.q->f32(), *c = R.k->f32(), *kpe = R.v->f32(), *att = R.att->f32();
  const int32_t* d_pos = R.d_pos->i32();
  // FP8 activations (the GPU; --emulate-gpu): per token, or the file's static scale.
  auto opts = [&](const f8backend::Weight& wt) {
    f8backend::GemmOpts o;
    if (quant_act) o.act = wt.input_scale > 0 ? f8backend::ActQuant::Static : f8backend::ActQuant::DynamicToken;
    return o;
  };

  // The projections of h: q_a (or q) and the latent's two parts, one dispatch.
  if (QR) {
    float* qa = R.mqa->f32();
    const f8backend::Stream::GemmJob jobs[3] = {
        {&M.wq_a, qa, opts(M.wq_a)}, {&M.wkv_a_c, c, opts(M.wkv_a_c)}, {&M.wkv_a_pe, kpe, opts(M.wkv_a_pe)}};
    s.gemm_multi(h, n, jobs, 3);
    s.rmsnorm(qa, M.q_a_norm, hp.rms_eps, n, QR, qa);
    s.gemm(qa, n, M.wq_b, q, opts(M.wq_b));
  } else {
    const f8backend::Stream::GemmJob jobs[3] = {
        {&L.wq, q, opts(L.wq)}, {&M.wkv_a_c, c, opts(M.wkv_a_c)}, {&M.wkv_a_pe, kpe, opts(M.wkv_a_pe)}};
    s.gemm_multi(h, n, jobs, 3);
  }
  s.rmsnorm(c, M.kv_a_norm, hp.rms_eps, n, KR, c);
  s.rope(q + N, n, H, d_pos, rope_mla_q_);  // head h's rope dims start N floats into its D
  s.rope(kpe, n, 1, d_pos, rope_mla_k_);
  // KV-scale calibration: c's amax is the latent cache's k scale, k_pe's its v scale.
  if (k_amax_) amax_into(R, c, n, KR, &(*k_amax_)[size_t(li)]);
  if (v_amax_) amax_into(R, kpe, n, P, &(*v_amax_)[size_t(li)]);
  s.mla_kv_store(*R.kv, li, c, kpe, R.d_cells->i32(), n);

  f8backend::MlaDims d;
  d.n_heads = H;
  d.nope = N;
  d.rope = P;
  d.v = int32_t(hp.mla_v);
  d.kv_lora = KR;
  // --deterministic: the absorbed form for every chunk size (the two forms
  // differ in the last bits, so a token's numerics would otherwise depend on
  // how many tokens its chunk had).
  const f8backend::MlaForm form =
      p_.mla_form == 1   ? f8backend::MlaForm::Expanded
      : p_.mla_form == 2 ? f8backend::MlaForm::Absorbed
      : p_.deterministic ? f8backend::MlaForm::Absorbed
      : n >= f8backend::kMlaExpandedMinTokens ? f8backend::MlaForm::Expanded : f8backend::MlaForm::Absorbed;
  s.mla_attention(*R.kv, li, q, M.wkv_b, d, form, ab, att);
  s.gemm(att, n, L.wo, h, opts(L.wo));
  return Status::Ok();
}

}  // namespace f8model
