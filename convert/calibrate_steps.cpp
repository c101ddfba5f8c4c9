// calibrate_steps.cpp — steps 1-3 of convert_calibrated and the static
// scales (calibrate_steps.h); step 4 is in auto_format_run.cpp.
#include "convert/calibrate_steps.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "ggf8/keys.h"
#include "model/context.h"

namespace f8conv {

using ggf8::Code;
using ggf8::Status;
using ggf8::Value;

double calib_now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Status from_model(const f8model::Status& s, const std::string& what) {
  return Status::Error(s.code == f8model::Code::OutOfMemory ? Code::Io : Code::InvalidArgument,
                       what + ": " + s.message);
}

CalibModel::TempFile::~TempFile() {
  if (!path.empty()) ::unlink(path.c_str());
}

Status load_bf16_model(const ConvertOptions& o, CalibModel* cm) {
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
  cm->tmp.path = t.output;
  if (tr.n_imported_fp8 > 0)
    return Status::Error(Code::InvalidArgument, o.model_dir + ": --calibrate needs a checkpoint in F32/F16/BF16 (" +
                                                    std::to_string(tr.n_imported_fp8) + " tensors are already FP8)");
  if (Status s = ggf8::File::open(cm->tmp.path, &cm->file); !s.ok()) return s;
  if (f8model::Status ms = f8model::Model::load(*cm->file, {}, &cm->model); !ms.ok())
    return from_model(ms, "calibration model");
  if (Status s = f8tok::load_from_file(*cm->file, &cm->tok); !s.ok())
    return Status::Error(s.code, "--calibrate needs the model's tokenizer: " + s.message);
  const f8model::HParams& hp = cm->model->hparams();
  if (hp.is_mla())  // its linear inputs (q_a's output, the latent) are not the sites calibration records
    return Status::Error(Code::InvalidArgument, o.model_dir + ": --calibrate is not implemented for multi-head latent "
                                                              "attention models (" + hp.arch_str + "); convert without it");
  return Status::Ok();
}

Status split_text(const CalibOptions& c, const f8tok::Tokenizer& tok, const std::string& text,
                  std::vector<int32_t>* ids, int64_t* n_cal, CalibSummary* S) {
  f8tok::EncodeOptions eo;
  eo.add_special = false;
  eo.parse_special = false;
  if (Status st = tok.encode(text, eo, ids); !st.ok()) return st;
  S->text_tokens = ids->size();
  const int64_t n = int64_t(ids->size());
  const int64_t need_heldout = c.auto_bits > 0 ? std::max<int64_t>(kMinHeldout, 1) : 0;
  if (n < kMinCalibTokens + need_heldout)
    return Status::Error(Code::InvalidArgument,
                         "--calibrate " + c.text_path + ": the text is too short (" + std::to_string(n) +
                             " tokens; calibration needs at least " + std::to_string(kMinCalibTokens + need_heldout) +
                             (c.auto_bits > 0 ? ", --auto-format " + std::to_string(kMinHeldout) + " more held out" : "") +
                             ")");
  *n_cal = std::min<int64_t>(c.calib_tokens, n - need_heldout);
  if (c.auto_bits > 0 && n - *n_cal < c.heldout_tokens)
    *n_cal = std::max<int64_t>(kMinCalibTokens, n - c.heldout_tokens);
  if (*n_cal < c.calib_tokens && c.log)
    c.log("calibration: the text has " + std::to_string(n) + " tokens; using " + std::to_string(*n_cal) +
          (c.auto_bits > 0 ? " for the statistics and the rest for --auto-format" : ""));
  S->calib_tokens = uint64_t(*n_cal);
  return Status::Ok();
}

Status collect_stats(f8model::Model& model, const std::vector<int32_t>& ids, int64_t n_cal, int32_t bos,
                     const CalibOptions& c, ThreadPool& pool, f8model::ActStats* as) {
  const f8model::HParams& hp = model.hparams();
  as->reset(int32_t(hp.n_layer), int32_t(hp.n_head_kv), int32_t(hp.head_dim));
  if (c.compensate) {
    // sum x x^T per distinct linear input (q/k/v share one, gate/up one),
    // spread over the converter's pool between the model's own GEMMs.
    as->parallel = [&pool](size_t n, const std::function<void(size_t)>& fn) { pool.run(n, fn); };
    as->enable_moments({int64_t(hp.n_embd), int64_t(hp.q_dim()), int64_t(hp.n_embd), int64_t(hp.n_ff)});
  }
  f8model::ContextParams cp;
  cp.n_ctx = c.chunk;
  cp.n_batch = c.chunk;
  cp.n_threads = int32_t(pool.size());
  cp.kv_type = ggf8::DType::F32;
  std::unique_ptr<f8model::Context> ctx;
  if (f8model::Status ms = f8model::Context::create(model, cp, &ctx); !ms.ok()) return from_model(ms, "calibration");
  ctx->record_act_stats(as);
  const int32_t per = bos >= 0 ? c.chunk - 1 : c.chunk;
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
    as->tokens += uint64_t(n);
  }
  return Status::Ok();
}

