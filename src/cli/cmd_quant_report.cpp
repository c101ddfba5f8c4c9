// cmd_quant_report.cpp — `f8 quant-report M.f8 [--base BASE.f8 -f TEXT] --html OUT.html`:
// what quantization did to a model, as one self-contained HTML page (inline
// SVG, no scripts, no network) and a short terminal table.
//
// From M alone: per tensor its stored format (dtype + scale kind), SQNR,
// saturation and flush rates (quant.stats.*), the --auto-format decision and
// measured KL (quant.auto.*), and the calibration's activation / KV ranges
// (quant.calib.*). With a base model and a text: the PPL / KL / p99 KL /
// same-top summary of M against the base (M as it runs: --kv-type, and
// --emulate-gpu for the GPU's activation quantization), and the per-layer KL:
// the base with only layer l's linear weights taken from M (weights only, F32
// KV), over --layer-chunks chunks.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "args.h"
#include "command.h"
#include "ggf8/keys.h"
#include "model/context.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util_io.h"
#include "util_quant.h"

namespace f8cli {
namespace {

const char* kKinds[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
constexpr int kNKinds = 7;
const char* kKindColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"};

struct TensorRow {
  std::string name;
  int layer = -1, kind = -1;  // kind: index into kKinds; -1 = other (output.weight)
  std::string dtype, scale, format;
  double sqnr = NAN, sat = NAN, flush = NAN, max_err = NAN;
  double auto_kl = NAN;
  uint64_t params = 0, bytes = 0;
};

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

std::string num(double x, const char* f = "%.4g") {
  if (!std::isfinite(x)) return std::isnan(x) ? "-" : (x > 0 ? "inf" : "-inf");
  char b[48];
  std::snprintf(b, sizeof b, f, x);
  return b;
}

// ---- inline SVG charts -------------------------------------------------------
struct Series {
  std::string name, color;
  std::vector<double> y;  // per x index; NaN = no point
};

// A line chart over x = 0..n-1 (layers). log: log10 y axis (values <= 0 skipped).
std::string line_chart(const std::string& title, const std::string& ylabel, const std::vector<Series>& ss, int n,
                       bool log = false, bool bars = false, bool nonneg = false) {
  const double W = 880, H = 260, L = 84, R = 150, T = 28, B = 36;
  double lo = INFINITY, hi = -INFINITY;
  auto tr = [&](double v) { return log ? std::log10(v) : v; };
  for (const auto& s : ss)
    for (double v : s.y)
      if (std::isfinite(v) && (!log || v > 0)) {
        lo = std::min(lo, tr(v));
        hi = std::max(hi, tr(v));
      }
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' class='chart' width='" << W << "' height='" << H << "' viewBox='0 0 "
    << W << " " << H << "' role='img' aria-label='" << esc(title) << "'>";
  o << "<text x='" << L << "' y='18' class='ct'>" << esc(title) << "</text>";
  if (!std::isfinite(lo)) {
    o << "<text x='" << L << "' y='" << H / 2 << "' class='muted'>no data</text></svg>";
    return o.str();
  }
  if ((bars || nonneg) && !log) lo = std::min(lo, 0.0);
  if (nonneg && hi - lo < 1e-12) hi = lo + 1;
  if (hi - lo < 1e-12) {
    hi += log ? 0.5 : std::max(1e-6, std::fabs(hi) * 0.1);
    lo -= log ? 0.5 : (bars ? 0 : std::max(1e-6, std::fabs(lo) * 0.1));
  }
  const double pad = (hi - lo) * 0.05;
  if (!((bars || nonneg) && lo == 0)) lo -= pad;
  hi += pad;
  const double pw = W - L - R, ph = H - T - B;
  auto X = [&](double i) { return L + (n <= 1 ? pw / 2 : pw * (i + 0.5) / n); };
  auto Y = [&](double v) { return T + ph * (1 - (tr(v) - lo) / (hi - lo)); };
  // grid + y ticks
  for (int k = 0; k <= 4; ++k) {
    const double t = lo + (hi - lo) * k / 4;
    const double y = T + ph * (1 - double(k) / 4);
    o << "<line x1='" << L << "' x2='" << L + pw << "' y1='" << y << "' y2='" << y << "' class='grid'/>";
    o << "<text x='" << L - 6 << "' y='" << y + 4 << "' class='tick' text-anchor='end'>"
      << num(log ? std::pow(10.0, t) : t, "%.3g") << "</text>";
  }
  const int step = std::max(1, n / 16);
  for (int i = 0; i < n; i += step)
    o << "<text x='" << X(i) << "' y='" << T + ph + 16 << "' class='tick' text-anchor='middle'>" << i << "</text>";
  o << "<text x='" << L + pw / 2 << "' y='" << H - 4 << "' class='tick' text-anchor='middle'>layer</text>";
  o << "<text transform='translate(14," << T + ph / 2 << ") rotate(-90)' class='tick' text-anchor='middle'>"
    << esc(ylabel) << "</text>";
  const size_t ns = ss.size();
  for (size_t si = 0; si < ns; ++si) {
    const Series& s = ss[si];
    if (bars) {
      const double bw = std::max(1.0, pw / std::max(1, n) / double(ns) * 0.8);
      for (int i = 0; i < n && i < int(s.y.size()); ++i) {
        const double v = s.y[size_t(i)];
        if (!std::isfinite(v) || (log && v <= 0)) continue;
        const double x = X(i) - bw * double(ns) / 2 + bw * double(si);
        const double y0 = log ? T + ph : Y(std::max(lo, 0.0)), y1 = Y(v);
        o << "<rect x='" << x << "' y='" << std::min(y0, y1) << "' width='" << bw << "' height='"
          << std::max(0.5, std::fabs(y0 - y1)) << "' fill='" << s.color << "'><title>" << esc(s.name) << " layer " << i
          << ": " << num(v, "%.5g") << "</title></rect>";
      }
    } else {
      std::string path;
      for (int i = 0; i < n && i < int(s.y.size()); ++i) {
        const double v = s.y[size_t(i)];
        if (!std::isfinite(v) || (log && v <= 0)) continue;
        char b[64];
        std::snprintf(b, sizeof b, "%s%.1f,%.1f", path.empty() ? "M" : " L", X(i), Y(v));
        path += b;
        o << "<circle cx='" << X(i) << "' cy='" << Y(v) << "' r='2.5' fill='" << s.color << "'><title>"
          << esc(s.name) << " layer " << i << ": " << num(v, "%.5g") << "</title></circle>";
      }
      if (!path.empty())
        o << "<path d='" << path << "' fill='none' stroke='" << s.color << "' stroke-width='1.5'/>";
    }
    o << "<rect x='" << L + pw + 14 << "' y='" << T + 4 + 16 * si << "' width='10' height='10' fill='" << s.color
      << "'/><text x='" << L + pw + 30 << "' y='" << T + 13 + 16 * si << "' class='tick'>" << esc(s.name)
      << "</text>";
  }
  o << "</svg>";
  return o.str();
}

std::string format_color(const std::string& f) {
  if (f == "e4m3/channel") return "#4c78a8";
  if (f == "e4m3/block") return "#72b7b2";
  if (f == "e4m3/tensor") return "#9ecae9";
  if (f.rfind("e5m2", 0) == 0) return "#f58518";
  if (f == "bf16") return "#54a24b";
  return "#bab0ac";
}

// Layers x tensor kinds, each cell coloured by its stored format.
std::string format_grid(const std::vector<TensorRow>& rows, int n_layer) {
  const double cw = 26, ch = 18, L = 90, T = 30;
  const double W = std::max(480.0, L + cw * std::max(1, n_layer) + 20), H = T + ch * kNKinds + 60;
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' class='chart' width='" << W << "' height='" << H << "' viewBox='0 0 "
    << W << " " << H << "' role='img' aria-label='format per tensor'>";
  o << "<text x='" << L << "' y='18' class='ct'>Stored format per tensor (hover for details)</text>";
  std::set<std::string> used;
  for (const auto& r : rows) {
    if (r.layer < 0 || r.kind < 0) continue;
    used.insert(r.format);
    const double x = L + cw * r.layer, y = T + ch * r.kind;
    o << "<rect class='cell' x='" << x << "' y='" << y << "' width='" << cw - 2 << "' height='" << ch - 2
      << "' fill='" << format_color(r.format) << "'><title>" << esc(r.name) << ": " << esc(r.format)
      << ", SQNR " << num(r.sqnr, "%.2f") << " dB" << (std::isnan(r.auto_kl) ? "" : ", KL " + num(r.auto_kl, "%.3g"))
      << "</title></rect>";
  }
  for (int k = 0; k < kNKinds; ++k)
    o << "<text x='" << L - 6 << "' y='" << T + ch * k + 12 << "' class='tick' text-anchor='end'>" << kKinds[k]
      << "</text>";
  for (int l = 0; l < n_layer; l += std::max(1, n_layer / 16))
    o << "<text x='" << L + cw * l + cw / 2 - 1 << "' y='" << T + ch * kNKinds + 12
      << "' class='tick' text-anchor='middle'>" << l << "</text>";
  double lx = L;
  for (const auto& f : used) {
    o << "<rect x='" << lx << "' y='" << H - 22 << "' width='12' height='12' fill='" << format_color(f)
      << "'/><text x='" << lx + 16 << "' y='" << H - 12 << "' class='tick'>" << esc(f) << "</text>";
    lx += 24 + 8 * double(f.size());
  }
  o << "</svg>";
  return o.str();
}

// ---- model runs (base + text) ---------------------------------------------------
struct Loaded {
  std::unique_ptr<ggf8::File> file;
  std::unique_ptr<f8model::Model> model;
};

int load(const std::string& path, Loaded* L) {
  ggf8::Status s = ggf8::File::open(path, &L->file);
  if (!s.ok()) return fail(1, s.message);
  f8model::Status ms = f8model::Model::load(*L->file, {}, &L->model);
  if (!ms.ok()) return fail(1, path + ": " + ms.message);
  return 0;
}

void log_softmax(const float* x, int64_t n, std::vector<double>* out) {
  out->resize(size_t(n));
  double mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, double(x[i]));
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(double(x[i]) - mx);
  const double lse = mx + std::log(s);
  for (int64_t i = 0; i < n; ++i) (*out)[size_t(i)] = double(x[i]) - lse;
}

// Log-probs of the scored positions of one chunk (second half, as f8 perplexity).
f8model::Status chunk_logprobs(f8model::Context& c, const std::vector<int32_t>& t, int64_t V,
                               std::vector<std::vector<double>>* out) {
  c.clear();
  const int32_t n = int32_t(t.size()), first = n / 2;
  std::vector<int32_t> pos(static_cast<size_t>(n)), seq(static_cast<size_t>(n), 0);
  std::vector<int8_t> want(static_cast<size_t>(n), 0);
  for (int32_t i = 0; i < n; ++i) {
    pos[size_t(i)] = i;
    want[size_t(i)] = i >= first && i < n - 1;
  }
  f8model::Status st = c.decode({n, t.data(), pos.data(), seq.data(), want.data()});
  if (!st.ok()) return st;
  out->clear();
  for (int32_t i = first; i < n - 1; ++i) {
    const float* lg = c.logits(i, &st);
    if (!lg) return st;
    out->emplace_back();
    log_softmax(lg, V, &out->back());
  }
  return f8model::Status::Ok();
}

double kl_of(const std::vector<double>& b, const std::vector<double>& m) {
  double kl = 0;
  for (size_t j = 0; j < b.size(); ++j) kl += std::exp(b[j]) * (b[j] - m[j]);
  return std::max(0.0, kl);
}

size_t argmax(const std::vector<double>& v) { return size_t(std::max_element(v.begin(), v.end()) - v.begin()); }

struct Summary {
  bool have = false;
  int64_t tokens = 0;
  double ppl_m = 0, ppl_b = 0, kl = 0, kl_se = 0, kl_p99 = 0, same_top = 0;
  std::vector<double> layer_kl;
  int64_t layer_tokens = 0;
  std::string kv, mode;
};

int run_report(int argc, char** argv) {
  std::string path, base_path, text_path, html, kv = "fp8";
  int64_t chunk = 512, chunks = 4, layer_chunks = 1, threads = 0;
  bool emulate = false;
  ArgParser p("f8 quant-report", "M.f8 [--base BASE.f8 -f TEXT] --html OUT.html",
              "What quantization did to a model: per-tensor SQNR, saturation and flush rates by layer, the format\n"
              "chosen per tensor, calibration ranges, and with a base model and a text the PPL / KL / same-top\n"
              "summary and the KL each layer's quantized weights cause. One self-contained HTML page (inline SVG)\n"
              "and a short table on stdout.");
  p.positional("M.f8", &path, "the quantized model");
  p.option("--base", &base_path, "BASE.f8", "reference model (e.g. the BF16 conversion)");
  p.option("-f,--file", &text_path, "TEXT", "UTF-8 text for the KL measurements (with --base)");
  p.option("--html", &html, "OUT.html", "write the report page here");
  p.option("--chunk", &chunk, "N", "tokens per chunk (second half scored)");
  p.option("--chunks", &chunks, "N", "chunks for the PPL/KL summary");
  p.option("--layer-chunks", &layer_chunks, "N", "chunks for the per-layer KL (0 = skip it)");
  p.option("--kv-type", &kv, "fp8|fp8-layer|int8|f32|bf16",
           "KV cache of M in the summary, as f8 generate runs it (the base always runs F32)");
  p.flag("--emulate-gpu", &emulate, "run M's FP8 GEMMs with quantized activations, as the GPU does");
  p.option("-t,--threads", &threads, "N", "threads (0 = all cores)");
  p.epilog("example:\n  f8 quant-report smollm2-auto.f8 --base smollm2-bf16.f8 -f genesis.txt --html report.html");
  int rc = 0;
  if (!p.parse(argc, argv, &rc)) return rc;
  if (base_path.empty() != text_path.empty()) return fail(2, "f8 quant-report: --base and -f go together");
  if (chunk < 16 || chunk > 65536) return fail(2, "--chunk: expected 16..65536");
  if (chunks < 1 || layer_chunks < 0) return fail(2, "--chunks must be >= 1 and --layer-chunks >= 0");
  ggf8::DType kv_type;
  if (kv == "fp8" || kv == "e4m3" || kv == "fp8-layer") kv_type = ggf8::DType::E4M3;
  else if (kv == "int8") kv_type = ggf8::DType::I8;
  else if (kv == "f32") kv_type = ggf8::DType::F32;
  else if (kv == "bf16") kv_type = ggf8::DType::BF16;
  else if (kv == "f16") kv_type = ggf8::DType::F16;
  else return fail(2, "--kv-type: expected fp8, fp8-layer, int8, f32, bf16 or f16");
  // fp8 / int8: per-token scales and K centering, as the runtime's default
  // (docs/runtime.md "KV cache"); not for MLA models (per-layer scales there).
  const bool token_kv = (kv_type == ggf8::DType::E4M3 && kv != "fp8-layer") || kv_type == ggf8::DType::I8;
  if (threads <= 0) threads = std::max(1u, std::thread::hardware_concurrency());

  Loaded M;
  if (int e = load(path, &M)) return e;
  const ggf8::File& f = *M.file;
  const f8model::HParams& hp = M.model->hparams();
  const int n_layer = int(hp.n_layer);

  // Per-tensor rows: every weight matrix that is quantized or a linear layer.
  std::map<std::string, size_t> idx;
  std::vector<TensorRow> rows;
  for (const auto& t : f.tensors()) {
    if (t.dims.size() != 2 || t.name == "token_embd.weight") continue;
    TensorRow r;
    r.name = t.name;
    unsigned l = 0;
    char field[64] = {0};
    int used = 0;
    if (std::sscanf(t.name.c_str(), "blk.%u.%63[a-z_].weight%n", &l, field, &used) == 2 && used > 0 &&
        size_t(used) == t.name.size()) {
      r.layer = int(l);
      for (int k = 0; k < kNKinds; ++k)
        if (field == std::string(kKinds[k])) r.kind = k;
    }
    if (r.kind < 0 && t.name != "output.weight") continue;
    r.dtype = ggf8::dtype_name(t.dtype);
    r.scale = ggf8::scale_kind_name(t.scale_kind);
    r.format = r.dtype;
    if (t.dtype == ggf8::DType::E4M3 || t.dtype == ggf8::DType::E5M2) r.format += "/" + r.scale;
    r.params = t.count();
    r.bytes = t.nbytes;
    if (const ggf8::TensorInfo* s = f.tensor(t.scale_name); s && !t.scale_name.empty()) r.bytes += s->nbytes;
    idx[r.name] = rows.size();
    rows.push_back(r);
  }
  {
    const ggf8::Value* names = f.find(ggf8::keys::kQuantStatNames);
    auto col = [&](const char* k) {
      std::vector<float> v;
      if (const ggf8::Value* x = f.find(k)) x->to_f32_vector(&v);
      return v;
    };
    auto sq = col(ggf8::keys::kQuantStatSqnr), sa = col(ggf8::keys::kQuantStatSat),
         fl = col(ggf8::keys::kQuantStatFlush), me = col(ggf8::keys::kQuantStatMaxErr);
    if (names && names->strings())
      for (size_t i = 0; i < names->strings()->size(); ++i) {
        auto it = idx.find((*names->strings())[i]);
        if (it == idx.end()) continue;
        TensorRow& r = rows[it->second];
        if (i < sq.size()) r.sqnr = sq[i];
        if (i < sa.size()) r.sat = sa[i];
        if (i < fl.size()) r.flush = fl[i];
        if (i < me.size()) r.max_err = me[i];
      }
  }
  double budget = 0, mean_bits = 0;
  const auto choices = auto_choices(f, &budget, &mean_bits);
  for (const auto& c : choices)
    if (auto it = idx.find(c.tensor); it != idx.end()) rows[it->second].auto_kl = c.kl;
  uint64_t lin_params = 0, lin_bytes = 0;
  for (const auto& r : rows) {
    lin_params += r.params;
    lin_bytes += r.bytes;
  }

  // Base + text: summary and per-layer KL.
  Summary S;
  if (!base_path.empty()) {
    Loaded B;
    if (int e = load(base_path, &B)) return e;
    const f8model::HParams& bh = B.model->hparams();
    if (bh.n_layer != hp.n_layer || bh.n_embd != hp.n_embd || bh.n_vocab != hp.n_vocab || bh.n_ff != hp.n_ff)
      return fail(1, "--base " + base_path + " is not the same architecture as " + path);
    std::string text;
    if (!read_file(text_path, &text)) return fail(1, "cannot read " + text_path);
    std::unique_ptr<f8tok::Tokenizer> tok;
    if (ggf8::Status ts = f8tok::load_from_file(f, &tok); !ts.ok()) return fail(1, path + ": " + ts.message);
    std::vector<int32_t> ids;
    f8tok::EncodeOptions eo;
    eo.add_special = false;
    eo.parse_special = false;
    if (ggf8::Status ts = tok->encode(text, eo, &ids); !ts.ok()) return fail(1, text_path + ": " + ts.message);
    const int32_t bos = tok->bos_id();
    const int64_t per = bos >= 0 ? chunk - 1 : chunk;
    const int64_t avail = int64_t(ids.size()) / per;
    if (avail < 1)
      return fail(1, text_path + ": " + std::to_string(ids.size()) + " tokens, need at least " + std::to_string(per) +
                         " for one chunk (use a smaller --chunk)");
    chunks = std::min(chunks, avail);
    layer_chunks = std::min(layer_chunks, avail);
    auto chunk_tokens = [&](int64_t c) {
      std::vector<int32_t> t;
      if (bos >= 0) t.push_back(bos);
      t.insert(t.end(), ids.begin() + c * per, ids.begin() + (c + 1) * per);
      return t;
    };
    const int64_t V = hp.n_vocab;
    f8model::ContextParams bp;
    bp.n_ctx = int32_t(chunk);
    bp.n_batch = int32_t(chunk);
    bp.n_threads = int32_t(threads);
    bp.kv_type = ggf8::DType::F32;
    std::unique_ptr<f8model::Context> bc, mc;
    f8model::Status ms = f8model::Context::create(*B.model, bp, &bc);
    if (!ms.ok()) return fail(1, "base context: " + ms.message);
    f8model::ContextParams mp = bp;
    mp.kv_type = kv_type;
    mp.emulate_gpu = emulate;
    mp.kv_token_scales = token_kv && !hp.is_mla();
    if (kv_type == ggf8::DType::I8 && !mp.kv_token_scales) return fail(1, "--kv-type int8: not for an MLA model");
    if (mp.kv_token_scales && hp.attn_softcap == 0) {
      // The runtime measures K's mean on its built-in text; here the first chunk.
      ms = f8model::calibrate_k_center(*M.model, chunk_tokens(0), int32_t(threads), "cpu", &mp.k_center);
      if (!ms.ok()) return fail(1, "k centering: " + ms.message);
    }
    const bool fp8kv = kv_type == ggf8::DType::E4M3 && !mp.kv_token_scales;
    if (fp8kv && !M.model->host_weights().has_kv_scales) {
      // As the runtime does for a file without KV scales: measured at load.
      ms = f8model::calibrate_kv_scales(*M.model, chunk_tokens(0), kv_type, int32_t(threads), "cpu", &mp.k_scale,
                                        &mp.v_scale);
      if (!ms.ok()) return fail(1, "kv scales: " + ms.message);
    }
    ms = f8model::Context::create(*M.model, mp, &mc);
    if (!ms.ok()) return fail(1, "model context: " + ms.message);
    S.kv = mp.kv_token_scales ? kv + " (per-token scales" + (mp.k_center.empty() ? ")" : ", K centered)")
           : fp8kv        ? kv + " (" + (M.model->host_weights().has_kv_scales ? "file scales" : "measured") + ")"
                          : kv;
    S.mode = emulate ? "--emulate-gpu (W8A8)" : "CPU (weight-only FP8)";
    std::vector<std::vector<double>> lb, lm;
    std::vector<double> kls;
    double nll_m = 0, nll_b = 0, same = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      const auto t = chunk_tokens(c);
      if (!(ms = chunk_logprobs(*bc, t, V, &lb)).ok()) return fail(1, "base: " + ms.message);
      if (!(ms = chunk_logprobs(*mc, t, V, &lm)).ok()) return fail(1, path + ": " + ms.message);
      const size_t first = t.size() / 2;
      for (size_t j = 0; j < lb.size(); ++j) {
        const int32_t next = t[first + j + 1];
        nll_m -= lm[j][size_t(next)];
        nll_b -= lb[j][size_t(next)];
        kls.push_back(kl_of(lb[j], lm[j]));
        same += argmax(lb[j]) == argmax(lm[j]);
      }
      std::fprintf(stderr, "\rsummary: chunk %lld/%lld", (long long)c + 1, (long long)chunks);
    }
    std::fprintf(stderr, "\n");
    const double n = double(kls.size());
    S.have = true;
    S.tokens = int64_t(kls.size());
    S.ppl_m = std::exp(nll_m / n);
    S.ppl_b = std::exp(nll_b / n);
    double s1 = 0, s2 = 0;
    for (double k : kls) {
      s1 += k;
      s2 += k * k;
    }
    S.kl = s1 / n;
    S.kl_se = n > 1 ? std::sqrt(std::max(0.0, (s2 - n * S.kl * S.kl) / (n - 1)) / n) : 0;
    std::sort(kls.begin(), kls.end());
    S.kl_p99 = kls[std::min(kls.size() - 1, size_t(0.99 * n))];
    S.same_top = 100.0 * same / n;

    // Per-layer KL: the base with only layer l's linear weights from M.
    if (layer_chunks > 0) {
      f8model::BackendWeights *bw = nullptr, *mw = nullptr;
      if (!(ms = B.model->backend("cpu", &bw)).ok() || !(ms = M.model->backend("cpu", &mw)).ok())
        return fail(1, ms.message);
      std::vector<std::vector<std::vector<double>>> base_lp(static_cast<size_t>(layer_chunks));
      for (int64_t c = 0; c < layer_chunks; ++c)
        if (!(ms = chunk_logprobs(*bc, chunk_tokens(c), V, &base_lp[size_t(c)])).ok()) return fail(1, ms.message);
      S.layer_kl.assign(size_t(n_layer), 0.0);
      for (int l = 0; l < n_layer; ++l) {
        f8model::LayerWeights& BL = bw->weights.layers[size_t(l)];
        const f8model::LayerWeights& ML = mw->weights.layers[size_t(l)];
        const f8model::LayerWeights saved = BL;
        BL.wq = ML.wq;
        BL.wk = ML.wk;
        BL.wv = ML.wv;
        BL.wo = ML.wo;
        BL.gate = ML.gate;
        BL.up = ML.up;
        BL.down = ML.down;
        double tot = 0;
        int64_t cnt = 0;
        for (int64_t c = 0; c < layer_chunks && ms.ok(); ++c) {
          ms = chunk_logprobs(*bc, chunk_tokens(c), V, &lm);
          for (size_t j = 0; ms.ok() && j < lm.size(); ++j, ++cnt) tot += kl_of(base_lp[size_t(c)][j], lm[j]);
        }
        BL = saved;
        if (!ms.ok()) return fail(1, ms.message);
        S.layer_kl[size_t(l)] = cnt ? tot / double(cnt) : 0;
        S.layer_tokens = cnt;
        std::fprintf(stderr, "\rper-layer KL: layer %d/%d", l + 1, n_layer);
      }
      std::fprintf(stderr, "\n");
    }
  }

