// tiny_model.cpp — see tiny_model.h.
#include "tiny_model.h"

#include <cmath>
#include <cstring>
#include <random>

#include "ggf8/fp8.h"
#include "ggf8/keys.h"

namespace tiny {

namespace k = ggf8::keys;

static uint16_t bf16_rne(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}
static float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

ggf8::Status write(const std::string& path, const Spec& s, Tensors* out) {
  std::unique_ptr<ggf8::Writer> wr;
  ggf8::WriterOptions wo;
  wo.overwrite = true;
  ggf8::Status st = ggf8::Writer::create(path, wo, &wr);
  if (!st.ok()) return st;
  std::map<std::string, ggf8::Value> meta;
  meta[k::kArchitecture] = ggf8::Value::str(s.arch);
  meta[k::kEmbeddingLength] = ggf8::Value::u64(s.embd);
  meta[k::kBlockCount] = ggf8::Value::u64(s.layers);
  meta[k::kFeedForwardLength] = ggf8::Value::u64(s.ff);
  meta[k::kHeadCount] = ggf8::Value::u64(s.heads);
  meta[k::kHeadCountKv] = ggf8::Value::u64(s.kv_heads);
  meta[k::kHeadDim] = ggf8::Value::u64(s.head_dim);
  meta[k::kRmsEps] = ggf8::Value::f32(1e-5f);
  meta[k::kQkvBias] = ggf8::Value::boolean(s.qkv_bias);
  meta[k::kVocabSize] = ggf8::Value::u64(s.vocab);
  meta[k::kTiedEmbeddings] = ggf8::Value::boolean(s.tied);
  meta[k::kContextLength] = ggf8::Value::u64(s.ctx);
  if (s.window) meta[k::kSlidingWindow] = ggf8::Value::u64(s.window);
  meta[k::kRopeFreqBase] = ggf8::Value::f32(s.rope_base);
  meta[k::kRopeScalingType] = ggf8::Value::str(s.rope);
  if (s.rope != "none") meta[k::kRopeScalingFactor] = ggf8::Value::f32(s.rope_factor);
  if (s.rope == "llama3") {
    meta[k::kRopeScalingLowFreq] = ggf8::Value::f32(1.0f);
    meta[k::kRopeScalingHighFreq] = ggf8::Value::f32(4.0f);
    meta[k::kRopeScalingOrigCtx] = ggf8::Value::u64(64);
  }
  const bool gemma = s.arch == "gemma2" || s.arch == "gemma3";
  if (!s.swa.empty()) meta[k::kSlidingWindowLayers] = ggf8::Value::bytes(s.swa);
  if (s.attn_scale > 0) meta[k::kAttnScale] = ggf8::Value::f32(s.attn_scale);
  if (s.softcap > 0) meta[k::kAttnSoftcap] = ggf8::Value::f32(s.softcap);
  if (s.final_softcap > 0) meta[k::kFinalSoftcap] = ggf8::Value::f32(s.final_softcap);
  if (s.embd_scale != 1) meta[k::kEmbeddingScale] = ggf8::Value::f32(s.embd_scale);
  if (s.rope_base_local > 0) meta[k::kRopeFreqBaseLocal] = ggf8::Value::f32(s.rope_base_local);
  for (auto& [key, v] : s.override_keys) meta[key] = v;
  for (auto& [key, v] : meta)
    if (!s.omit_keys.count(key) && !(st = wr->set_metadata(key, v)).ok()) return st;

  std::mt19937_64 rng(s.seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Tensors t;
  auto add = [&](const std::string& name, std::vector<uint64_t> dims, float stdev, float mean,
                 bool matrix) -> ggf8::Status {
    if (s.omit.count(name)) return ggf8::Status::Ok();
    if (s.reshape.count(name)) dims = s.reshape.at(name);
    uint64_t n = 1;
    for (auto d : dims) n *= d;
    std::vector<float> v(n);
    for (auto& x : v) x = mean + stdev * nd(rng);
    ggf8::TensorDesc d;
    d.name = name;
    d.dims = dims;
    if (!matrix || s.wtype == ggf8::DType::F32) {
      d.dtype = ggf8::DType::F32;
      t[name] = v;
      return wr->add_tensor(d, v.data(), n * 4);
    }
    if (s.wtype == ggf8::DType::BF16) {
      d.dtype = ggf8::DType::BF16;
      std::vector<uint16_t> h(n);
      for (uint64_t i = 0; i < n; ++i) {
        h[i] = bf16_rne(v[i]);
        v[i] = bf16_to_f32(h[i]);
      }
      t[name] = v;
      return wr->add_tensor(d, h.data(), n * 2);
    }
    // E4M3, per-tensor or per-channel scale = amax / 448.
    const uint64_t rows = dims[0], cols = n / rows;
    std::vector<float> sc(s.scale == ggf8::ScaleKind::Channel ? rows : 1, 0.0f);
    for (uint64_t r = 0; r < rows; ++r)
      for (uint64_t c = 0; c < cols; ++c) {
        float& m = sc[s.scale == ggf8::ScaleKind::Channel ? r : 0];
        m = std::max(m, std::fabs(v[r * cols + c]));
      }
    for (auto& x : sc) x = x > 0 ? x / 448.0f : 1.0f;
    std::vector<uint8_t> q(n);
    for (uint64_t i = 0; i < n; ++i) {
      float scl = sc[s.scale == ggf8::ScaleKind::Channel ? i / cols : 0];
      q[i] = ggf8::e4m3_from_f32(v[i] / scl);
      v[i] = ggf8::e4m3_to_f32(q[i]) * scl;
    }
    t[name] = v;
    d.dtype = ggf8::DType::E4M3;
    d.scale_kind = s.scale;
    d.scale_name = name + ".scale";
    ggf8::Status r = wr->add_tensor(d, q.data(), n);
    if (!r.ok()) return r;
    ggf8::TensorDesc sd;
    sd.name = d.scale_name;
    sd.dtype = ggf8::DType::F32;
    sd.dims = {sc.size()};
    return wr->add_tensor(sd, sc.data(), sc.size() * 4);
  };
  const uint64_t E = s.embd, Q = uint64_t(s.heads) * s.head_dim, KV = uint64_t(s.kv_heads) * s.head_dim;
  const float ws = 0.2f;
  if (!(st = add("token_embd.weight", {s.vocab, E}, 1.0f, 0.0f, true)).ok()) return st;
  if (!(st = add("output_norm.weight", {E}, 0.1f, 1.0f, false)).ok()) return st;
  if (!s.tied && !(st = add("output.weight", {s.vocab, E}, ws, 0.0f, true)).ok()) return st;
  for (uint32_t l = 0; l < s.layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    if (!(st = add(p + "attn_norm.weight", {E}, 0.1f, 1.0f, false)).ok()) return st;
    if (!(st = add(p + "attn_q.weight", {Q, E}, ws, 0, true)).ok()) return st;
    if (!(st = add(p + "attn_k.weight", {KV, E}, ws, 0, true)).ok()) return st;
    if (!(st = add(p + "attn_v.weight", {KV, E}, ws, 0, true)).ok()) return st;
    if (s.qkv_bias) {
      if (!(st = add(p + "attn_q.bias", {Q}, 0.5f, 0, false)).ok()) return st;
      if (!(st = add(p + "attn_k.bias", {KV}, 0.5f, 0, false)).ok()) return st;
      if (!(st = add(p + "attn_v.bias", {KV}, 0.5f, 0, false)).ok()) return st;
    }
    if (s.qk_norm) {
      if (!(st = add(p + "attn_q_norm.weight", {s.head_dim}, 0.3f, 1.0f, false)).ok()) return st;
      if (!(st = add(p + "attn_k_norm.weight", {s.head_dim}, 0.3f, 1.0f, false)).ok()) return st;
    }
    if (!(st = add(p + "attn_output.weight", {E, Q}, ws, 0, true)).ok()) return st;
    if (!(st = add(p + "ffn_norm.weight", {E}, 0.1f, 1.0f, false)).ok()) return st;
    if (gemma) {
      if (!(st = add(p + "post_attention_norm.weight", {E}, 0.1f, 1.0f, false)).ok()) return st;
      if (!(st = add(p + "post_ffw_norm.weight", {E}, 0.1f, 1.0f, false)).ok()) return st;
    }
    if (!(st = add(p + "ffn_gate.weight", {s.ff, E}, ws, 0, true)).ok()) return st;
    if (!(st = add(p + "ffn_up.weight", {s.ff, E}, ws, 0, true)).ok()) return st;
    if (!(st = add(p + "ffn_down.weight", {E, s.ff}, ws, 0, true)).ok()) return st;
    if (s.kv_scales) {
      for (const char* nm : {"attn_k.kv_scale", "attn_v.kv_scale"}) {
        ggf8::TensorDesc d;
        d.name = p + nm;
        d.dims = {1};
        float v = 4.0f / 448.0f;
        if (!(st = wr->add_tensor(d, &v, 4)).ok()) return st;
      }
    }
  }
  if (!(st = wr->finish()).ok()) return st;
  if (out) *out = std::move(t);
  return ggf8::Status::Ok();
}

namespace {
void rmsnorm(const float* x, const std::vector<float>& w, int n, float* o) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  float r = 1.0f / std::sqrt(float(ss / n) + 1e-5f);
  for (int i = 0; i < n; ++i) o[i] = x[i] * r * w[i];
}
// y[N] = W[N,K] x[K] (+ b)
void matvec(const std::vector<float>& W, const float* x, int N, int K, float* y,
            const std::vector<float>* b = nullptr) {
  for (int n = 0; n < N; ++n) {
    double acc = 0;
    for (int k2 = 0; k2 < K; ++k2) acc += double(W[size_t(n) * K + k2]) * x[k2];
    y[n] = float(acc) + (b ? (*b)[n] : 0.0f);
  }
}
std::vector<double> inv_freq(const Spec& s) {
  const int d = s.head_dim;
  std::vector<double> f(d / 2);
  for (int i = 0; i < d / 2; ++i) {
    double fr = std::pow(double(s.rope_base), -2.0 * i / d);
    if (s.rope == "local") {  // Gemma 3's sliding layers: rope_local_base_freq, unscaled
      f[i] = std::pow(double(s.rope_base_local), -2.0 * i / d);
      continue;
    }
    if (s.rope == "linear") fr /= s.rope_factor;
    if (s.rope == "llama3") {
      // transformers _compute_llama3_parameters, low 1, high 4, orig ctx 64.
      const double lo = 1.0, hi = 4.0, orig = 64, factor = s.rope_factor;
      const double low_wl = orig / lo, high_wl = orig / hi, wl = 2 * M_PI / fr;
      if (wl < high_wl) {
      } else if (wl > low_wl) {
        fr = fr / factor;
      } else {
        double smooth = (orig / wl - lo) / (hi - lo);
        fr = (1 - smooth) * fr / factor + smooth * fr;
      }
    }
    f[i] = fr;
  }
  return f;
}
void rope(float* x, int heads, int d, int pos, const std::vector<double>& f) {
  for (int h = 0; h < heads; ++h) {
    float* v = x + h * d;
    for (int i = 0; i < d / 2; ++i) {
      double th = pos * f[i], c = std::cos(th), sn = std::sin(th);
      double a = v[i], b = v[i + d / 2];
      v[i] = float(a * c - b * sn);
      v[i + d / 2] = float(b * c + a * sn);
    }
  }
}
}  // namespace

std::vector<float> reference_logits(const Spec& s, const Tensors& w, const std::vector<int32_t>& toks) {
  const int E = s.embd, H = s.heads, KH = s.kv_heads, D = s.head_dim, F = s.ff, V = s.vocab;
  const int Q = H * D, KV = KH * D, n = int(toks.size());
  auto f = inv_freq(s);
  const bool gemma = s.arch == "gemma2" || s.arch == "gemma3";
  Spec sl = s;
  sl.rope = "local";
  const auto f_local = s.rope_base_local > 0 ? inv_freq(sl) : f;
  std::vector<std::vector<float>> kc(s.layers, std::vector<float>(size_t(n) * KV)),
      vc(s.layers, std::vector<float>(size_t(n) * KV));
  std::vector<float> logits(size_t(n) * V);
  const auto& emb = w.at("token_embd.weight");
  const auto& outw = w.at(s.tied ? "token_embd.weight" : "output.weight");
  for (int t = 0; t < n; ++t) {
    std::vector<float> x(emb.begin() + size_t(toks[t]) * E, emb.begin() + size_t(toks[t] + 1) * E);
    for (float& e : x) e *= s.embd_scale;  // Gemma: embed * sqrt(hidden)
    std::vector<float> h(E), q(Q), att(Q), o(E), g(F), u(F);
    for (uint32_t l = 0; l < s.layers; ++l) {
      std::string p = "blk." + std::to_string(l) + ".";
      rmsnorm(x.data(), w.at(p + "attn_norm.weight"), E, h.data());
      float* kt = kc[l].data() + size_t(t) * KV;
      float* vt = vc[l].data() + size_t(t) * KV;
      matvec(w.at(p + "attn_q.weight"), h.data(), Q, E, q.data(), s.qkv_bias ? &w.at(p + "attn_q.bias") : nullptr);
      matvec(w.at(p + "attn_k.weight"), h.data(), KV, E, kt, s.qkv_bias ? &w.at(p + "attn_k.bias") : nullptr);
      matvec(w.at(p + "attn_v.weight"), h.data(), KV, E, vt, s.qkv_bias ? &w.at(p + "attn_v.bias") : nullptr);
      if (s.qk_norm) {  // Qwen3Attention: q_norm / k_norm over head_dim, before RoPE
        for (int hh = 0; hh < H; ++hh) rmsnorm(q.data() + hh * D, w.at(p + "attn_q_norm.weight"), D, q.data() + hh * D);
        for (int hh = 0; hh < KH; ++hh) rmsnorm(kt + hh * D, w.at(p + "attn_k_norm.weight"), D, kt + hh * D);
      }
      // Gemma: only the swa-flagged layers are windowed (and use the local RoPE).
      const bool windowed = s.window && (s.swa.empty() || s.swa[l]);
      const auto& fl = windowed ? f_local : f;
      rope(q.data(), H, D, t, fl);
      rope(kt, KH, D, t, fl);
      for (int hh = 0; hh < H; ++hh) {
        const int kh = hh / (H / KH);
        std::vector<double> sc(t + 1);
        double mx = -1e300;
        const int j0 = windowed ? std::max(0, t - int(s.window) + 1) : 0;  // sees keys t - window < j <= t
        for (int j = 0; j < j0; ++j) sc[j] = -1e300;
        for (int j = j0; j <= t; ++j) {
          double d = 0;
          for (int i = 0; i < D; ++i) d += double(q[hh * D + i]) * kc[l][size_t(j) * KV + kh * D + i];
          sc[j] = s.attn_scale > 0 ? d * s.attn_scale : d / std::sqrt(double(D));
          if (s.softcap > 0) sc[j] = s.softcap * std::tanh(sc[j] / s.softcap);  // Gemma 2
          mx = std::max(mx, sc[j]);
        }
        double sum = 0;
        for (int j = 0; j <= t; ++j) sum += (sc[j] = j < j0 ? 0.0 : std::exp(sc[j] - mx));
        for (int i = 0; i < D; ++i) {
          double a = 0;
          for (int j = 0; j <= t; ++j) a += sc[j] * vc[l][size_t(j) * KV + kh * D + i];
          att[hh * D + i] = float(a / sum);
        }
      }
      matvec(w.at(p + "attn_output.weight"), att.data(), E, Q, o.data());
      if (gemma) rmsnorm(o.data(), w.at(p + "post_attention_norm.weight"), E, o.data());
      for (int i = 0; i < E; ++i) x[i] += o[i];
      rmsnorm(x.data(), w.at(p + "ffn_norm.weight"), E, h.data());
      matvec(w.at(p + "ffn_gate.weight"), h.data(), F, E, g.data());
      matvec(w.at(p + "ffn_up.weight"), h.data(), F, E, u.data());
      for (int i = 0; i < F; ++i) {
        if (gemma) {  // gelu_pytorch_tanh, in double
          const double a = g[i];
          g[i] = float(0.5 * a * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (a + 0.044715 * a * a * a)))) * u[i];
        } else {
          g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
        }
      }
      matvec(w.at(p + "ffn_down.weight"), g.data(), E, F, o.data());
      if (gemma) rmsnorm(o.data(), w.at(p + "post_ffw_norm.weight"), E, o.data());
      for (int i = 0; i < E; ++i) x[i] += o[i];
    }
    rmsnorm(x.data(), w.at("output_norm.weight"), E, h.data());
    matvec(outw, h.data(), V, E, logits.data() + size_t(t) * V);
    if (s.final_softcap > 0)
      for (int i = 0; i < V; ++i) {
        float& z = logits[size_t(t) * V + i];
        z = s.final_softcap * std::tanh(z / s.final_softcap);
      }
  }
  return logits;
}

}  // namespace tiny
