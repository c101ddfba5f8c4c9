// fp8_import.cpp — see fp8_import.h.
#include "convert/fp8_import.h"

#include <cmath>
#include <cstring>

#include "convert/quantize.h"  // widen_to_f32

namespace f8conv {

using ggf8::Code;
using ggf8::ScaleKind;
using ggf8::Status;

namespace {
std::string dims_str(const std::vector<uint64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}
}  // namespace

Status read_as_f32(const StTensor& t, const std::string& file, std::vector<float>* out) {
  const uint64_t n = t.count();
  out->resize(n);
  switch (t.dtype) {
    case StDType::F32:
    case StDType::F16:
    case StDType::BF16:
      widen_to_f32(t.dtype, t.data, out->data(), n);
      return Status::Ok();
    case StDType::F64:
      for (uint64_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, t.data + i * 8, 8);
        (*out)[i] = static_cast<float>(v);
      }
      return Status::Ok();
    default:
      return Status::Error(Code::BadType, file + ": tensor \"" + t.name + "\": scale dtype " + st_dtype_name(t.dtype) +
                                              " is not a float type");
  }
}

Status import_weight_scale(const std::string& wname, const std::vector<uint64_t>& wd, const StTensor& sc,
                           const std::string& file, bool inv, const HfQuantConfig& qc, ImportedScale* out) {
  auto fail = [&](const std::string& what) {
    return Status::Error(Code::BadScale, file + ": tensor \"" + sc.name + "\" (scale of " + wname + "): " + what);
  };
  if (wd.size() != 2) return fail("the weight is not 2-D");
  const uint64_t rows = wd[0], cols = wd[1], n = sc.count();
  ImportedScale r;
  const uint32_t br = qc.block_rows ? qc.block_rows : 128, bc = qc.block_cols ? qc.block_cols : 128;
  const uint64_t nbr = (rows + br - 1) / br, nbc = (cols + bc - 1) / bc;
  const auto& s = sc.shape;
  if (inv) {
    // weight_scale_inv is always a block scale.
    if (s.size() != 2 || s[0] != nbr || s[1] != nbc)
      return fail("shape " + dims_str(s) + ", expected [" + std::to_string(nbr) + ", " + std::to_string(nbc) +
                  "] for " + std::to_string(br) + "x" + std::to_string(bc) + " blocks of a " + dims_str(wd) + " weight");
    r.kind = ScaleKind::Block;
  } else if (n == 1) {
    r.kind = ScaleKind::Tensor;
  } else if ((s.size() == 1 && s[0] == rows) || (s.size() == 2 && s[0] == rows && s[1] == 1)) {
    r.kind = ScaleKind::Channel;
  } else if (s.size() == 2 && s[0] == nbr && s[1] == nbc) {
    r.kind = ScaleKind::Block;  // compressed-tensors "block" strategy
  } else {
    return fail("shape " + dims_str(s) + " fits neither a per-tensor [1], per-channel [" + std::to_string(rows) +
                ", 1] nor a " + std::to_string(br) + "x" + std::to_string(bc) + " block scale");
  }
  if (r.kind == ScaleKind::Tensor) r.dims = {1};
  if (r.kind == ScaleKind::Channel) r.dims = {rows};
  if (r.kind == ScaleKind::Block) {
    r.dims = {nbr, nbc};
    r.block_rows = br;
    r.block_cols = bc;
  }
  Status st = read_as_f32(sc, file, &r.values);
  if (!st.ok()) return st;
  for (size_t i = 0; i < r.values.size(); ++i)
    if (!std::isfinite(r.values[i]) || r.values[i] < 0)
      return fail("value " + std::to_string(r.values[i]) + " at index " + std::to_string(i) +
                  " is not a finite, non-negative multiplier");
  *out = std::move(r);
  return Status::Ok();
}

Status import_scalar_scale(const StTensor& t, const std::string& file, float* out) {
  if (t.count() != 1)
    return Status::Error(Code::BadScale, file + ": tensor \"" + t.name + "\": expected one value, shape is " +
                                             dims_str(t.shape));
  std::vector<float> v;
  Status st = read_as_f32(t, file, &v);
  if (!st.ok()) return st;
  if (!std::isfinite(v[0]) || v[0] <= 0)
    return Status::Error(Code::BadScale, file + ": tensor \"" + t.name + "\": scale " + std::to_string(v[0]) +
                                             " is not finite and > 0");
  *out = v[0];
  return Status::Ok();
}

}  // namespace f8conv