  // Per-layer aggregates.
  std::vector<double> l_sqnr_min(size_t(n_layer), NAN), l_sat(size_t(n_layer), NAN), l_flush(size_t(n_layer), NAN);
  std::vector<std::map<std::string, int>> l_fmt(static_cast<size_t>(n_layer));
  for (const auto& r : rows) {
    if (r.layer < 0) continue;
    const size_t l = size_t(r.layer);
    l_fmt[l][r.format]++;
    if (std::isfinite(r.sqnr)) l_sqnr_min[l] = std::isnan(l_sqnr_min[l]) ? r.sqnr : std::min(l_sqnr_min[l], r.sqnr);
    if (!std::isnan(r.sat)) l_sat[l] = std::isnan(l_sat[l]) ? r.sat : std::max(l_sat[l], r.sat);
    if (!std::isnan(r.flush)) l_flush[l] = std::isnan(l_flush[l]) ? r.flush : std::max(l_flush[l], r.flush);
  }

  // ---- terminal table ----
  std::string qw, qs;
  f.get_str(ggf8::keys::kQuantWeights, &qw);
  f.get_str(ggf8::keys::kQuantScale, &qs);
  std::printf("%s: %s weights, %s scales; %zu linear tensors, %.3f bits per weight (codes + scales)\n", path.c_str(),
              qw.empty() ? "?" : qw.c_str(), qs.empty() ? "?" : qs.c_str(), rows.size(),
              lin_params ? 8.0 * double(lin_bytes) / double(lin_params) : 0.0);
  if (!choices.empty())
    std::printf("auto-format: budget %.3g bits, mean %.3f bits per weight\n", budget, mean_bits);
  std::printf("%5s  %9s  %8s  %8s  %-28s%s\n", "layer", "min SQNR", "max sat%", "max fl%", "formats",
              S.layer_kl.empty() ? "" : "  layer KL");
  for (int l = 0; l < n_layer; ++l) {
    std::string fm;
    for (const auto& [k, v] : l_fmt[size_t(l)]) fm += (fm.empty() ? "" : " ") + k + "x" + std::to_string(v);
    std::printf("%5d  %9s  %8s  %8s  %-28s", l, num(l_sqnr_min[size_t(l)], "%.2f").c_str(),
                num(l_sat[size_t(l)], "%.3f").c_str(), num(l_flush[size_t(l)], "%.3f").c_str(), fm.c_str());
    if (!S.layer_kl.empty()) std::printf("  %.5f", S.layer_kl[size_t(l)]);
    std::printf("\n");
  }
  if (S.have)
    std::printf("vs base (%lld tokens, KV %s, %s): PPL %.4f (base %.4f), KL %.5f +/- %.5f, p99 KL %.4f, same top "
                "%.2f%%\n",
                (long long)S.tokens, S.kv.c_str(), S.mode.c_str(), S.ppl_m, S.ppl_b, S.kl, S.kl_se, S.kl_p99,
                S.same_top);

