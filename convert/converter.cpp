// converter.cpp — the convert driver (see converter.h).
#include "convert/converter.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <new>
#include <regex>
#include <set>

#include "convert/arch.h"
#include "convert/expert_stack.h"
#include "convert/fp8_import.h"
#include "convert/gpt_oss_experts.h"
#include "convert/hf_config.h"
#include "convert/safetensors.h"
#include "convert/tokenizer_import.h"
#include "ggf8/keys.h"

namespace f8conv {

using ggf8::Code;
using ggf8::DType;
using ggf8::ScaleKind;
using ggf8::Status;
using ggf8::TensorDesc;
using ggf8::Value;

namespace {

#define F8_TRY(expr)         \
  do {                       \
    Status _s = (expr);      \
    if (!_s.ok()) return _s; \
  } while (0)

std::string dims_str(const std::vector<uint64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

bool is_float_src(StDType t) { return t == StDType::F32 || t == StDType::F16 || t == StDType::BF16; }
bool is_fp8_src(StDType t) { return t == StDType::F8_E4M3 || t == StDType::F8_E5M2; }

std::string basename_of(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  size_t p = dir.rfind('/');
  return p == std::string::npos ? dir : dir.substr(p + 1);
}

enum class Action { Quantize, Import, Keep };

// One weight/norm/bias of the model and what happens to it.
struct Weight {
  const Checkpoint::Entry* entry = nullptr;
  // A row range of a fused source tensor (Phi-3 qkv_proj / gate_up_proj);
  // rows = 0: the whole tensor.
  uint64_t row0 = 0, rows = 0;
  // MoE expert stack: one source matrix per expert (entry = the first met).
  std::vector<const Checkpoint::Entry*> experts;
  std::vector<const Checkpoint::Entry*> expert_scales;  // FP8: each expert's weight_scale(_inv)
  bool stacked() const { return !experts.empty(); }
  // gpt-oss: made from a fused expert tensor (gpt_oss_experts.h); entry = its source.
  bool derived = false;
  OssDerived oss;
  std::vector<uint64_t> shape() const {
    if (derived) return oss.shape;
    std::vector<uint64_t> s = entry->tensor->shape;
    if (rows) s[0] = rows;
    if (stacked()) s.insert(s.begin(), experts.size());
    return s;
  }
  MappedName map;
  Action action = Action::Keep;
  const Checkpoint::Entry* scale = nullptr;  // FP8 checkpoints: weight_scale(_inv)
  bool scale_inv = false;
};

// Key of a weight's scale in make_plan (an expert's own for stacks).
std::string scale_key(const MappedName& m) {
  return m.expert < 0 ? m.weight : m.weight + "#" + std::to_string(m.expert);
}

// Everything decided before any byte is written.
struct Plan {
  HParams hp;
  std::map<std::string, Weight> weights;                      // canonical -> weight
  std::map<const StTensor*, std::vector<std::string>> weight_of_entry;  // source tensor -> canonical(s)
  std::map<const StTensor*, MappedName> extra_scales;        // input_scale / kv_scale entries
  std::set<const StTensor*> skip;                            // ignored / consumed elsewhere
  // Tied model and --quantize matched "output.weight": also store a
  // quantized copy of the embedding as output.weight (the runtime uses
  // output.weight when present), written right after token_embd.weight.
  bool tied_output_copy = false;
  int expert_input_scales = 0;  // expert input_scale tensors met (skipped)
};

Status make_plan(const ConvertOptions& o, const Checkpoint& cp, Plan* plan, ConvertReport* rep) {
  HParams& hp = plan->hp;
  std::map<std::string, std::pair<const Checkpoint::Entry*, bool>> wscales;  // weight -> (scale entry, inv)
  std::map<int, OssLayerSources> oss_layers;  // gpt-oss: fused expert tensors per layer
  bool have_output = false;
  for (const auto& e : cp.entries()) {
    MappedName m;
    if (!map_hf_name(hp, e.tensor->name, &m))
      return Status::Error(Code::NotFound, e.file->path() + ": tensor \"" + e.tensor->name + "\" is not part of a " +
                                               hp.hf_arch + " with " + std::to_string(hp.n_layers) +
                                               " layers (unexpected name)");
    switch (m.role) {
      case Role::Ignore:
        plan->skip.insert(e.tensor);
        break;
      case Role::OssExperts:  // planned per layer below
        oss_layers[m.layer][m.weight] = &e;
        plan->skip.insert(e.tensor);
        break;
      case Role::WeightScale:
      case Role::WeightScaleInv:
        if (wscales.count(scale_key(m)))
          return Status::Error(Code::Duplicate, e.file->path() + ": tensor \"" + e.tensor->name + "\": " + m.weight +
                                                    " has both weight_scale and weight_scale_inv");
        wscales[scale_key(m)] = {&e, m.role == Role::WeightScaleInv};
        plan->skip.insert(e.tensor);
        break;
      case Role::InputScale:
        if (m.expert >= 0) {  // experts run with dynamic activation scales (Stream::moe_ffn)
          if (!plan->expert_input_scales++)
            rep->warnings.push_back("the experts' static input_scale tensors are not used: f8 quantizes the "
                                    "experts' activations per token when it emulates FP8 activations");
          plan->skip.insert(e.tensor);
          break;
        }
        [[fallthrough]];
      case Role::KvScale:
        for (const auto& [t, other] : plan->extra_scales)
          if (other.canonical == m.canonical)
            return Status::Error(Code::Duplicate, e.file->path() + ": tensor \"" + e.tensor->name + "\": a second " +
                                                      m.canonical);
        plan->extra_scales[e.tensor] = m;
        break;
      default: {
        if (m.role == Role::Output) have_output = true;
        const bool qkv = m.canonical.size() > 16 && m.canonical.compare(m.canonical.size() - 16, 16, ".attn_qkv.weight") == 0;
        const bool gu = m.canonical.size() > 19 && m.canonical.compare(m.canonical.size() - 19, 19, ".ffn_gate_up.weight") == 0;
        if (qkv || gu) {
          // Fused (Phi-3): one source tensor, row ranges for each part.
          const StTensor& t = *e.tensor;
          const uint64_t q = hp.n_heads * hp.head_dim, kv = hp.n_kv_heads * hp.head_dim;
          const std::vector<uint64_t> want = qkv ? std::vector<uint64_t>{q + 2 * kv, hp.hidden}
                                                 : std::vector<uint64_t>{2 * hp.ffn, hp.hidden};
          if (t.shape != want)
            return Status::Error(Code::BadShape, e.file->path() + ": tensor "" + t.name + "" has shape " +
                                                     dims_str(t.shape) + " but config.json implies " + dims_str(want));
          if (!is_float_src(t.dtype))
            return Status::Error(Code::BadType, e.file->path() + ": tensor "" + t.name + "" is " +
                                                    st_dtype_name(t.dtype) +
                                                    ": fused projections are split from F32/F16/BF16 sources only");
          const std::string stem = m.canonical.substr(0, m.canonical.size() - (qkv ? 16 : 19) + 1);
          struct Part {
            const char* name;
            uint64_t row0, rows;
          };
          const std::vector<Part> parts =
              qkv ? std::vector<Part>{{"attn_q.weight", 0, q}, {"attn_k.weight", q, kv}, {"attn_v.weight", q + kv, kv}}
                  : std::vector<Part>{{"ffn_gate.weight", 0, hp.ffn}, {"ffn_up.weight", hp.ffn, hp.ffn}};
          for (const Part& p : parts) {
            Weight w;
            w.entry = &e;
            w.map = m;
            w.map.canonical = stem + p.name;
            w.row0 = p.row0;
            w.rows = p.rows;
            if (plan->weights.count(w.map.canonical))
              return Status::Error(Code::Duplicate, e.file->path() + ": tensor "" + t.name + "": " +
                                                        w.map.canonical + " is also stored unfused");
            plan->weights[w.map.canonical] = w;
            plan->weight_of_entry[e.tensor].push_back(w.map.canonical);
          }
          break;
        }
        if (m.expert >= 0) {  // one expert's matrix of a stacked tensor
          Weight& w = plan->weights[m.canonical];
          if (!w.stacked()) {
            w.entry = &e;
            w.map = m;
            w.map.expert = -1;
            w.experts.assign(hp.n_experts, nullptr);
            plan->weight_of_entry[e.tensor].push_back(m.canonical);
          }
          if (w.experts[size_t(m.expert)])
            return Status::Error(Code::Duplicate, e.file->path() + ": tensor \"" + e.tensor->name + "\": expert " +
                                                      std::to_string(m.expert) + " of " + m.canonical +
                                                      " appears twice");
          w.experts[size_t(m.expert)] = &e;
          break;
        }
        Weight w;
        w.entry = &e;
        w.map = m;
        if (plan->weights.count(m.canonical))
          return Status::Error(Code::Duplicate, e.file->path() + ": tensor "" + e.tensor->name + "": " +
                                                    m.canonical + " is also stored fused");
        plan->weights[m.canonical] = w;
        plan->weight_of_entry[e.tensor].push_back(m.canonical);
      }
    }
  }
  // gpt-oss: each layer's fused expert tensors -> the stacks and biases they make.
  for (const auto& [layer, srcs] : oss_layers) {
    std::vector<OssDerived> ds;
    F8_TRY(oss_plan_layer(hp, layer, srcs, &ds));
    for (const OssDerived& d : ds) {
      Weight w;
      w.entry = d.src;
      w.derived = true;
      w.oss = d;
      w.map = {d.canonical, d.kind == OssKind::Bias ? Role::Bias : Role::Linear, "", layer};
      plan->weights[d.canonical] = w;
      plan->weight_of_entry[d.src->tensor].push_back(d.canonical);
    }
  }
  if (!hp.tied_given && !have_output && !hp.tied) {  // (a tied default, as Gemma's, needs no word)
    hp.tied = true;
    rep->warnings.push_back("config.json does not say tie_word_embeddings and there is no lm_head.weight: "
                            "treating the embeddings as tied");
  }
  if (hp.tied && have_output) {
    auto it = plan->weights.find("output.weight");
    plan->skip.insert(it->second.entry->tensor);
    plan->weight_of_entry.erase(it->second.entry->tensor);
    plan->weights.erase(it);
    rep->warnings.push_back("tie_word_embeddings is true: lm_head.weight is not stored (the embeddings are used)");
  }
  // Every tensor the runtime needs, with the shape config.json implies.
  for (const auto& name : required_tensors(hp)) {
    auto it = plan->weights.find(name);
    if (it == plan->weights.end())
      return Status::Error(Code::NotFound, o.model_dir + ": missing tensor \"" + hf_name_for(name) + "\" (" + name + ")");
    const StTensor& t = *it->second.entry->tensor;
    const std::vector<uint64_t> want = expected_shape(hp, name);
    if (it->second.stacked()) {
      const Weight& w = it->second;
      const std::vector<uint64_t> one(want.begin() + 1, want.end());
      for (size_t x = 0; x < w.experts.size(); ++x) {
        const Checkpoint::Entry* pe = w.experts[x];
        if (!pe)
          return Status::Error(Code::NotFound, o.model_dir + ": " + name + ": expert " + std::to_string(x) + " of " +
                                                   std::to_string(w.experts.size()) + " is missing (like \"" + t.name +
                                                   "\" for expert " + std::to_string(x) + ")");
        if (pe->tensor->shape != one)
          return Status::Error(Code::BadShape, pe->file->path() + ": tensor \"" + pe->tensor->name + "\" has shape " +
                                                   dims_str(pe->tensor->shape) + " but config.json implies " +
                                                   dims_str(one));
        if (pe->tensor->dtype != t.dtype)
          return Status::Error(Code::BadType, pe->file->path() + ": tensor \"" + pe->tensor->name + "\" is " +
                                                  st_dtype_name(pe->tensor->dtype) + " but expert 0 of " + name +
                                                  " is " + st_dtype_name(t.dtype));
      }
      continue;
    }
    if (it->second.shape() != want)
      return Status::Error(Code::BadShape, it->second.entry->file->path() + ": tensor \"" + t.name + "\" has shape " +
                                               dims_str(t.shape) + " but config.json implies " + dims_str(want));
  }
  // Regexes (ECMAScript, searched in the canonical and the HF name).
  std::regex q_re, k_re;
  try {
    if (!o.quantize_regex.empty()) q_re = std::regex(o.quantize_regex);
    if (!o.keep_regex.empty()) k_re = std::regex(o.keep_regex);
  } catch (const std::regex_error& e) {
    return Status::Error(Code::InvalidArgument, std::string("bad --quantize/--keep regex: ") + e.what());
  }
  auto matches = [](const std::regex& re, const Weight& w) {
    return std::regex_search(w.map.canonical, re) || std::regex_search(w.entry->tensor->name, re);
  };
  // Tied embeddings: decode reads the whole table every token as the output
  // projection (a third of SmolLM2-135M's bytes per token in BF16). Only on
  // request (--quantize naming output.weight), since it adds vocab x hidden
  // bytes to the file and changes the logits (docs/performance.md).
  if (hp.tied && !o.quantize_regex.empty() && !plan->weights.count("output.weight") &&
      std::regex_search(std::string("output.weight"), q_re)) {
    if (auto it = plan->weights.find("token_embd.weight"); it != plan->weights.end()) {
      Weight c = it->second;
      c.map.canonical = "output.weight";
      c.map.role = Role::Output;
      plan->weights["output.weight"] = c;
      plan->tied_output_copy = true;
    }
  }
  for (auto& [name, w] : plan->weights) {
    const StTensor& t = *w.entry->tensor;
    const std::string where = w.entry->file->path() + ": tensor \"" + t.name + "\"";
    if (w.derived) {  // gpt-oss: MXFP4 experts imported (exact), biases kept, dense experts as any stack
      if (w.oss.kind == OssKind::Mxfp4) {
        w.action = Action::Import;
      } else if (w.oss.kind == OssKind::Bias) {
        w.action = Action::Keep;
      } else {
        bool q = o.quantize_regex.empty() ? is_linear_weight(name) : matches(q_re, w);
        if (q && !o.keep_regex.empty() && matches(k_re, w)) q = false;
        w.action = q ? Action::Quantize : Action::Keep;
      }
      continue;
    }
    if (w.stacked() && is_fp8_src(t.dtype)) {
      w.expert_scales.assign(w.experts.size(), nullptr);
      for (size_t x = 0; x < w.experts.size(); ++x) {
        auto it = wscales.find(name + "#" + std::to_string(x));
        if (it == wscales.end())
          return Status::Error(Code::BadScale, w.experts[x]->file->path() + ": tensor \"" + w.experts[x]->tensor->name +
                                                   "\" is " + st_dtype_name(t.dtype) +
                                                   " but has no weight_scale or weight_scale_inv");
        w.expert_scales[x] = it->second.first;
        w.scale_inv = it->second.second;
        wscales.erase(it);
      }
      w.action = Action::Import;
      continue;
    }
    auto sc = wscales.find(name);
    if (is_fp8_src(t.dtype)) {
      if (w.map.role != Role::Linear)
        return Status::Error(Code::BadType, where + " is " + st_dtype_name(t.dtype) + "; only linear weights may be FP8");
      if (sc == wscales.end())
        return Status::Error(Code::BadScale, where + " is " + st_dtype_name(t.dtype) +
                                                 " but has no weight_scale or weight_scale_inv");
      w.action = Action::Import;
      w.scale = sc->second.first;
      w.scale_inv = sc->second.second;
      continue;
    }
    if (!is_float_src(t.dtype))
      return Status::Error(Code::BadType, where + " has unsupported dtype " + st_dtype_name(t.dtype) +
                                              " (expected F32, F16, BF16, or F8_E4M3 with a weight_scale)");
    if (sc != wscales.end())
      return Status::Error(Code::BadScale, sc->second.first->file->path() + ": tensor \"" +
                                               sc->second.first->tensor->name + "\" scales " + t.name + ", which is " +
                                               st_dtype_name(t.dtype) + ", not FP8");
    bool q = o.quantize_regex.empty() ? is_linear_weight(name) : matches(q_re, w);
    if (q && !o.keep_regex.empty() && matches(k_re, w)) q = false;
    if (q && w.shape().size() != 2 && !w.stacked()) {
      rep->warnings.push_back(name + " is not a matrix: kept, not quantized");
      q = false;
    }
    w.action = q ? Action::Quantize : Action::Keep;
  }
  for (const auto& [wname, sc] : wscales)
    if (!plan->weights.count(wname))
      return Status::Error(Code::NotFound, sc.first->file->path() + ": tensor \"" + sc.first->tensor->name +
                                               "\" scales " + wname.substr(0, wname.find('#')) +
                                               (wname.find('#') != std::string::npos ? " (an expert that is not FP8)" : "") +
                                               ", which is not in the checkpoint");
  for (const auto& [t, m] : plan->extra_scales)
    if (!plan->weights.count(m.weight))
      return Status::Error(Code::NotFound, "tensor \"" + t->name + "\" belongs to " + m.weight +
                                               ", which is not in the checkpoint");
  return Status::Ok();
}

struct Run {
  const ConvertOptions& o;
  const Plan& plan;
  ggf8::Writer& w;
  ThreadPool& pool;
  ConvertReport* rep;
  std::vector<uint8_t> buf;  // reused output buffer: at most the largest tensor
  std::set<std::string> scale_kinds;
  std::set<std::string> stored_formats;

  Status add(const TensorDesc& d, const void* data, uint64_t n) {
    Status s = w.add_tensor(d, data, n);
    if (!s.ok()) return Status::Error(s.code, o.output + ": writing " + d.name + ": " + s.message);
    rep->n_tensors++;
    return Status::Ok();
  }
  Status add_scale(const std::string& name, const std::vector<uint64_t>& dims, const std::vector<float>& v) {
    TensorDesc d;
    d.name = name;
    d.dtype = DType::F32;
    d.dims = dims;
    return add(d, v.data(), v.size() * 4);
  }

  // MoE experts: one stacked tensor [experts, rows, cols] (expert_stack.h).
  Status stacked(const Weight& wt) {
    const std::string& name = wt.map.canonical;
    std::vector<ExpertSource> src(wt.experts.size());
    for (size_t x = 0; x < src.size(); ++x) {
      src[x].tensor = wt.experts[x]->tensor;
      src[x].file = wt.experts[x]->file->path();
      if (!wt.expert_scales.empty()) {
        src[x].scale = wt.expert_scales[x]->tensor;
        src[x].scale_file = wt.expert_scales[x]->file->path();
      }
    }
    TensorDesc d;
    d.name = name;
    d.dims = wt.shape();
    if (wt.action == Action::Import) {
      for (const ExpertSource& x : src) {
        const uint64_t bad = count_nonfinite_fp8(x.tensor->data, x.tensor->nbytes, x.tensor->dtype == StDType::F8_E5M2);
        if (bad && !o.allow_nonfinite)
          return Status::Error(Code::BadType, x.file + ": tensor \"" + x.tensor->name + "\": " + std::to_string(bad) +
                                                  " NaN/Inf FP8 code(s) (pass --allow-nonfinite)");
      }
      ImportedScale is;
      F8_TRY(stack_import(name, src, wt.scale_inv, plan.hp.quant, &buf, &d.dtype, &is));
      d.scale_kind = is.kind;
      d.block_rows = is.block_rows;
      d.block_cols = is.block_cols;
      d.scale_name = name + ".scale";
      F8_TRY(add(d, buf.data(), buf.size()));
      F8_TRY(add_scale(d.scale_name, is.dims, is.values));
      rep->n_imported_fp8++;
      scale_kinds.insert(ggf8::scale_kind_name(is.kind));
      stored_formats.insert(d.dtype == DType::E5M2 ? "e5m2" : "e4m3");
      return Status::Ok();
    }
    if (wt.action == Action::Quantize) {
      ConvertOptions::TensorChoice ch{o.weights, o.scale, o.block};
      if (auto it = o.tensor_choice.find(name); it != o.tensor_choice.end()) ch = it->second;
      QuantResult qr;
      F8_TRY(stack_quantize(name, src, ch.weights, ch.scale, ch.block, o.allow_nonfinite, pool, &buf, &qr));
      d.dtype = qr.dtype;
      d.scale_kind = qr.kind;
      d.block_rows = qr.block_rows;
      d.block_cols = qr.block_cols;
      if (qr.kind != ScaleKind::None) d.scale_name = name + ".scale";
      F8_TRY(add(d, buf.data(), buf.size()));
      if (qr.kind != ScaleKind::None) F8_TRY(add_scale(d.scale_name, qr.scale_dims, qr.scales));
      rep->quantized.push_back({name, ggf8::dtype_name(qr.dtype), ggf8::scale_kind_name(qr.kind), qr.stats});
      scale_kinds.insert(ggf8::scale_kind_name(qr.kind));
      stored_formats.insert(weight_format_name(ch.weights));
      return Status::Ok();
    }
    d.dtype = DType::BF16;
    F8_TRY(stack_plain(name, src, o.allow_nonfinite, pool, &buf));
    return add(d, buf.data(), buf.size());
  }

  // gpt-oss: a tensor made from a fused expert source (gpt_oss_experts.h).
  Status derived(const Weight& wt) {
    const OssDerived& od = wt.oss;
    TensorDesc d;
    d.name = od.canonical;
    d.dims = od.shape;
    if (od.kind == OssKind::Bias) {
      F8_TRY(oss_bias(od, o.allow_nonfinite, &buf));
      d.dtype = DType::F32;
      return add(d, buf.data(), buf.size());
    }
    if (od.kind == OssKind::Mxfp4) {  // E4M3 codes + 1 x 32 block scales: every value exact
      ImportedScale is;
      F8_TRY(oss_import_mxfp4(od, pool, &buf, &is));
      d.dtype = DType::E4M3;
      d.scale_kind = is.kind;
      d.block_rows = is.block_rows;
      d.block_cols = is.block_cols;
      d.scale_name = od.canonical + ".scale";
      F8_TRY(add(d, buf.data(), buf.size()));
      F8_TRY(add_scale(d.scale_name, is.dims, is.values));
      rep->n_imported_mxfp4++;
      scale_kinds.insert(ggf8::scale_kind_name(is.kind));
      stored_formats.insert("e4m3");
      return Status::Ok();
    }
    ConvertOptions::TensorChoice ch{o.weights, o.scale, o.block};
    if (auto it = o.tensor_choice.find(od.canonical); it != o.tensor_choice.end()) ch = it->second;
    const bool q = wt.action == Action::Quantize;
    QuantResult qr;
    F8_TRY(oss_dense_stack(od, q ? ch.weights : WeightFormat::BF16, ch.scale, ch.block, o.allow_nonfinite, pool, &buf,
                           &qr));
    d.dtype = qr.dtype;
    d.scale_kind = qr.kind;
    d.block_rows = qr.block_rows;
    d.block_cols = qr.block_cols;
    if (qr.kind != ScaleKind::None) d.scale_name = od.canonical + ".scale";
    F8_TRY(add(d, buf.data(), buf.size()));
    if (qr.kind != ScaleKind::None) F8_TRY(add_scale(d.scale_name, qr.scale_dims, qr.scales));
    if (q) {
      rep->quantized.push_back({od.canonical, ggf8::dtype_name(qr.dtype), ggf8::scale_kind_name(qr.kind), qr.stats});
      scale_kinds.insert(ggf8::scale_kind_name(qr.kind));
      stored_formats.insert(weight_format_name(ch.weights));
    }
    return Status::Ok();
  }

  Status weight(const Weight& wt) {
    if (wt.derived) return derived(wt);
    if (wt.stacked()) return stacked(wt);
    const StTensor& t = *wt.entry->tensor;
    const std::string& name = wt.map.canonical;
    const std::vector<uint64_t> shape = wt.shape();
    const uint64_t cols = shape.empty() ? 1 : shape.back();
    // A fused part: its rows are contiguous in the source.
    const uint8_t* data = t.data +
                          wt.row0 * cols * st_dtype_size(t.dtype);
    const uint64_t nbytes = wt.rows ? wt.rows * cols * st_dtype_size(t.dtype) : t.nbytes;
    // DeepSeek's interleaved RoPE rows, de-interleaved (arch_deepseek.cpp,
    // mla_rope_rows): a row order, applied to the source bytes (FP8 codes
    // or floats alike; rows move whole, no value changes).
    const std::vector<uint64_t> order = mla_rope_rows(plan.hp, name);
    std::vector<uint8_t> permuted;
    if (!order.empty()) {
      const uint64_t row_bytes = cols * st_dtype_size(t.dtype);
      if (shape.size() != 2 || order.size() != shape[0] || nbytes != order.size() * row_bytes)
        return Status::Error(Code::BadShape, wt.entry->file->path() + ": tensor \"" + t.name + "\": cannot reorder its RoPE rows");
      permuted.resize(nbytes);
      for (uint64_t i = 0; i < order.size(); ++i)
        std::memcpy(permuted.data() + i * row_bytes, data + order[i] * row_bytes, row_bytes);
      data = permuted.data();
    }
    SrcMatrix src{t.dtype, data, shape.size() == 2 ? shape[0] : 1, cols};
    TensorDesc d;
    d.name = name;
    d.dims = shape;
    if (wt.action == Action::Import) {
      ImportedScale is;
      F8_TRY(import_weight_scale(name, t.shape, *wt.scale->tensor, wt.scale->file->path(), wt.scale_inv,
                                 plan.hp.quant, &is));
      const bool e5 = t.dtype == StDType::F8_E5M2;
      uint64_t bad = count_nonfinite_fp8(t.data, t.nbytes, e5);
      if (bad && !o.allow_nonfinite)
        return Status::Error(Code::BadType, wt.entry->file->path() + ": tensor \"" + t.name + "\": " +
                                                std::to_string(bad) + " NaN/Inf FP8 code(s) (pass --allow-nonfinite)");
      d.dtype = e5 ? DType::E5M2 : DType::E4M3;
      d.scale_kind = is.kind;
      d.block_rows = is.block_rows;
      d.block_cols = is.block_cols;
      d.scale_name = name + ".scale";
      if (!order.empty()) {  // the scales go with the rows: channel scales move, block rows must not be crossed
        if (is.kind == ScaleKind::Channel) {
          std::vector<float> v(is.values.size());
          for (uint64_t i = 0; i < order.size(); ++i) v[i] = is.values[order[i]];
          is.values = std::move(v);
        } else if (is.kind == ScaleKind::Block) {
          for (uint64_t i = 0; i < order.size(); ++i)
            if (order[i] / is.block_rows != i / is.block_rows)
              return Status::Error(Code::BadScale, wt.entry->file->path() + ": tensor \"" + t.name +
                                                       "\": de-interleaving its RoPE rows (rope_interleave) would move "
                                                       "row " + std::to_string(order[i]) + " across its " +
                                                       std::to_string(is.block_rows) + "-row scale blocks");
        }
      }
      F8_TRY(add(d, data, t.nbytes));  // the checkpoint's bytes (RoPE rows reordered whole, if any)
      F8_TRY(add_scale(d.scale_name, is.dims, is.values));
      rep->n_imported_fp8++;
      scale_kinds.insert(ggf8::scale_kind_name(is.kind));
      stored_formats.insert(e5 ? "e5m2" : "e4m3");
      wt.scale->file->release(wt.scale->tensor->data, wt.scale->tensor->nbytes);
      return Status::Ok();
    }
    if (wt.action == Action::Quantize) {
      QuantResult qr;
      ConvertOptions::TensorChoice ch{o.weights, o.scale, o.block};
      if (auto it = o.tensor_choice.find(name); it != o.tensor_choice.end()) ch = it->second;
      F8_TRY(quantize_matrix(name, src, ch.weights, ch.scale, ch.block, o.allow_nonfinite, pool, &buf, &qr));
      if (o.requantize && qr.dtype != DType::BF16) F8_TRY(o.requantize(name, src, &buf, &qr));
      d.dtype = qr.dtype;
      d.scale_kind = qr.kind;
      d.block_rows = qr.block_rows;
      d.block_cols = qr.block_cols;
      if (qr.kind != ScaleKind::None) d.scale_name = name + ".scale";
      F8_TRY(add(d, buf.data(), buf.size()));
      if (qr.kind != ScaleKind::None) F8_TRY(add_scale(d.scale_name, qr.scale_dims, qr.scales));
      rep->quantized.push_back({name, ggf8::dtype_name(qr.dtype), ggf8::scale_kind_name(qr.kind), qr.stats});
      scale_kinds.insert(ggf8::scale_kind_name(qr.kind));
      stored_formats.insert(weight_format_name(ch.weights));
      return Status::Ok();
    }
    // Kept: matrices (embeddings, lm_head) as BF16, vectors (norms, biases) as F32.
    d.dtype = t.shape.size() >= 2 ? DType::BF16 : DType::F32;
    if (plan.hp.gemma && wt.map.role == Role::Norm) {
      // Gemma RMSNorm multiplies by (1 + w), computed in float32: stored so.
      F8_TRY(convert_plain(name, src, DType::F32, o.allow_nonfinite, pool, &buf));
      float* f = reinterpret_cast<float*>(buf.data());
      for (size_t i = 0; i < buf.size() / 4; ++i) f[i] = 1.0f + f[i];
      return add(d, buf.data(), buf.size());
    }
    const bool same = (d.dtype == DType::BF16 && t.dtype == StDType::BF16) ||
                      (d.dtype == DType::F32 && t.dtype == StDType::F32);
    if (same) {
      // Straight from the mapping after the finiteness check: no copy.
      const uint64_t bad = count_nonfinite_float(t.dtype, data, nbytes / st_dtype_size(t.dtype), pool);
      if (bad && !o.allow_nonfinite)
        return Status::Error(Code::BadType, wt.entry->file->path() + ": tensor \"" + t.name + "\": " +
                                                std::to_string(bad) + " NaN/Inf value(s) (pass --allow-nonfinite)");
      return add(d, data, nbytes);
    }
    F8_TRY(convert_plain(name, src, d.dtype, o.allow_nonfinite, pool, &buf));
    return add(d, buf.data(), buf.size());
  }
};

Status convert_impl(const ConvertOptions& o, ConvertReport* rep) {
  const auto t0 = std::chrono::steady_clock::now();
  struct stat st;
  if (::stat(o.model_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::Error(Code::NotFound, o.model_dir + ": not a directory");
  if (o.scale == ScaleMode::Block && (o.block == 0 || o.block > 65536))
    return Status::Error(Code::InvalidArgument, "block size must be in 1..65536");

  Plan plan;
  {
    HfConfigOptions co;
    co.ignore_keys = o.ignore_config_keys;
    F8_TRY(load_hf_config(o.model_dir + "/config.json", &plan.hp, co));
    for (const std::string& n : config_notes(plan.hp, o.model_dir + "/config.json")) {
      if (o.note) o.note(n);
      rep->notes.push_back(n);
    }
  }
  std::unique_ptr<Checkpoint> cp;
  F8_TRY(Checkpoint::open_dir(o.model_dir, &cp));
  F8_TRY(make_plan(o, *cp, &plan, rep));

  // The tokenizer import (JSON parsing, vocab and merges: ~0.2 s CPU for a
  // 49k BPE vocabulary) runs beside the tensor stream; its metadata is only
  // needed before finish().
  struct TokResult {
    Status status;
    std::vector<ggf8::KV> kvs;
    std::vector<std::string> warnings;
  };
  std::future<TokResult> tok_future = std::async(std::launch::async, [&o, vocab = plan.hp.vocab,
                                                                       eos = plan.hp.eos_ids] {
    TokResult r;
    try {
      TokenizerImportOptions to;
      to.model_vocab_size = vocab;
      to.config_eos_ids = eos;
      r.status = import_tokenizer(o.model_dir, &r.kvs, &r.warnings, to);
    } catch (const std::exception& e) {
      r.status = Status::Error(Code::Io, o.model_dir + ": tokenizer import: " + e.what());
    }
    return r;
  });
  // Joins the import on every return path below.
  struct Joiner {
    std::future<TokResult>& f;
    ~Joiner() {
      if (f.valid()) f.wait();
    }
  } joiner{tok_future};

  ggf8::WriterOptions wo;
  wo.overwrite = o.overwrite;
  wo.checksums = o.checksums;
  std::unique_ptr<ggf8::Writer> w;
  {
    Status s = ggf8::Writer::create(o.output, wo, &w);
    if (s.code == Code::Exists)
      return Status::Error(Code::Exists, o.output + ": already exists (pass --force to overwrite)");
    if (!s.ok()) return s;
  }
  ThreadPool pool(o.threads);
  Run run{o, plan, *w, pool, rep, {}, {}, {}};
  auto meta = [&](std::string k, Value v) -> Status {
    Status s = w->set_metadata(std::move(k), std::move(v));
    return s.ok() ? s : Status::Error(s.code, o.output + ": metadata: " + s.message);
  };
  for (auto& kv : hparams_metadata(plan.hp)) F8_TRY(meta(kv.key, std::move(kv.value)));
  F8_TRY(meta(ggf8::keys::kName, Value::str(basename_of(o.model_dir))));
  F8_TRY(meta(ggf8::keys::kConverter, Value::str(o.converter_version)));

  const uint64_t total = cp->total_bytes();
  uint64_t done = 0;
  for (const auto& e : cp->entries()) {
    const StTensor* t = e.tensor;
    if (auto it = plan.weight_of_entry.find(t); it != plan.weight_of_entry.end()) {
      for (const std::string& name : it->second) {
        F8_TRY(run.weight(plan.weights.at(name)));
        if (plan.tied_output_copy && name == "token_embd.weight") F8_TRY(run.weight(plan.weights.at("output.weight")));
      }
    } else if (auto xs = plan.extra_scales.find(t);
               xs != plan.extra_scales.end() && !o.extra_scalars.count(xs->second.canonical)) {
      float v = 0;
      F8_TRY(import_scalar_scale(*t, e.file->path(), &v));
      F8_TRY(run.add_scale(xs->second.canonical, {1}, {v}));
    }
    // Drop this tensor's pages from our RSS; the page cache keeps them.
    e.file->release(t->data, t->nbytes);
    done += t->nbytes;
    rep->source_bytes += t->nbytes;
    if (o.progress) o.progress(done, total, t->name);
  }

  for (const auto& [name, v] : o.extra_scalars) F8_TRY(run.add_scale(name, {1}, {v}));

  // quant.* metadata. Stats arrays are parallel, in file order.
  namespace k = ggf8::keys;
  const bool pre = rep->n_imported_fp8 > 0 || rep->n_imported_mxfp4 > 0;
  std::string fmt = run.stored_formats.empty() ? "bf16"
                    : run.stored_formats.size() == 1 ? *run.stored_formats.begin() : "mixed";
  std::string sk = run.scale_kinds.empty() ? "none" : run.scale_kinds.size() == 1 ? *run.scale_kinds.begin() : "mixed";
  F8_TRY(meta(k::kQuantWeights, Value::str(fmt)));
  F8_TRY(meta(k::kQuantScale, Value::str(sk)));
  F8_TRY(meta(k::kQuantSource, Value::str(pre ? "prequantized" : "requantized")));
  if (!rep->quantized.empty()) {
    std::vector<std::string> names;
    std::vector<float> sq, me, sa, fl;
    for (const auto& q : rep->quantized) {
      names.push_back(q.name);
      sq.push_back(static_cast<float>(q.stats.sqnr_db()));
      me.push_back(q.stats.max_abs_err);
      sa.push_back(static_cast<float>(q.stats.saturated_pct()));
      fl.push_back(static_cast<float>(q.stats.flushed_pct()));
    }
    F8_TRY(meta(k::kQuantStatNames, Value::array_str(std::move(names))));
    F8_TRY(meta(k::kQuantStatSqnr, Value::array_f32(sq)));
    F8_TRY(meta(k::kQuantStatMaxErr, Value::array_f32(me)));
    F8_TRY(meta(k::kQuantStatSat, Value::array_f32(sa)));
    F8_TRY(meta(k::kQuantStatFlush, Value::array_f32(fl)));
  }
  for (const auto& kv : o.extra_metadata) F8_TRY(meta(kv.key, kv.value));
  {
    TokResult tr = tok_future.get();
    for (auto& wmsg : tr.warnings) rep->warnings.push_back(wmsg);
    if (tr.status.code == Code::NotFound) {
      rep->warnings.push_back("no tokenizer: " + tr.status.message + " (the .f8 will have no vocabulary)");
    } else if (!tr.status.ok()) {
      return tr.status;
    } else {
      for (auto& kv : tr.kvs) F8_TRY(meta(kv.key, std::move(kv.value)));
    }
  }
  {
    ggf8::Writer::InspectFn inspect;
    if (o.store_k_mean)
      inspect = [&](const ggf8::File& f, std::vector<ggf8::KV>* more) {
        if (o.progress) o.progress(total, total, "K means for the KV cache");
        k_mean_metadata(f, pool.size(), more, &rep->k_mean);
        if (!rep->k_mean.failed.empty())
          rep->warnings.push_back("K means for the KV cache not stored (" + rep->k_mean.failed +
                                  "): the runtime measures them when it makes its first fp8/int8 cache");
        return Status::Ok();
      };
    Status s = w->finish(inspect);
    if (!s.ok()) return Status::Error(s.code, o.output + ": " + s.message);
  }
  rep->output_bytes = w->bytes_written();
  rep->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return Status::Ok();
}

}  // namespace

Status convert_checkpoint(const ConvertOptions& o, ConvertReport* rep) {
  ConvertReport local;
  ConvertReport* r = rep ? rep : &local;
  *r = ConvertReport{};
  try {
    return convert_impl(o, r);
  } catch (const std::bad_alloc&) {
    return Status::Error(Code::Io, o.output + ": out of memory while converting");
  } catch (const std::exception& e) {
    return Status::Error(Code::Io, o.output + ": " + e.what());
  }
}

}  // namespace f8conv
