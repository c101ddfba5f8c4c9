// gpt_oss_experts.cpp — see gpt_oss_experts.h.
#include "convert/gpt_oss_experts.h"

#include <cmath>
#include <cstring>

#include "convert/mxfp4.h"

namespace f8conv {

using ggf8::Code;
using ggf8::DType;
using ggf8::ScaleKind;
using ggf8::Status;

namespace {

std::string dims_str(const std::vector<uint64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

std::string where(const Checkpoint::Entry* e) { return e->file->path() + ": tensor \"" + e->tensor->name + "\""; }

bool is_float(StDType t) { return t == StDType::F32 || t == StDType::F16 || t == StDType::BF16; }

// The source row (of gate_up's interleaved 2F, or down's) that derived row r reads.
uint64_t src_row(OssPart p, uint64_t r) { return p == OssPart::All ? r : 2 * r + (p == OssPart::Odd ? 1 : 0); }

}  // namespace

bool is_oss_expert_field(const std::string& f) {
  for (const char* k : {"gate_up_proj_blocks", "gate_up_proj_scales", "down_proj_blocks", "down_proj_scales",
                        "gate_up_proj", "down_proj", "gate_up_proj_bias", "down_proj_bias"})
    if (f == k) return true;
  return false;
}

Status oss_plan_layer(const HParams& hp, int layer, const OssLayerSources& in, std::vector<OssDerived>* out) {
  const uint64_t E = hp.n_experts, F = hp.moe_ffn, H = hp.hidden;
  const std::string L = std::to_string(layer);
  const std::string pre = "model.layers." + L + ".mlp.experts.", blk = "blk." + L + ".";
  auto get = [&](const std::string& f) -> const Checkpoint::Entry* {
    auto it = in.find(f);
    return it == in.end() ? nullptr : it->second;
  };
  auto check = [&](const Checkpoint::Entry* e, const std::vector<uint64_t>& want, bool u8) -> Status {
    if (e->tensor->shape != want)
      return Status::Error(Code::BadShape, where(e) + " has shape " + dims_str(e->tensor->shape) +
                                               " but config.json implies " + dims_str(want));
    if (u8 ? e->tensor->dtype != StDType::U8 : !is_float(e->tensor->dtype))
      return Status::Error(Code::BadType, where(e) + " is " + st_dtype_name(e->tensor->dtype) + ", expected " +
                                              (u8 ? "U8 (MXFP4 codes / E8M0 scales)" : "F32, F16 or BF16"));
    return Status::Ok();
  };
  struct Proj {
    const char* field;
    uint64_t rows, cols;  // the [out, in] matrix of one expert (gate_up: 2F interleaved)
  };
  for (const Proj& p : {Proj{"gate_up_proj", 2 * F, H}, Proj{"down_proj", H, F}}) {
    const std::string f = p.field;
    const Checkpoint::Entry *blocks = get(f + "_blocks"), *scales = get(f + "_scales"), *dense = get(f);
    const Checkpoint::Entry* bias = get(f + "_bias");
    OssDerived d;
    if (blocks || scales) {
      if (dense)
        return Status::Error(Code::Duplicate, where(dense) + ": layer " + L + " also has " + f +
                                                  "_blocks (MXFP4): one layout per projection");
      if (!blocks || !scales)
        return Status::Error(Code::NotFound, where(blocks ? blocks : scales) + ": its companion \"" + pre + f +
                                                 (blocks ? "_scales" : "_blocks") + "\" is missing");
      if (p.cols % 32)
        return Status::Error(Code::BadShape, where(blocks) + ": MXFP4 needs the input width (" +
                                                 std::to_string(p.cols) + ") to be a multiple of 32");
      if (Status s = check(blocks, {E, p.rows, p.cols / 32, 16}, true); !s.ok()) return s;
      if (Status s = check(scales, {E, p.rows, p.cols / 32}, true); !s.ok()) return s;
      d.kind = OssKind::Mxfp4;
      d.src = blocks;
      d.scales = scales;
    } else if (dense) {
      if (Status s = check(dense, {E, p.cols, p.rows}, false); !s.ok()) return s;  // [E, in, out]
      d.kind = OssKind::Dense;
      d.src = dense;
    } else {
      return Status::Error(Code::NotFound, "missing tensor \"" + pre + f + "_blocks\" (MXFP4, with " + f +
                                               "_scales) or \"" + pre + f + "\" (dense) for layer " + L);
    }
    if (!bias) return Status::Error(Code::NotFound, "missing tensor \"" + pre + f + "_bias\"");
    if (Status s = check(bias, {E, p.rows}, false); !s.ok()) return s;
    OssDerived b;
    b.kind = OssKind::Bias;
    b.src = bias;
    if (f == "gate_up_proj") {
      for (auto [part, stem] : {std::pair{OssPart::Even, "ffn_gate_exps"}, std::pair{OssPart::Odd, "ffn_up_exps"}}) {
        OssDerived w = d;
        w.part = part;
        w.canonical = blk + stem + ".weight";
        w.shape = {E, F, H};
        out->push_back(w);
        OssDerived wb = b;
        wb.part = part;
        wb.canonical = blk + stem + ".bias";
        wb.shape = {E, F};
        out->push_back(wb);
      }
    } else {
      d.canonical = blk + "ffn_down_exps.weight";
      d.shape = {E, H, F};
      out->push_back(d);
      b.canonical = blk + "ffn_down_exps.bias";
      b.shape = {E, H};
      out->push_back(b);
    }
  }
  return Status::Ok();
}

Status oss_import_mxfp4(const OssDerived& d, ThreadPool& pool, std::vector<uint8_t>* codes, ImportedScale* scale) {
  const StTensor& bt = *d.src->tensor;
  const uint64_t E = d.shape[0], rows = d.shape[1], cols = d.shape[2], nb = cols / 32;
  const uint64_t src_rows = bt.shape[1];
  codes->assign(E * rows * cols, 0);
  *scale = ImportedScale{};
  scale->kind = ScaleKind::Block;
  scale->block_rows = 1;
  scale->block_cols = 32;
  scale->dims = {E, rows, nb};
  scale->values.assign(E * rows * nb, 0.0f);
  const uint8_t* blocks = bt.data;
  const uint8_t* sc = d.scales->tensor->data;
  std::vector<int64_t> bad(E * rows, -1);
  pool.run(E * rows, [&](size_t i) {
    const uint64_t e = i / rows, r = i % rows, sr = e * src_rows + src_row(d.part, r);
    bad[i] = mxfp4::import_row(blocks + sr * nb * 16, sc + sr * nb, int64_t(cols), codes->data() + i * cols,
                               scale->values.data() + i * nb);
  });
  for (uint64_t i = 0; i < bad.size(); ++i)
    if (bad[i] >= 0) {
      const uint64_t e = i / rows, sr = src_row(d.part, i % rows);
      return Status::Error(Code::BadScale, where(d.scales) + ": E8M0 scale 255 (NaN) at expert " + std::to_string(e) +
                                               ", row " + std::to_string(sr) + ", block " + std::to_string(bad[i]) +
                                               ": a NaN weight block cannot be imported");
    }
  return Status::Ok();
}

Status oss_dense_stack(const OssDerived& d, WeightFormat fmt, ScaleMode mode, uint32_t block, bool allow_nonfinite,
                       ThreadPool& pool, std::vector<uint8_t>* bytes, QuantResult* out) {
  const StTensor& t = *d.src->tensor;
  const uint64_t E = d.shape[0], rows = d.shape[1], cols = d.shape[2];
  const uint64_t K = t.shape[1], N = t.shape[2];  // source [E, in = K, out = N]
  const size_t es = st_dtype_size(t.dtype);
  bytes->clear();
  *out = QuantResult{};
  std::vector<float> m(rows * cols), srow(N);
  std::vector<uint8_t> buf;
  for (uint64_t e = 0; e < E; ++e) {
    // Transpose expert e's [in, out] into [out(, de-interleaved), in].
    for (uint64_t k = 0; k < K; ++k) {
      widen_to_f32(t.dtype, t.data + ((e * K + k) * N) * es, srow.data(), N);
      for (uint64_t r = 0; r < rows; ++r) m[r * cols + k] = srow[src_row(d.part, r)];
    }
    SrcMatrix src{StDType::F32, reinterpret_cast<const uint8_t*>(m.data()), rows, cols};
    QuantResult q;
    Status s = quantize_matrix(d.canonical + " (expert " + std::to_string(e) + ", from " + t.name + ")", src, fmt,
                               mode, block, allow_nonfinite, pool, &buf, &q);
    if (!s.ok()) return s;
    bytes->insert(bytes->end(), buf.begin(), buf.end());
    if (e == 0) {
      out->dtype = q.dtype;
      out->kind = q.kind == ScaleKind::Tensor ? ScaleKind::Channel : q.kind;
      out->block_rows = q.block_rows;
      out->block_cols = q.block_cols;
      if (q.kind != ScaleKind::None) {
        out->scale_dims = {E};
        if (q.kind == ScaleKind::Tensor)
          out->scale_dims.push_back(rows);
        else
          out->scale_dims.insert(out->scale_dims.end(), q.scale_dims.begin(), q.scale_dims.end());
      }
    }
    if (q.kind == ScaleKind::Tensor)  // one scale per expert: per-row scales of the stack (exact)
      out->scales.insert(out->scales.end(), rows, q.scales[0]);
    else
      out->scales.insert(out->scales.end(), q.scales.begin(), q.scales.end());
    out->stats.merge(q.stats);
  }
  return Status::Ok();
}

Status oss_bias(const OssDerived& d, bool allow_nonfinite, std::vector<uint8_t>* bytes) {
  const StTensor& t = *d.src->tensor;
  const uint64_t E = d.shape[0], rows = d.shape[1], src_rows = t.shape[1];
  const size_t es = st_dtype_size(t.dtype);
  bytes->assign(E * rows * 4, 0);
  float* o = reinterpret_cast<float*>(bytes->data());
  std::vector<float> srow(src_rows);
  uint64_t bad = 0;
  for (uint64_t e = 0; e < E; ++e) {
    widen_to_f32(t.dtype, t.data + e * src_rows * es, srow.data(), src_rows);
    for (uint64_t r = 0; r < rows; ++r) {
      o[e * rows + r] = srow[src_row(d.part, r)];
      bad += !std::isfinite(o[e * rows + r]);
    }
  }
  if (bad && !allow_nonfinite)
    return Status::Error(Code::BadType, where(d.src) + ": " + std::to_string(bad) +
                                            " NaN/Inf value(s) (pass --allow-nonfinite)");
  return Status::Ok();
}

}  // namespace f8conv
