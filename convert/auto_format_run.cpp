// auto_format_run.cpp — step 4 of convert_calibrated (--auto-format,
// calibrate_steps.h): each linear tensor of the BF16 model is swapped for
// each candidate format in turn and the KL of the held-out log-probs to the
// BF16 model's is measured; auto_format.h chooses within the budget.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "convert/auto_format.h"
#include "convert/calibrate_steps.h"
#include "model/context.h"

namespace f8conv {

using ggf8::Code;
using ggf8::Status;
using ggf8::Value;

namespace {

// The Weight of a linear tensor of the running model, by canonical name.
f8backend::Weight* find_weight(f8model::ModelWeights& w, const std::string& name) {
  if (name == "output.weight") return &w.output;
  unsigned l = 0;
  char field[64] = {0};
  int used = 0;
  if (std::sscanf(name.c_str(), "blk.%u.%63[a-z_].weight%n", &l, field, &used) != 2 || used <= 0 ||
      size_t(used) != name.size() || l >= w.layers.size())
    return nullptr;
  f8model::LayerWeights& L = w.layers[l];
  const std::string f = field;
  if (f == "attn_q") return &L.wq;
  if (f == "attn_k") return &L.wk;
  if (f == "attn_v") return &L.wv;
  if (f == "attn_output") return &L.wo;
  if (f == "ffn_gate") return &L.gate;
  if (f == "ffn_up") return &L.up;
  if (f == "ffn_down") return &L.down;
  return nullptr;
}

void log_softmax(const float* x, int64_t n, float* out) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(double(x[i] - mx));
  const float lse = mx + float(std::log(s));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] - lse;
}

// Runs one sequence (tokens, all positions want logits) and returns the
// log-probs [n, V] in *lp.
f8model::Status run_logprobs(f8model::Context& ctx, const std::vector<int32_t>& toks, int64_t V,
                             std::vector<float>* lp) {
  ctx.clear();
  const int32_t n = int32_t(toks.size());
  std::vector<int32_t> pos(static_cast<size_t>(n)), seq(static_cast<size_t>(n), 0);
  std::vector<int8_t> want(size_t(n), 1);
  for (int32_t i = 0; i < n; ++i) pos[size_t(i)] = i;
  f8model::Status st = ctx.decode({n, toks.data(), pos.data(), seq.data(), want.data()});
  if (!st.ok()) return st;
  lp->resize(size_t(n) * size_t(V));
  for (int32_t i = 0; i < n; ++i) {
    const float* lg = ctx.logits(i, &st);
    if (!lg) return st;
    log_softmax(lg, V, lp->data() + size_t(i) * size_t(V));
  }
  return f8model::Status::Ok();
}

double mean_kl(const std::vector<float>& base, const std::vector<float>& lp, int64_t n, int64_t V) {
  double tot = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* b = base.data() + i * V;
    const float* m = lp.data() + i * V;
    double kl = 0;
    for (int64_t j = 0; j < V; ++j) kl += std::exp(double(b[j])) * double(b[j] - m[j]);
    tot += std::max(0.0, kl);
  }
  return n ? tot / double(n) : 0;
}

}  // namespace

