// calibrate.cpp — calibration driver (calibrate.h): a temporary BF16
// conversion, the CPU runtime over the calibration text with the statistics
// hook on, optional per-tensor sensitivity for --auto-format, then the real
// conversion with static scales, formats and metadata.
#include "convert/calibrate.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "convert/gptq.h"
#include "ggf8/keys.h"
#include "model/act_stats.h"
#include "model/context.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace f8conv {

using ggf8::Code;
using ggf8::Status;
using ggf8::Value;

namespace {

constexpr float kE4M3Max = 448.0f;
constexpr int64_t kMinCalibTokens = 64;
constexpr int64_t kMinHeldout = 32;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Status from_model(const f8model::Status& s, const std::string& what) {
  return Status::Error(s.code == f8model::Code::OutOfMemory ? Code::Io : Code::InvalidArgument,
                       what + ": " + s.message);
}

// Removes the temporary BF16 file on every path out.
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

Status read_text(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Error(Code::NotFound, "--calibrate " + path + ": cannot read the file");
  std::stringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  if (out->find_first_not_of(" \t\r\n") == std::string::npos)
    return Status::Error(Code::InvalidArgument, "--calibrate " + path + ": the text is empty");
  if (!f8tok::utf8::valid(*out)) {
    size_t i = 0;
    while (i < out->size()) {
      const int n = f8tok::utf8::sequence_length(reinterpret_cast<const unsigned char*>(out->data() + i),
                                                 out->size() - i);
      if (n <= 0) break;
      i += size_t(n);
    }
    return Status::Error(Code::InvalidArgument, "--calibrate " + path + ": not UTF-8 text (invalid byte at offset " +
                                                    std::to_string(i) + "; convert it with iconv first)");
  }
  return Status::Ok();
}

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

Status convert_calibrated(const ConvertOptions& o, const CalibOptions& c, ConvertReport* rep, CalibSummary* sum) {
  CalibSummary local;
  CalibSummary& S = sum ? *sum : local;
  S = CalibSummary{};
  auto log = [&](const std::string& s) {
    if (c.log) c.log(s);
  };
  if (c.auto_bits != 0 && !(c.auto_bits >= 8.0 && c.auto_bits <= 16.0))
    return Status::Error(Code::InvalidArgument, "--auto-format " + std::to_string(c.auto_bits) +
                                                    ": expected a budget in bits per weight between 8 and 16 (e.g. 8.5)");
  if (c.calib_tokens < kMinCalibTokens || c.calib_tokens > (1 << 24))
    return Status::Error(Code::InvalidArgument, "--calib-tokens " + std::to_string(c.calib_tokens) + ": expected " +
                                                    std::to_string(kMinCalibTokens) + "..16777216");
  if (c.chunk < 16) return Status::Error(Code::InvalidArgument, "calibration chunk must be >= 16 tokens");
  if (!(c.act_percentile > 50.0 && c.act_percentile <= 100.0))
    return Status::Error(Code::InvalidArgument, "--calib-percentile: expected a value in (50, 100]");
  std::string text;
  if (Status st = read_text(c.text_path, &text); !st.ok()) return st;
  struct stat stt;
  if (!o.overwrite && ::stat(o.output.c_str(), &stt) == 0)
    return Status::Error(Code::Exists, o.output + ": already exists (pass --force to overwrite)");

  // 1. Temporary BF16 model.
  const double t0 = now_s();
  TempFile tmp;
  {
    ConvertOptions t = o;
    t.output = o.output + ".calib-bf16.tmp";
    t.weights = WeightFormat::BF16;
    t.tensor_choice.clear();
    t.extra_scalars.clear();
    t.extra_metadata.clear();
    t.overwrite = true;
    t.checksums = false;
    t.store_k_mean = false;  // a temporary file: the final one gets them
    t.progress = nullptr;
    ConvertReport tr;
    Status st = convert_checkpoint(t, &tr);
    if (!st.ok()) return st;
    tmp.path = t.output;
    if (tr.n_imported_fp8 > 0)
      return Status::Error(Code::InvalidArgument, o.model_dir + ": --calibrate needs a checkpoint in F32/F16/BF16 (" +
                                                      std::to_string(tr.n_imported_fp8) + " tensors are already FP8)");
  }
  std::unique_ptr<ggf8::File> file;
  if (Status st = ggf8::File::open(tmp.path, &file); !st.ok()) return st;
  std::unique_ptr<f8model::Model> model;
  if (f8model::Status ms = f8model::Model::load(*file, {}, &model); !ms.ok()) return from_model(ms, "calibration model");
  std::unique_ptr<f8tok::Tokenizer> tok;
  if (Status st = f8tok::load_from_file(*file, &tok); !st.ok())
    return Status::Error(st.code, "--calibrate needs the model's tokenizer: " + st.message);
  const f8model::HParams& hp = model->hparams();
  const int64_t V = hp.n_vocab;
  if (hp.is_mla())  // its linear inputs (q_a's output, the latent) are not the sites calibration records
    return Status::Error(Code::InvalidArgument, o.model_dir + ": --calibrate is not implemented for multi-head latent "
                                                              "attention models (" + hp.arch_str + "); convert without it");

  std::vector<int32_t> ids;
  {
    f8tok::EncodeOptions eo;
    eo.add_special = false;
    eo.parse_special = false;
    if (Status st = tok->encode(text, eo, &ids); !st.ok()) return st;
  }
  S.text_tokens = ids.size();
  const int64_t need_heldout = c.auto_bits > 0 ? std::max<int64_t>(kMinHeldout, 1) : 0;
  if (int64_t(ids.size()) < kMinCalibTokens + need_heldout)
    return Status::Error(Code::InvalidArgument,
                         "--calibrate " + c.text_path + ": the text is too short (" + std::to_string(ids.size()) +
                             " tokens; calibration needs at least " + std::to_string(kMinCalibTokens + need_heldout) +
                             (c.auto_bits > 0 ? ", --auto-format " + std::to_string(kMinHeldout) + " more held out" : "") +
                             ")");
  int64_t n_cal = std::min<int64_t>(c.calib_tokens, int64_t(ids.size()) - need_heldout);
  if (c.auto_bits > 0 && int64_t(ids.size()) - n_cal < c.heldout_tokens)
    n_cal = std::max<int64_t>(kMinCalibTokens, int64_t(ids.size()) - c.heldout_tokens);
  if (n_cal < c.calib_tokens)
    log("calibration: the text has " + std::to_string(ids.size()) + " tokens; using " + std::to_string(n_cal) +
        (c.auto_bits > 0 ? " for the statistics and the rest for --auto-format" : ""));
  S.calib_tokens = uint64_t(n_cal);

  // 2. Statistics.
  const int32_t bos = tok->bos_id();
  const int32_t per = bos >= 0 ? c.chunk - 1 : c.chunk;
  const unsigned threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  f8model::ActStats as;
  as.reset(int32_t(hp.n_layer), int32_t(hp.n_head_kv), int32_t(hp.head_dim));
  ThreadPool pool(threads);
  if (c.compensate) {
    // sum x x^T per distinct linear input (q/k/v share one, gate/up one),
    // spread over the converter's pool between the model's own GEMMs.
    as.parallel = [&pool](size_t n, const std::function<void(size_t)>& fn) { pool.run(n, fn); };
    as.enable_moments({int64_t(hp.n_embd), int64_t(hp.q_dim()), int64_t(hp.n_embd), int64_t(hp.n_ff)});
  }
  {
    f8model::ContextParams cp;
    cp.n_ctx = c.chunk;
    cp.n_batch = c.chunk;
    cp.n_threads = int32_t(threads);
    cp.kv_type = ggf8::DType::F32;
    std::unique_ptr<f8model::Context> ctx;
    if (f8model::Status ms = f8model::Context::create(*model, cp, &ctx); !ms.ok()) return from_model(ms, "calibration");
    ctx->record_act_stats(&as);
    for (int64_t a = 0; a < n_cal; a += per) {
      std::vector<int32_t> t;
      if (bos >= 0) t.push_back(bos);
      t.insert(t.end(), ids.begin() + a, ids.begin() + std::min<int64_t>(a + per, n_cal));
      ctx->clear();
      const int32_t n = int32_t(t.size());
      std::vector<int32_t> pos(static_cast<size_t>(n)), seq(static_cast<size_t>(n), 0);
      for (int32_t i = 0; i < n; ++i) pos[size_t(i)] = i;
      if (f8model::Status ms = ctx->decode({n, t.data(), pos.data(), seq.data(), nullptr}); !ms.ok())
        return from_model(ms, "calibration");
      as.tokens += uint64_t(n);
    }
  }
  S.calib_seconds = now_s() - t0;

  // Error-compensating rounding: one factor per (layer, site), H freed as
  // soon as it is factored. A failure leaves that site's weights at nearest
  // rounding, with a warning naming them.
  std::vector<std::array<std::unique_ptr<RoundingFactor>, f8model::kSiteCount>> factors;
  std::vector<std::string> warnings;
  if (c.compensate) {
    const double tf = now_s();
    factors.resize(hp.n_layer);
    static const char* kSiteWeights[f8model::kSiteCount] = {"attn_q/attn_k/attn_v", "attn_output", "ffn_gate/ffn_up",
                                                            "ffn_down"};
    for (uint32_t l = 0; l < hp.n_layer; ++l)
      for (int s = 0; s < f8model::kSiteCount; ++s) {
        f8model::SecondMoment& m = as.moment[l][size_t(s)];
        m.symmetric();
        const std::string what = "blk." + std::to_string(l) + "." + kSiteWeights[s];
        auto f = std::make_unique<RoundingFactor>();
        Status st = rounding_factor(what, m.xtx.data(), m.dim, c.damp_frac, pool, f.get(), c.act_order);
        std::vector<float>().swap(m.xtx);
        if (!st.ok()) {
          warnings.push_back(st.message + " (nearest rounding for these weights)");
          S.factor_fallbacks++;
          continue;
        }
        factors[l][size_t(s)] = std::move(f);
      }
    S.factor_seconds = now_s() - tf;
  }
  // The factor for a linear weight by canonical name (nullptr: nearest).
  auto factor_for = [&](const std::string& name) -> const RoundingFactor* {
    unsigned l = 0;
    char field[64] = {0};
    int used = 0;
    if (std::sscanf(name.c_str(), "blk.%u.%63[a-z_].weight%n", &l, field, &used) != 2 || used <= 0 ||
        size_t(used) != name.size() || l >= factors.size())
      return nullptr;
    const std::string f = field;
    int s = -1;
    if (f == "attn_q" || f == "attn_k" || f == "attn_v") s = f8model::kSiteAttnIn;
    if (f == "attn_output") s = f8model::kSiteAttnOut;
    if (f == "ffn_gate" || f == "ffn_up") s = f8model::kSiteFfnIn;
    if (f == "ffn_down") s = f8model::kSiteFfnDown;
    return s < 0 ? nullptr : factors[l][size_t(s)].get();
  };
  std::function<Status(const std::string&, const SrcMatrix&, std::vector<uint8_t>*, QuantResult*)> requantize;
  if (c.compensate)
    requantize = [&](const std::string& name, const SrcMatrix& src, std::vector<uint8_t>* codes,
                     QuantResult* qr) -> Status {
      const RoundingFactor* f = factor_for(name);
      if (!f || f->n != int64_t(src.cols)) return Status::Ok();
      if (Status st = round_compensated(name, src, *f, pool, codes, qr); !st.ok()) {
        const std::string w = st.message + " (nearest rounding kept)";
        if (std::find(warnings.begin(), warnings.end(), w) == warnings.end()) warnings.push_back(w);
      }
      return Status::Ok();
    };

  ConvertOptions fin = o;
  const double pct = c.act_percentile / 100.0;
  std::vector<float> site_amax, site_pct, site_scale;
  for (uint32_t l = 0; l < hp.n_layer; ++l)
    for (int s = 0; s < f8model::kSiteCount; ++s) {
      const f8model::AbsHist& h = as.site[l][size_t(s)];
      const float p = h.percentile(0.9999);
      const float use = c.act_percentile >= 100.0 ? h.amax : h.percentile(pct);
      site_amax.push_back(h.amax);
      site_pct.push_back(p);
      site_scale.push_back(use > 0 && std::isfinite(use) ? use / kE4M3Max : 1.0f);
      S.act_amax_max = std::max(S.act_amax_max, h.amax);
    }
  static const char* kSiteTensors[f8model::kSiteCount][3] = {
      {"attn_q", "attn_k", "attn_v"}, {"attn_output", nullptr, nullptr}, {"ffn_gate", "ffn_up", nullptr},
      {"ffn_down", nullptr, nullptr}};
  for (uint32_t l = 0; l < hp.n_layer; ++l)
    for (int s = 0; s < f8model::kSiteCount; ++s)
      for (const char* tname : kSiteTensors[s])
        if (tname)
          fin.extra_scalars["blk." + std::to_string(l) + "." + tname + ".input_scale"] =
              site_scale[size_t(l) * f8model::kSiteCount + size_t(s)];
  const int64_t H = as.n_kv_heads;
  S.k_scale.assign(hp.n_layer, 1.0f);
  S.v_scale.assign(hp.n_layer, 1.0f);
  for (uint32_t l = 0; l < hp.n_layer; ++l) {
    float km = 0, vm = 0;
    for (int64_t h = 0; h < H; ++h) {
      km = std::max(km, as.k_amax[size_t(l * H + h)]);
      vm = std::max(vm, as.v_amax[size_t(l * H + h)]);
    }
    if (km > 0) S.k_scale[l] = km * c.kv_headroom / kE4M3Max;
    if (vm > 0) S.v_scale[l] = vm * c.kv_headroom / kE4M3Max;
    fin.extra_scalars["blk." + std::to_string(l) + ".attn_k.kv_scale"] = S.k_scale[l];
    fin.extra_scalars["blk." + std::to_string(l) + ".attn_v.kv_scale"] = S.v_scale[l];
  }
  auto md = [&](std::string k, Value v) { fin.extra_metadata.push_back({std::move(k), std::move(v)}); };
  {
    std::string base = c.text_path;
    if (size_t p = base.rfind('/'); p != std::string::npos) base = base.substr(p + 1);
    md("quant.calib.text", Value::str(base));
    md("quant.calib.tokens", Value::u64(as.tokens));
    md("quant.calib.act_percentile", Value::f32(float(c.act_percentile)));
    md("quant.calib.kv_headroom", Value::f32(c.kv_headroom));
    md("quant.calib.act_amax", Value::array_f32(site_amax));
    md("quant.calib.act_p9999", Value::array_f32(site_pct));
    md("quant.calib.k_amax", Value::array_f32(as.k_amax));
    md("quant.calib.v_amax", Value::array_f32(as.v_amax));
    md("quant.activations", Value::str("static"));
    md(ggf8::keys::kQuantCalibRounding, Value::str(c.compensate ? "gptq" : "nearest"));
    if (c.compensate) md(ggf8::keys::kQuantCalibDamp, Value::f32(float(c.damp_frac)));
  }
  {
    char b[200];
    std::snprintf(b, sizeof b, "calibration: %llu tokens (%lld chunks) in %.1f s; largest linear input |x| %.4g",
                  (unsigned long long)as.tokens, (long long)((n_cal + per - 1) / per), S.calib_seconds,
                  double(S.act_amax_max));
    log(b);
    if (c.compensate) {
      std::snprintf(b, sizeof b, "error-compensating rounding: %u x %d input factors in %.1f s (%d fell back to nearest)",
                    hp.n_layer, f8model::kSiteCount, S.factor_seconds, S.factor_fallbacks);
      log(b);
    }
  }

  // 4. Sensitivity and the format choice.
  if (c.auto_bits > 0) {
    const double t1 = now_s();
    std::vector<int32_t> held;
    if (bos >= 0) held.push_back(bos);
    const int64_t h0 = n_cal, h1 = std::min<int64_t>(int64_t(ids.size()), n_cal + c.heldout_tokens - (bos >= 0));
    held.insert(held.end(), ids.begin() + h0, ids.begin() + h1);
    S.heldout_tokens = held.size();
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
      S.sensitivity.push_back(std::move(ts));
      if (c.log && (i + 1) % 20 == 0) {
        char b[120];
        std::snprintf(b, sizeof b, "auto-format: %zu/%zu tensors measured (%.0f s)", i + 1, names.size(),
                      now_s() - t1);
        log(b);
      }
    }
    if (Status st = choose_formats(S.sensitivity, c.auto_bits, &S.choice); !st.ok()) return st;
    S.sensitivity_seconds = now_s() - t1;
    std::vector<std::string> tn, ch;
    std::vector<float> kl_ch, kl_opt[4];
    for (size_t i = 0; i < S.sensitivity.size(); ++i) {
      const TensorSensitivity& ts = S.sensitivity[i];
      const FormatOption& op = opts[size_t(S.choice.option[i])];
      fin.tensor_choice[ts.name] = {op.weights, op.scale, op.block};
      tn.push_back(ts.name);
      ch.push_back(op.name);
      kl_ch.push_back(float(ts.kl[size_t(S.choice.option[i])]));
      for (size_t j = 0; j < opts.size() && j < 4; ++j) kl_opt[j].push_back(float(ts.kl[j]));
    }
    md("quant.auto.budget_bits", Value::f32(float(c.auto_bits)));
    md("quant.auto.mean_bits", Value::f32(float(S.choice.mean_bits)));
    md("quant.auto.heldout_tokens", Value::u64(S.heldout_tokens));
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
                  S.sensitivity.size(), (unsigned long long)S.heldout_tokens, S.sensitivity_seconds,
                  S.choice.mean_bits, c.auto_bits, S.choice.kl_sum);
    log(b);
  }
  model.reset();
  file.reset();

  // 5. The real conversion.
  fin.requantize = requantize;
  Status st = convert_checkpoint(fin, rep);
  if (st.ok() && rep) rep->warnings.insert(rep->warnings.end(), warnings.begin(), warnings.end());
  return st;
}

}  // namespace f8conv