  if (html.empty()) return 0;

  // ---- HTML ----
  std::ostringstream h;
  std::string name = path;
  if (size_t sl = name.rfind('/'); sl != std::string::npos) name = name.substr(sl + 1);
  h << "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>f8 quant-report: " << esc(name)
    << "</title>\n<style>"
       "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;background:#fafafa}"
       "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}"
       ".muted{color:#777;fill:#777}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:14px 0}"
       ".card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:130px}"
       ".card b{display:block;font-size:20px}.chart{background:#fff;border:1px solid #ddd;border-radius:8px;"
       "margin:6px 0;max-width:100%;height:auto}.ct{font-size:13px;font-weight:600}.tick{font-size:11px;fill:#555}"
       ".grid{stroke:#eee}.cell:hover{stroke:#000}table{border-collapse:collapse;background:#fff;font-size:12px}"
       "td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
       "th{background:#f0f0f0}details{margin:10px 0}</style></head>\n<body data-report='f8-quant-report'>\n";
  h << "<h1>Quantization report: " << esc(name) << "</h1>\n<div class='muted'>" << esc(path) << " &middot; "
    << hp.n_layer << " layers, hidden " << hp.n_embd << ", vocab " << hp.n_vocab << " &middot; file "
    << num(double(f.file_size()) / 1e6, "%.1f") << " MB</div>\n<div class='cards'>";
  auto card = [&](const std::string& k, const std::string& v, const std::string& id = "") {
    h << "<div class='card'" << (id.empty() ? "" : " id='" + id + "'") << "><span class='muted'>" << esc(k)
      << "</span><b>" << esc(v) << "</b></div>";
  };
  card("weights", (qw.empty() ? "?" : qw) + " / " + (qs.empty() ? "?" : qs));
  card("bits per linear weight", num(lin_params ? 8.0 * double(lin_bytes) / double(lin_params) : 0, "%.3f"));
  if (!choices.empty()) card("auto-format budget", num(budget, "%.3g") + " bits");
  std::string act;
  f.get_str("quant.activations", &act);
  card("activations", act.empty() ? "dynamic per token" : act + " (calibrated)");
  card("KV scales (fp8-layer)", M.model->host_weights().has_kv_scales ? "in the file" : "measured at load");
  if (S.have) {
    card("PPL (base)", num(S.ppl_m, "%.4f") + " (" + num(S.ppl_b, "%.4f") + ")", "ppl");
    card("mean KL", num(S.kl, "%.5f"), "kl");
    card("p99 KL", num(S.kl_p99, "%.4f"));
    card("same top token", num(S.same_top, "%.2f") + "%", "sametop");
  }
  h << "</div>\n";
  if (S.have)
    h << "<p class='muted'>Against " << esc(base_path) << " (F32 KV) on " << S.tokens << " scored tokens of "
      << esc(text_path) << " (" << chunks << " chunks of " << chunk << ", second half scored); model KV "
      << esc(S.kv) << ", " << esc(S.mode) << ".</p>\n";