Status choose_auto_formats(CalibModel& cm, const std::vector<int32_t>& ids, int64_t n_cal, int32_t bos,
                           const CalibOptions& c, ThreadPool& pool, const RequantizeFn& requantize,
                           ConvertOptions* fin, CalibSummary* S) {
  f8model::Model* model = cm.model.get();
  const ggf8::File* file = cm.file.get();
  const int64_t V = model->hparams().n_vocab;
  const unsigned threads = pool.size();
  auto md = [&](std::string k, Value v) { fin->extra_metadata.push_back({std::move(k), std::move(v)}); };
  auto log = [&](const std::string& s) {
    if (c.log) c.log(s);
  };
  const double t1 = calib_now_s();
  std::vector<int32_t> held;
  if (bos >= 0) held.push_back(bos);
  const int64_t h0 = n_cal, h1 = std::min<int64_t>(int64_t(ids.size()), n_cal + c.heldout_tokens - (bos >= 0));
  held.insert(held.end(), ids.begin() + h0, ids.begin() + h1);
  S->heldout_tokens = held.size();
  f8model::ContextParams cp;
  cp.n_ctx = int32_t(held.size());
  cp.n_batch = cp.n_ctx;
  cp.n_threads = int32_t(threads);
  cp.kv_type = ggf8::DType::F32;
  std::unique_ptr<f8model::Context> ctx;
  if (f8model::Status ms = f8model::Context::create(*model, cp, &ctx); !ms.ok()) return from_model(ms, "auto-format");
  std::vector<float> base, lp;
  if (f8model::Status ms = run_logprobs(*ctx, held, V, &base); !ms.ok()) return from_model(ms, "auto-format");
  f8model::BackendWeights* bw = nullptr;
  if (f8model::Status ms = model->backend(cp.backend, &bw); !ms.ok()) return from_model(ms, "auto-format");
  // The linear tensors: what the BF16 pass quantized (the default or --quantize/--keep set).
  std::vector<std::string> names;
  for (const auto& td : file->tensors())
    if (td.dims.size() == 2 && find_weight(bw->weights, td.name) && td.name != "token_embd.weight")
      names.push_back(td.name);
  const auto& opts = auto_format_options();
  std::vector<uint8_t> qbuf;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    // Tied output = the embedding table, which is not one of the choices.
    if (name == "output.weight" && bw->weights.output.data == bw->weights.token_embd.data) continue;
    f8backend::Weight* w = find_weight(bw->weights, name);
    const ggf8::TensorInfo* ti = file->tensor(name);
    if (!w || !ti || ti->dtype != ggf8::DType::BF16) continue;
    TensorSensitivity ts;
    ts.name = name;
    ts.rows = ti->dims[0];
    ts.cols = ti->dims[1];
    const f8backend::Weight orig = *w;
    SrcMatrix src{StDType::BF16, file->data(*ti), ts.rows, ts.cols};
    for (const FormatOption& op : opts) {
      if (op.weights == WeightFormat::BF16) {
        ts.kl.push_back(0.0);
        continue;
      }
      QuantResult qr;
      if (Status st = quantize_matrix(name, src, op.weights, op.scale, op.block, true, pool, &qbuf, &qr); !st.ok())
        return st;
      if (requantize)
        if (Status st = requantize(name, src, &qbuf, &qr); !st.ok()) return st;
      f8backend::Weight q = orig;
      q.data = qbuf.data();
      q.dtype = qr.dtype;
      q.row_stride = 0;
      q.scale_kind = qr.kind;
      q.scale = qr.scales.data();
      q.block_rows = qr.block_rows;
      q.block_cols = qr.block_cols;
      q.scale_cols = qr.kind == ggf8::ScaleKind::Block ? int64_t(qr.scale_dims.back()) : 0;
      q.input_scale = 0;
      *w = q;
      f8model::Status ms = run_logprobs(*ctx, held, V, &lp);
      *w = orig;
      if (!ms.ok()) return from_model(ms, "auto-format " + name);
      ts.kl.push_back(mean_kl(base, lp, int64_t(held.size()), V));
    }
    S->sensitivity.push_back(std::move(ts));
    if (c.log && (i + 1) % 20 == 0) {
      char b[120];
      std::snprintf(b, sizeof b, "auto-format: %zu/%zu tensors measured (%.0f s)", i + 1, names.size(),
                    calib_now_s() - t1);
      log(b);
    }
  }
  if (Status st = choose_formats(S->sensitivity, c.auto_bits, &S->choice); !st.ok()) return st;
  S->sensitivity_seconds = calib_now_s() - t1;
  std::vector<std::string> tn, ch;
  std::vector<float> kl_ch, kl_opt[4];
  for (size_t i = 0; i < S->sensitivity.size(); ++i) {
    const TensorSensitivity& ts = S->sensitivity[i];
    const FormatOption& op = opts[size_t(S->choice.option[i])];
    fin->tensor_choice[ts.name] = {op.weights, op.scale, op.block};
    tn.push_back(ts.name);
    ch.push_back(op.name);
    kl_ch.push_back(float(ts.kl[size_t(S->choice.option[i])]));
    for (size_t j = 0; j < opts.size() && j < 4; ++j) kl_opt[j].push_back(float(ts.kl[j]));
  }
  md("quant.auto.budget_bits", Value::f32(float(c.auto_bits)));
  md("quant.auto.mean_bits", Value::f32(float(S->choice.mean_bits)));
  md("quant.auto.heldout_tokens", Value::u64(S->heldout_tokens));
  md("quant.auto.tensor", Value::array_str(tn));
  md("quant.auto.format", Value::array_str(ch));
  md("quant.auto.kl", Value::array_f32(kl_ch));
  md("quant.auto.kl.e4m3_channel", Value::array_f32(kl_opt[0]));
  md("quant.auto.kl.e4m3_block", Value::array_f32(kl_opt[1]));
  md("quant.auto.kl.e5m2_channel", Value::array_f32(kl_opt[2]));
  char b[200];
  std::snprintf(b, sizeof b,
                "auto-format: %zu tensors x 3 formats on %llu held-out tokens in %.1f s; mean %.3f bits per weight "
                "(budget %.3g), estimated KL %.5f",
                S->sensitivity.size(), (unsigned long long)S->heldout_tokens, S->sensitivity_seconds,
                S->choice.mean_bits, c.auto_bits, S->choice.kl_sum);
  log(b);
  return Status::Ok();
}

}  // namespace f8conv