const RoundingFactor* Compensation::factor_for(const std::string& name) const {
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
}

void factor_inputs(f8model::ActStats& as, uint32_t n_layer, const CalibOptions& c, ThreadPool& pool,
                   Compensation* comp, CalibSummary* S) {
  const double tf = calib_now_s();
  comp->factors.resize(n_layer);
  static const char* kSiteWeights[f8model::kSiteCount] = {"attn_q/attn_k/attn_v", "attn_output", "ffn_gate/ffn_up",
                                                          "ffn_down"};
  for (uint32_t l = 0; l < n_layer; ++l)
    for (int s = 0; s < f8model::kSiteCount; ++s) {
      f8model::SecondMoment& m = as.moment[l][size_t(s)];
      m.symmetric();
      const std::string what = "blk." + std::to_string(l) + "." + kSiteWeights[s];
      auto f = std::make_unique<RoundingFactor>();
      Status st = rounding_factor(what, m.xtx.data(), m.dim, c.damp_frac, pool, f.get(), c.act_order);
      std::vector<float>().swap(m.xtx);
      if (!st.ok()) {
        comp->warnings.push_back(st.message + " (nearest rounding for these weights)");
        S->factor_fallbacks++;
        continue;
      }
      comp->factors[l][size_t(s)] = std::move(f);
    }
  S->factor_seconds = calib_now_s() - tf;
}

RequantizeFn make_requantize(Compensation& comp, ThreadPool& pool) {
  return [&comp, &pool](const std::string& name, const SrcMatrix& src, std::vector<uint8_t>* codes,
                        QuantResult* qr) -> Status {
    const RoundingFactor* f = comp.factor_for(name);
    if (!f || f->n != int64_t(src.cols)) return Status::Ok();
    if (Status st = round_compensated(name, src, *f, pool, codes, qr); !st.ok()) {
      const std::string w = st.message + " (nearest rounding kept)";
      if (std::find(comp.warnings.begin(), comp.warnings.end(), w) == comp.warnings.end()) comp.warnings.push_back(w);
    }
    return Status::Ok();
  };
}

void static_scales(const f8model::ActStats& as, const f8model::HParams& hp, const CalibOptions& c,
                   ConvertOptions* fin, CalibSummary* S) {
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
      S->act_amax_max = std::max(S->act_amax_max, h.amax);
    }
  static const char* kSiteTensors[f8model::kSiteCount][3] = {
      {"attn_q", "attn_k", "attn_v"}, {"attn_output", nullptr, nullptr}, {"ffn_gate", "ffn_up", nullptr},
      {"ffn_down", nullptr, nullptr}};
  for (uint32_t l = 0; l < hp.n_layer; ++l)
    for (int s = 0; s < f8model::kSiteCount; ++s)
      for (const char* tname : kSiteTensors[s])
        if (tname)
          fin->extra_scalars["blk." + std::to_string(l) + "." + tname + ".input_scale"] =
              site_scale[size_t(l) * f8model::kSiteCount + size_t(s)];
  const int64_t H = as.n_kv_heads;
  S->k_scale.assign(hp.n_layer, 1.0f);
  S->v_scale.assign(hp.n_layer, 1.0f);
  for (uint32_t l = 0; l < hp.n_layer; ++l) {
    float km = 0, vm = 0;
    for (int64_t h = 0; h < H; ++h) {
      km = std::max(km, as.k_amax[size_t(l * H + h)]);
      vm = std::max(vm, as.v_amax[size_t(l * H + h)]);
    }
    if (km > 0) S->k_scale[l] = km * c.kv_headroom / kE4M3Max;
    if (vm > 0) S->v_scale[l] = vm * c.kv_headroom / kE4M3Max;
    fin->extra_scalars["blk." + std::to_string(l) + ".attn_k.kv_scale"] = S->k_scale[l];
    fin->extra_scalars["blk." + std::to_string(l) + ".attn_v.kv_scale"] = S->v_scale[l];
  }
  auto md = [&](std::string k, Value v) { fin->extra_metadata.push_back({std::move(k), std::move(v)}); };
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

}  // namespace f8conv
