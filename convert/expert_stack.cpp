// expert_stack.cpp — see expert_stack.h.
#include "convert/expert_stack.h"

namespace f8conv {

using ggf8::Code;
using ggf8::DType;
using ggf8::ScaleKind;
using ggf8::Status;

namespace {

SrcMatrix matrix_of(const StTensor& t) {
  return SrcMatrix{t.dtype, t.data, t.shape.size() == 2 ? t.shape[0] : 1, t.shape.empty() ? 1 : t.shape.back()};
}

// A per-expert tensor scale as per-row scales of `rows` rows.
void tensor_to_rows(float s, uint64_t rows, std::vector<float>* out) { out->insert(out->end(), rows, s); }

}  // namespace

Status stack_import(const std::string& name, const std::vector<ExpertSource>& src, bool scale_inv,
                    const HfQuantConfig& qc, std::vector<uint8_t>* bytes, DType* dtype, ImportedScale* scale) {
  bytes->clear();
  *scale = ImportedScale{};
  const uint64_t rows = src[0].tensor->shape[0];
  std::vector<ImportedScale> each(src.size());
  bool tensor_kind = true;
  for (size_t e = 0; e < src.size(); ++e) {
    const ExpertSource& x = src[e];
    const std::string nm = name + " (expert " + std::to_string(e) + ")";
    if (x.tensor->dtype != src[0].tensor->dtype)
      return Status::Error(Code::BadType, x.file + ": tensor \"" + x.tensor->name + "\": experts of " + name +
                                              " mix FP8 formats");
    Status s = import_weight_scale(nm, x.tensor->shape, *x.scale, x.scale_file, scale_inv, qc, &each[e]);
    if (!s.ok()) return s;
    if (each[e].kind != each[0].kind || each[e].block_rows != each[0].block_rows ||
        each[e].block_cols != each[0].block_cols)
      return Status::Error(Code::BadScale, x.scale_file + ": tensor \"" + x.scale->name + "\": experts of " + name +
                                               " have different scale layouts");
    tensor_kind = tensor_kind && each[e].kind == ScaleKind::Tensor;
    bytes->insert(bytes->end(), x.tensor->data, x.tensor->data + x.tensor->nbytes);
  }
  *dtype = src[0].tensor->dtype == StDType::F8_E5M2 ? DType::E5M2 : DType::E4M3;
  const uint64_t E = src.size();
  if (tensor_kind) {  // one scale per expert: per-row scales of the stack
    scale->kind = ScaleKind::Channel;
    for (const auto& s : each) tensor_to_rows(s.values[0], rows, &scale->values);
    scale->dims = {E, rows};
    return Status::Ok();
  }
  scale->kind = each[0].kind;
  scale->block_rows = each[0].block_rows;
  scale->block_cols = each[0].block_cols;
  scale->dims = {E};
  scale->dims.insert(scale->dims.end(), each[0].dims.begin(), each[0].dims.end());
  for (const auto& s : each) scale->values.insert(scale->values.end(), s.values.begin(), s.values.end());
  return Status::Ok();
}

Status stack_quantize(const std::string& name, const std::vector<ExpertSource>& src, WeightFormat fmt,
                      ScaleMode mode, uint32_t block, bool allow_nonfinite, ThreadPool& pool,
                      std::vector<uint8_t>* bytes, QuantResult* out) {
  bytes->clear();
  *out = QuantResult{};
  std::vector<uint8_t> buf;
  const uint64_t E = src.size(), rows = src[0].tensor->shape[0];
  for (uint64_t e = 0; e < E; ++e) {
    QuantResult q;
    Status s = quantize_matrix(name + " (expert " + std::to_string(e) + ")", matrix_of(*src[e].tensor), fmt, mode,
                               block, allow_nonfinite, pool, &buf, &q);
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
    if (q.kind == ScaleKind::Tensor)
      tensor_to_rows(q.scales[0], rows, &out->scales);
    else
      out->scales.insert(out->scales.end(), q.scales.begin(), q.scales.end());
    out->stats.merge(q.stats);
  }
  return Status::Ok();
}

Status stack_plain(const std::string& name, const std::vector<ExpertSource>& src, bool allow_nonfinite,
                   ThreadPool& pool, std::vector<uint8_t>* bytes) {
  bytes->clear();
  std::vector<uint8_t> buf;
  for (size_t e = 0; e < src.size(); ++e) {
    Status s = convert_plain(name + " (expert " + std::to_string(e) + ")", matrix_of(*src[e].tensor), DType::BF16,
                             allow_nonfinite, pool, &buf);
    if (!s.ok()) return s;
    bytes->insert(bytes->end(), buf.begin(), buf.end());
  }
  return Status::Ok();
}

}  // namespace f8conv