  // SQNR by layer per kind.
  std::vector<Series> sq, sat, fl;
  for (int k = 0; k < kNKinds; ++k) {
    Series a{kKinds[k], kKindColors[k], std::vector<double>(size_t(n_layer), NAN)};
    Series b = a, c = a;
    for (const auto& r : rows)
      if (r.kind == k && r.layer >= 0) {
        a.y[size_t(r.layer)] = r.sqnr;
        b.y[size_t(r.layer)] = r.sat;
        c.y[size_t(r.layer)] = r.flush;
      }
    sq.push_back(a);
    sat.push_back(b);
    fl.push_back(c);
  }
  h << "<h2>Weight error by layer</h2>\n";
  h << line_chart("SQNR of each quantized weight (dB, higher is better; BF16 tensors are exact)", "SQNR dB", sq,
                  n_layer);
  h << line_chart("Saturated weights (% clipped at the format's max)", "%", sat, n_layer, false, false, true);
  h << line_chart("Flushed weights (% of nonzero weights that became 0)", "%", fl, n_layer, false, false, true);
  h << "<h2>Format per tensor</h2>\n" << format_grid(rows, n_layer);
  if (!choices.empty()) {
    std::vector<Series> ak;
    for (int k = 0; k < kNKinds; ++k) {
      Series a{kKinds[k], kKindColors[k], std::vector<double>(size_t(n_layer), NAN)};
      for (const auto& c : choices) {
        auto it = idx.find(c.tensor);
        if (it != idx.end() && rows[it->second].kind == k && rows[it->second].layer >= 0)
          a.y[size_t(rows[it->second].layer)] = c.kl_e4m3_channel;
      }
      ak.push_back(a);
    }
    h << line_chart("Sensitivity: KL on held-out tokens with only this tensor in E4M3/channel (log scale)", "KL", ak,
                    n_layer, true);
  }
  if (!S.layer_kl.empty()) {
    h << "<h2>KL by layer</h2>\n<p class='muted'>The base model with only one layer's linear weights taken from "
      << esc(name) << " (weights only, F32 KV), " << S.layer_tokens << " scored tokens.</p>\n";
    h << line_chart("KL(base || base with layer l quantized)", "KL", {Series{"layer KL", "#d62728", S.layer_kl}},
                    n_layer, false, true);
  }
  // Calibration ranges.
  {
    std::vector<float> amax, ka, va;
    if (const ggf8::Value* x = f.find("quant.calib.act_amax")) x->to_f32_vector(&amax);
    if (const ggf8::Value* x = f.find("quant.calib.k_amax")) x->to_f32_vector(&ka);
    if (const ggf8::Value* x = f.find("quant.calib.v_amax")) x->to_f32_vector(&va);
    if (amax.size() == size_t(n_layer) * 4) {
      static const char* sites[4] = {"attn_in (q/k/v)", "attn_out (o)", "ffn_in (gate/up)", "ffn_down"};
      std::vector<Series> s;
      for (int j = 0; j < 4; ++j) {
        Series a{sites[j], kKindColors[j * 2 % kNKinds], {}};
        for (int l = 0; l < n_layer; ++l) a.y.push_back(amax[size_t(l) * 4 + size_t(j)]);
        s.push_back(a);
      }
      h << "<h2>Calibration</h2>\n<p class='muted'>Static input scale = amax / 448 (larger inputs saturate at run "
           "time).</p>\n"
        << line_chart("Largest |input| of each linear layer on the calibration text (log scale)", "|x|", s, n_layer,
                      true);
    }
    if (!ka.empty() && ka.size() == va.size() && ka.size() % size_t(n_layer) == 0) {
      const size_t H = ka.size() / size_t(n_layer);
      Series k{"K (post-RoPE)", "#1f77b4", {}}, v{"V", "#ff7f0e", {}};
      for (int l = 0; l < n_layer; ++l) {
        float km = 0, vm = 0;
        for (size_t j = 0; j < H; ++j) {
          km = std::max(km, ka[size_t(l) * H + j]);
          vm = std::max(vm, va[size_t(l) * H + j]);
        }
        k.y.push_back(km);
        v.y.push_back(vm);
      }
      h << line_chart("Largest |K| and |V| per layer (max over KV heads; log scale)", "|x|", {k, v}, n_layer, true);
    }
  }
  // Full table.
  h << "<h2>Every tensor</h2>\n<details open><summary>" << rows.size()
    << " tensors</summary>\n<table id='tensors'><tr><th>tensor</th><th>format</th><th>SQNR dB</th><th>sat %</th>"
       "<th>flush %</th><th>max |err|</th><th>bits/weight</th><th>auto KL</th></tr>\n";
  for (const auto& r : rows)
    h << "<tr><td>" << esc(r.name) << "</td><td>" << esc(r.format) << "</td><td>" << num(r.sqnr, "%.2f")
      << "</td><td>" << num(r.sat, "%.4f") << "</td><td>" << num(r.flush, "%.4f") << "</td><td>"
      << num(r.max_err, "%.4g") << "</td><td>" << num(r.params ? 8.0 * double(r.bytes) / double(r.params) : NAN, "%.3f")
      << "</td><td>" << num(r.auto_kl, "%.3g") << "</td></tr>\n";
  h << "</table></details>\n<p class='muted'>Made by <code>f8 quant-report</code>. SQNR = 10 log10(&Sigma;x&sup2; / "
       "&Sigma;(x &minus; dequant)&sup2;) over the source weights, recorded at conversion; KL = KL(base || model) "
       "in nats per token.</p>\n</body></html>\n";
  std::ofstream out(html, std::ios::binary);
  const std::string s = h.str();
  out.write(s.data(), std::streamsize(s.size()));
  if (!out) return fail(1, "cannot write " + html);
  std::fprintf(stderr, "wrote %s (%zu bytes)\n", html.c_str(), s.size());
  return 0;
}

}  // namespace

F8_COMMAND("quant-report", "quantization quality report: SQNR, formats, KL by layer (HTML + table)", run_report);

}  // namespace f8cli
