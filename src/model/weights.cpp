// weights.cpp — tensor directory -> ModelWeights, validating the whole set
// before anything runs so a bad file fails at load with every problem named.
#include "model/weights.h"

#include <cmath>
#include <cstring>
#include <string>

namespace f8model {

namespace {

using ggf8::DType;
using ggf8::ScaleKind;
using ggf8::TensorInfo;

std::string dims_str(const std::vector<uint64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

bool is_matrix_dtype(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::E4M3 ||
         t == DType::E5M2;
}
bool is_vector_dtype(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

class Binder {
 public:
  Binder(const ggf8::File& f) : f_(f) {}

  // A 2-D weight [rows, cols] of a matrix dtype with any scale kind.
  Weight matrix(const std::string& name, uint64_t rows, uint64_t cols) {
    Weight w;
    const TensorInfo* t = find(name);
    if (!t) return w;
    if (!is_matrix_dtype(t->dtype)) {
      problem(name + ": dtype " + ggf8::dtype_name(t->dtype) +
              ", expected f32, f16, bf16, e4m3 or e5m2");
      return w;
    }
    if (t->dims.size() != 2 || t->dims[0] != rows || t->dims[1] != cols) {
      problem(name + ": shape " + dims_str(t->dims) + ", expected " + dims_str({rows, cols}));
      return w;
    }
    w.data = f_.data(*t);
    w.dtype = t->dtype;
    w.rows = static_cast<int64_t>(rows);
    w.cols = static_cast<int64_t>(cols);
    w.row_stride = 0;
    bytes_ += t->nbytes;
    count_type(t->dtype);
    if (t->scale_kind != ScaleKind::None) {
      // The reader validated that the scale tensor exists, is F32 and fits
      // the kind; re-check the shape we index so a reader bug cannot make
      // us read past it.
      const TensorInfo* s = f_.tensor(t->scale_name);
      uint64_t want = 1;
      if (t->scale_kind == ScaleKind::Channel) want = rows;
      if (t->scale_kind == ScaleKind::Block) {
        if (t->block_rows == 0 || t->block_cols == 0) {
          problem(name + ": block scale with zero block size");
          return w;
        }
        want = ((rows + t->block_rows - 1) / t->block_rows) * ((cols + t->block_cols - 1) / t->block_cols);
      }
      if (!s || s->dtype != DType::F32 || s->count() != want) {
        problem(name + ": scale tensor '" + t->scale_name + "' missing or not F32 with " +
                std::to_string(want) + " values for scale kind " + ggf8::scale_kind_name(t->scale_kind));
        return w;
      }
      w.scale_kind = t->scale_kind;
      w.scale = reinterpret_cast<const float*>(f_.data(*s));
      w.block_rows = t->block_rows;
      w.block_cols = t->block_cols;
      w.scale_cols = t->scale_kind == ScaleKind::Block
                         ? static_cast<int64_t>((cols + t->block_cols - 1) / t->block_cols)
                         : 0;
      bytes_ += s->nbytes;
    } else if (t->dtype == DType::E4M3 || t->dtype == DType::E5M2) {
      // FP8 without a scale is legal (scale 1) — the converter always writes one.
    }
    // Static activation scale: "<name without .weight>.input_scale".
    std::string base = name;
    if (base.size() > 7 && base.compare(base.size() - 7, 7, ".weight") == 0) base.resize(base.size() - 7);
    if (const TensorInfo* is = f_.tensor(base + ".input_scale")) {
      float v = 0;
      if (scalar_f32(*is, &v)) {
        if (!(v > 0) || !std::isfinite(v))
          problem(base + ".input_scale: " + std::to_string(v) + ", expected a finite value > 0");
        else
          w.input_scale = v;
      }
    }
    return w;
  }

  // A stack of n 2-D weights [n, rows, cols] (MoE experts, GGF8 2.0): as
  // matrix(), with per-matrix scales. `active`: of the n matrices, how many
  // one token reads (bytes per token count only those).
  Weight stack(const std::string& name, uint64_t n, uint64_t rows, uint64_t cols, uint64_t active) {
    Weight w;
    const TensorInfo* t = find(name);
    if (!t) return w;
    if (!is_matrix_dtype(t->dtype)) {
      problem(name + ": dtype " + ggf8::dtype_name(t->dtype) + ", expected f32, f16, bf16, e4m3 or e5m2");
      return w;
    }
    if (t->dims != std::vector<uint64_t>{n, rows, cols}) {
      problem(name + ": shape " + dims_str(t->dims) + ", expected " + dims_str({n, rows, cols}));
      return w;
    }
    w.data = f_.data(*t);
    w.dtype = t->dtype;
    w.rows = int64_t(rows);
    w.cols = int64_t(cols);
    w.n_mats = int32_t(n);
    w.mat_stride = int64_t(rows * cols);
    uint64_t scale_bytes = 0;
    if (t->scale_kind != ScaleKind::None) {
      const TensorInfo* s = f_.tensor(t->scale_name);
      uint64_t per = 1;
      if (t->scale_kind == ScaleKind::Channel) per = rows;
      if (t->scale_kind == ScaleKind::Block) {
        if (t->block_rows == 0 || t->block_cols == 0) {
          problem(name + ": block scale with zero block size");
          return w;
        }
        per = ((rows + t->block_rows - 1) / t->block_rows) * ((cols + t->block_cols - 1) / t->block_cols);
      }
      const uint64_t want = t->scale_kind == ScaleKind::Tensor ? 1 : n * per;
      if (!s || s->dtype != DType::F32 || s->count() != want) {
        problem(name + ": scale tensor '" + t->scale_name + "' missing or not F32 with " + std::to_string(want) +
                " values for scale kind " + ggf8::scale_kind_name(t->scale_kind));
        return w;
      }
      w.scale_kind = t->scale_kind;
      w.scale = reinterpret_cast<const float*>(f_.data(*s));
      w.mat_scale_stride = t->scale_kind == ScaleKind::Tensor ? 0 : int64_t(per);
      w.block_rows = t->block_rows;
      w.block_cols = t->block_cols;
      w.scale_cols = t->scale_kind == ScaleKind::Block ? int64_t((cols + t->block_cols - 1) / t->block_cols) : 0;
      scale_bytes = s->nbytes;
    }
    bytes_ += (t->nbytes + scale_bytes) / n * active;
    count_type(t->dtype);
    return w;
  }

  // A 1-D vector [n] used as a norm weight (rows = 1).
  Weight vec(const std::string& name, uint64_t n) {
    Weight w;
    const TensorInfo* t = find(name);
    if (!t) return w;
    if (!is_vector_dtype(t->dtype)) {
      problem(name + ": dtype " + ggf8::dtype_name(t->dtype) + ", expected f32, f16 or bf16");
      return w;
    }
    if (t->dims.size() != 1 || t->dims[0] != n) {
      problem(name + ": shape " + dims_str(t->dims) + ", expected " + dims_str({n}));
      return w;
    }
    if (t->scale_kind != ScaleKind::None) {
      problem(name + ": a norm weight must not be scaled (scale kind " +
              ggf8::scale_kind_name(t->scale_kind) + ")");
      return w;
    }
    w.data = f_.data(*t);
    w.dtype = t->dtype;
    w.rows = 1;
    w.cols = static_cast<int64_t>(n);
    bytes_ += t->nbytes;
    return w;
  }

  Bias bias(const std::string& name, uint64_t n) {
    Bias b;
    Weight w = vec(name, n);
    b.data = w.data;
    b.dtype = w.dtype;
    return b;
  }

  // Per-expert biases [n, rows] (optional: absent = none).
  Bias opt_bias2(const std::string& name, uint64_t n, uint64_t rows) {
    Bias b;
    const TensorInfo* t = f_.tensor(name);
    if (!t) return b;
    if (!is_vector_dtype(t->dtype) || t->dims != std::vector<uint64_t>{n, rows} || t->scale_kind != ScaleKind::None) {
      problem(name + ": " + ggf8::dtype_name(t->dtype) + " " + dims_str(t->dims) + ", expected f32/f16/bf16 " +
              dims_str({n, rows}) + " without a scale");
      return b;
    }
    b.data = f_.data(*t);
    b.dtype = t->dtype;
    return b;
  }

  // Optional F32 [1] scalar (kv scales); 0 when absent.
  float opt_scalar(const std::string& name) {
    const TensorInfo* t = f_.tensor(name);
    if (!t) return 0.0f;
    float v = 0;
    if (!scalar_f32(*t, &v)) return 0.0f;
    if (!(v > 0) || !std::isfinite(v)) {
      problem(name + ": " + std::to_string(v) + ", expected a finite value > 0");
      return 0.0f;
    }
    return v;
  }

  bool has(const std::string& name) const { return f_.tensor(name) != nullptr; }

  Status finish() {
    if (problems_.empty()) return Status::Ok();
    std::string msg = f_.path() + ": " + std::to_string(n_problems_) + " tensor problem" +
                      (n_problems_ > 1 ? "s" : "") + ": ";
    for (size_t i = 0; i < problems_.size(); ++i) msg += (i ? "; " : "") + problems_[i];
    if (n_problems_ > problems_.size()) msg += "; ...";
    return Status::Error(Code::Format, msg);
  }

  uint64_t bytes() const { return bytes_; }
  std::string weight_type() const {
    if (types_ == 0) return "none";
    for (uint32_t i = 0; i < ggf8::kDTypeCount; ++i)
      if (types_ == (1u << i)) return ggf8::dtype_name(static_cast<DType>(i));
    return "mixed";
  }

 private:
  const TensorInfo* find(const std::string& name) {
    const TensorInfo* t = f_.tensor(name);
    if (!t) problem(name + ": missing");
    return t;
  }
  bool scalar_f32(const TensorInfo& t, float* v) {
    if (t.dtype != DType::F32 || t.count() != 1) {
      problem(t.name + ": dtype " + ggf8::dtype_name(t.dtype) + " shape " + dims_str(t.dims) +
              ", expected f32 [1]");
      return false;
    }
    std::memcpy(v, f_.data(t), sizeof(float));
    return true;
  }
  void problem(std::string p) {
    ++n_problems_;
    if (problems_.size() < 8) problems_.push_back(std::move(p));
  }
  void count_type(DType t) { types_ |= 1u << static_cast<uint32_t>(t); }

  const ggf8::File& f_;
  std::vector<std::string> problems_;
  size_t n_problems_ = 0;
  uint64_t bytes_ = 0;
  uint32_t types_ = 0;
};

}  // namespace

Status bind_weights(const ggf8::File& f, const HParams& hp, ModelWeights* out) {
  Binder b(f);
  ModelWeights w;
  const uint64_t E = hp.n_embd, Q = hp.q_dim(), KV = hp.kv_dim(), F = hp.n_ff, V = hp.n_vocab;
  w.token_embd = b.matrix("token_embd.weight", V, E);
  // Decode reads one embedding row per token, so an untied table does not
  // count toward the bytes read per token (the tied one does, as `output`).
  const uint64_t embd_bytes = b.bytes();
  w.output_norm = b.vec("output_norm.weight", E);
  // A tied file may still carry output.weight: an FP8 copy of the embedding
  // made by `f8 convert --quantize` for a faster output projection.
  if (hp.tied_embeddings && !f.tensor("output.weight")) {
    w.output = w.token_embd;
  } else {
    w.output = b.matrix("output.weight", V, E);
  }
  w.layers.resize(hp.n_layer);
  bool all_kv = true;
  for (uint32_t l = 0; l < hp.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights& L = w.layers[l];
    L.attn_norm = b.vec(p + "attn_norm.weight", E);
    L.wq = b.matrix(p + "attn_q.weight", Q, E);
    L.wk = b.matrix(p + "attn_k.weight", KV, E);
    L.wv = b.matrix(p + "attn_v.weight", KV, E);
    if (hp.qkv_bias) {
      L.bq = b.bias(p + "attn_q.bias", Q);
      L.bk = b.bias(p + "attn_k.bias", KV);
      L.bv = b.bias(p + "attn_v.bias", KV);
    }
    if (hp.qk_norm) {
      L.q_norm = b.vec(p + "attn_q_norm.weight", hp.head_dim);
      L.k_norm = b.vec(p + "attn_k_norm.weight", hp.head_dim);
    }
    L.wo = b.matrix(p + "attn_output.weight", E, Q);
    L.ffn_norm = b.vec(p + "ffn_norm.weight", E);
    if (hp.post_norms) {
      L.post_attn_norm = b.vec(p + "post_attention_norm.weight", E);
      L.post_ffw_norm = b.vec(p + "post_ffw_norm.weight", E);
    }
    if (hp.layer_moe(l)) {
      const uint64_t NE = hp.n_expert, FE = hp.n_ff_exp, FS = hp.n_ff_shexp, K = hp.n_expert_used;
      L.router = b.matrix(p + "ffn_gate_inp.weight", NE, E);
      f8backend::MoeExperts& X = L.experts;
      X.gate = b.stack(p + "ffn_gate_exps.weight", NE, FE, E, K);
      X.up = b.stack(p + "ffn_up_exps.weight", NE, FE, E, K);
      X.down = b.stack(p + "ffn_down_exps.weight", NE, E, FE, K);
      X.gate_b = b.opt_bias2(p + "ffn_gate_exps.bias", NE, FE);
      X.up_b = b.opt_bias2(p + "ffn_up_exps.bias", NE, FE);
      X.down_b = b.opt_bias2(p + "ffn_down_exps.bias", NE, E);
      if (FS) {
        L.sh_gate = b.matrix(p + "ffn_gate_shexp.weight", FS, E);
        L.sh_up = b.matrix(p + "ffn_up_shexp.weight", FS, E);
        L.sh_down = b.matrix(p + "ffn_down_shexp.weight", E, FS);
        if (hp.shexp_gate) L.sh_gate_inp = b.matrix(p + "ffn_gate_inp_shexp.weight", 1, E);
      }
    } else {
      L.gate = b.matrix(p + "ffn_gate.weight", F, E);
      L.up = b.matrix(p + "ffn_up.weight", F, E);
      L.down = b.matrix(p + "ffn_down.weight", E, F);
    }
    L.k_scale = b.opt_scalar(p + "attn_k.kv_scale");
    L.v_scale = b.opt_scalar(p + "attn_v.kv_scale");
    all_kv = all_kv && L.k_scale > 0 && L.v_scale > 0;
  }
  Status st = b.finish();
  if (!st.ok()) return st;
  w.bytes = b.bytes() - (w.output.data == w.token_embd.data ? 0 : embd_bytes);
  w.weight_type = b.weight_type();
  w.has_kv_scales = all_kv;
  *out = std::move(w);
  return Status::Ok();
}

}  // namespace f8model
