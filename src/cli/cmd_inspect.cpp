// cmd_inspect.cpp — `f8 inspect FILE [--json] [--tensors]`: what is in a .f8
// file. Header facts, metadata (long arrays summarized, the SentencePiece
// blob as "<N bytes>"), quantization stats (worst SQNR first), totals by
// dtype, and with --tensors the full tensor table. --json prints the same
// facts (and every tensor) as one JSON object. Reads only the header and the
// trailer: tensor bytes are never touched, so it is instant on any size.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "args.h"
#include "util_quant.h"
#include "f8.h"
#include "command.h"
#include "ggf8/ggf8.h"
#include "ggf8/keys.h"

namespace f8cli {
namespace {

using ggf8::DType;
using ggf8::VType;
using json = nlohmann::ordered_json;

constexpr size_t kTextArrayItems = 4;       // array items shown in text mode
constexpr size_t kTextStringChars = 72;     // string chars shown in text mode
constexpr size_t kJsonBytesInline = 256;    // u8 arrays longer than this: size only

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char b[32];
  std::snprintf(b, sizeof b, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return b;
}

std::string with_commas(uint64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::string shape_str(const std::vector<uint64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(d[i]);
  }
  return s + "]";
}

// Printable, one-line, cut at `max` bytes (never inside a UTF-8 sequence).
std::string display(const std::string& s, size_t max) {
  std::string out = "\"";
  size_t i = 0;
  for (; i < s.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += char(c);
    }
  }
  while (i < s.size() && i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) {
    out.pop_back();  // drop the partial UTF-8 sequence we stopped inside
    --i;
  }
  out += "\"";
  if (i < s.size()) out += " ... (" + with_commas(s.size()) + " bytes)";
  return out;
}

std::string number_str(VType t, const uint8_t* p) {
  char b[48];
  switch (t) {
    case VType::U8: return std::to_string(p[0]);
    case VType::I8: return std::to_string(int8_t(p[0]));
    case VType::U16: { uint16_t x; std::memcpy(&x, p, 2); return std::to_string(x); }
    case VType::I16: { int16_t x; std::memcpy(&x, p, 2); return std::to_string(x); }
    case VType::U32: { uint32_t x; std::memcpy(&x, p, 4); return std::to_string(x); }
    case VType::I32: { int32_t x; std::memcpy(&x, p, 4); return std::to_string(x); }
    case VType::U64: { uint64_t x; std::memcpy(&x, p, 8); return std::to_string(x); }
    case VType::I64: { int64_t x; std::memcpy(&x, p, 8); return std::to_string(x); }
    case VType::F32: {  // shortest text that reads back as the same float
      float x;
      std::memcpy(&x, p, 4);
      for (int prec = 6; prec <= 9; ++prec) {
        std::snprintf(b, sizeof b, "%.*g", prec, x);
        if (std::strtof(b, nullptr) == x) break;
      }
      return b;
    }
    case VType::F64: {
      double x;
      std::memcpy(&x, p, 8);
      for (int prec = 6; prec <= 17; ++prec) {
        std::snprintf(b, sizeof b, "%.*g", prec, x);
        if (std::strtod(b, nullptr) == x) break;
      }
      return b;
    }
    case VType::Bool: return p[0] ? "true" : "false";
    default: return "?";
  }
}

json number_json(VType t, const uint8_t* p) {
  switch (t) {
    case VType::U8: return p[0];
    case VType::I8: return int8_t(p[0]);
    case VType::U16: { uint16_t x; std::memcpy(&x, p, 2); return x; }
    case VType::I16: { int16_t x; std::memcpy(&x, p, 2); return x; }
    case VType::U32: { uint32_t x; std::memcpy(&x, p, 4); return x; }
    case VType::I32: { int32_t x; std::memcpy(&x, p, 4); return x; }
    case VType::U64: { uint64_t x; std::memcpy(&x, p, 8); return x; }
    case VType::I64: { int64_t x; std::memcpy(&x, p, 8); return x; }
    case VType::F32: { float x; std::memcpy(&x, p, 4); return std::isfinite(x) ? json(x) : json(nullptr); }
    case VType::F64: { double x; std::memcpy(&x, p, 8); return std::isfinite(x) ? json(x) : json(nullptr); }
    case VType::Bool: return p[0] != 0;
    default: return nullptr;
  }
}

size_t elem_size(VType t) {
  static constexpr size_t k[] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 1};
  return size_t(t) < sizeof(k) / sizeof(k[0]) ? k[size_t(t)] : 0;
}

std::string type_str(const ggf8::Value& v) {
  if (!v.is_array()) return ggf8::vtype_name(v.type());
  return std::string("[") + ggf8::vtype_name(v.elem_type()) + " x " + with_commas(v.array_size()) + "]";
}

// Text rendering of a value: scalars whole (strings cut), arrays as their
// first few items and a count; u8 arrays (blobs) as "<N bytes>".
std::string value_text(const ggf8::Value& v) {
  if (v.type() == VType::String) return display(*v.get_str(), kTextStringChars);
  if (!v.is_array()) return number_str(v.type(), v.raw().data());
  uint64_t n = v.array_size();
  if (v.elem_type() == VType::U8 && n > kTextArrayItems) return "<" + with_commas(n) + " bytes>";
  std::string out = "[";
  size_t show = size_t(std::min<uint64_t>(n, kTextArrayItems));
  for (size_t i = 0; i < show; ++i) {
    if (i) out += ", ";
    if (const auto* ss = v.strings()) out += display((*ss)[i], 24);
    else out += number_str(v.elem_type(), v.raw().data() + i * elem_size(v.elem_type()));
  }
  if (n > show) out += ", ... (" + with_commas(n) + " items)";
  return out + "]";
}

json value_json(const ggf8::Value& v) {
  if (v.type() == VType::String) {
    // Strings are bytes; JSON needs UTF-8: invalid sequences are replaced.
    return json(*v.get_str());
  }
  if (!v.is_array()) return number_json(v.type(), v.raw().data());
  if (const auto* ss = v.strings()) return json(*ss);
  uint64_t n = v.array_size();
  if (v.elem_type() == VType::U8 && n > kJsonBytesInline) return json("<" + std::to_string(n) + " bytes>");
  json a = json::array();
  size_t es = elem_size(v.elem_type());
  for (uint64_t i = 0; i < n; ++i) a.push_back(number_json(v.elem_type(), v.raw().data() + i * es));
  return a;
}

struct QuantRow {
  std::string tensor;
  double sqnr = NAN, max_err = NAN, sat = NAN, flush = NAN;
};

// quant.stats.* are parallel arrays; missing or short columns read as NaN.
std::vector<QuantRow> quant_stats(const ggf8::File& f) {
  std::vector<QuantRow> rows;
  const ggf8::Value* names = f.find(ggf8::keys::kQuantStatNames);
  if (!names || !names->strings()) return rows;
  auto column = [&](const char* key) {
    std::vector<float> v;
    if (const ggf8::Value* x = f.find(key)) x->to_f32_vector(&v);
    return v;
  };
  auto sq = column(ggf8::keys::kQuantStatSqnr), me = column(ggf8::keys::kQuantStatMaxErr),
       sa = column(ggf8::keys::kQuantStatSat), fl = column(ggf8::keys::kQuantStatFlush);
  const auto& ns = *names->strings();
  for (size_t i = 0; i < ns.size(); ++i) {
    QuantRow r;
    r.tensor = ns[i];
    if (i < sq.size()) r.sqnr = sq[i];
    if (i < me.size()) r.max_err = me[i];
    if (i < sa.size()) r.sat = sa[i];
    if (i < fl.size()) r.flush = fl[i];
    rows.push_back(r);
  }
  // Worst (lowest) SQNR first; NaN last.
  std::stable_sort(rows.begin(), rows.end(), [](const QuantRow& a, const QuantRow& b) {
    if (std::isnan(a.sqnr)) return false;
    if (std::isnan(b.sqnr)) return true;
    return a.sqnr < b.sqnr;
  });
  return rows;
}

struct DTypeTotal {
  uint64_t tensors = 0, elements = 0, bytes = 0;
};

json num_or_null(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

std::string fmt_num(double x, const char* f) {
  if (std::isnan(x)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, f, x);
  return b;
}

// The KV cache a context of this model keeps per token, in the default
// --kv-type (E4M3: one byte per value). K and V (2 x head_count_kv x
// head_dim values) carry one BF16 scale per KV head each
// (kernels/kv_scale.h): 4 x head_count_kv bytes more per token and layer.
// Multi-head latent attention (llm.attention.kv_lora_rank): one latent row
// of kv_lora_rank + qk_rope_head_dim values and two f32 scales per layer
// (not per token). known = false when the metadata does not say.
struct KvFootprint {
  bool known = false, latent = false;
  uint64_t layers = 0, values = 0;  // values per token per layer
  uint64_t scale_bytes = 0;         // scale bytes per token per layer (per-token BF16 scales)
  uint64_t bytes() const { return values + scale_bytes; }  // per token per layer
  std::string what;                 // how `values` is made up
};
KvFootprint kv_footprint(const ggf8::File& f) {
  namespace k = ggf8::keys;
  KvFootprint r;
  uint64_t heads = 0, kv = 0, hd = 0, embd = 0, lora = 0, rope = 0;
  if (!f.get_u64(k::kBlockCount, &r.layers).ok() || !f.get_u64(k::kHeadCount, &heads).ok() || heads == 0)
    return r;
  if (f.get_u64(k::kAttnKvLoraRank, &lora).ok() && lora > 0) {
    if (!f.get_u64(k::kAttnQkRopeDim, &rope).ok()) return r;
    r.latent = true;
    r.values = lora + rope;
    r.what = "latent: kv_lora_rank " + std::to_string(lora) + " + qk_rope_head_dim " + std::to_string(rope);
  } else {
    if (!f.get_u64(k::kHeadCountKv, &kv).ok()) kv = heads;
    if (!f.get_u64(k::kHeadDim, &hd).ok()) {
      if (!f.get_u64(k::kEmbeddingLength, &embd).ok()) return r;
      hd = embd / heads;
    }
    r.values = 2 * kv * hd;
    r.scale_bytes = 4 * kv;  // K and V: one 2-byte BF16 scale per KV head each
    r.what = "K and V: 2 x " + std::to_string(kv) + " KV heads x head_dim " + std::to_string(hd);
  }
  r.known = true;
  return r;
}

int run_inspect(int argc, char** argv) {
  std::string path;
  bool as_json = false, show_tensors = false;
  ArgParser p("f8 inspect", "FILE [--json] [--tensors]",
              "Show what is in a .f8 file: header, metadata, quantization stats, tensors.");
  p.positional("FILE", &path, "the .f8 file");
  p.flag("--json", &as_json, "print everything (every tensor, full arrays) as one JSON object");
  p.flag("--tensors", &show_tensors, "list every tensor (name, dtype, shape, scale, bytes, offset)");
  int64_t tp = 0;
  p.option("--tp", &tp, "N", "bytes of weights each of N tensor-parallel ranks holds (--tp in the run commands)");
  int rc = 0;
  if (!p.parse(argc, argv, &rc)) return rc;
  if (p.given("--tp") && (tp < 1 || tp > 64)) return fail(2, "--tp " + std::to_string(tp) + ": expected 1..64");
  std::vector<uint64_t> tp_bytes;
  if (tp > 0) {
    f8_model* m = nullptr;
    if (f8_model_load(path.c_str(), nullptr, &m) != F8_OK) return fail(1, f8_last_error());
    tp_bytes.resize(size_t(tp));
    const f8_status st = f8_model_tp_bytes(m, int32_t(tp), tp_bytes.data());
    const std::string err = st == F8_OK ? "" : f8_last_error();
    f8_model_free(m);
    if (st != F8_OK) return fail(st == F8_ERR_INVALID_ARGUMENT ? 2 : 1, err);
  }

  std::unique_ptr<ggf8::File> f;
  ggf8::Status s = ggf8::File::open(path, &f);
  if (!s.ok()) return fail(1, s.message);

  std::map<uint32_t, DTypeTotal> by_dtype;
  uint64_t total_bytes = 0, total_elems = 0, with_sum = 0;
  for (const auto& t : f->tensors()) {
    auto& d = by_dtype[uint32_t(t.dtype)];
    ++d.tensors;
    d.elements += t.count();
    d.bytes += t.nbytes;
    total_bytes += t.nbytes;
    total_elems += t.count();
    with_sum += t.has_checksum;
  }
  auto qrows = quant_stats(*f);

  if (as_json) {
    json j;
    j["file"] = path;
    j["size"] = f->file_size();
    j["version"] = std::to_string(f->version_major()) + "." + std::to_string(f->version_minor());
    j["version_major"] = f->version_major();
    j["version_minor"] = f->version_minor();
    j["alignment"] = f->alignment();
    j["data_offset"] = f->data_offset();
    j["data_size"] = f->data_size();
    json meta = json::array();
    for (const auto& kv : f->metadata()) {
      json m;
      m["key"] = kv.key;
      m["type"] = ggf8::vtype_name(kv.value.type());
      if (kv.value.is_array()) {
        m["elem_type"] = ggf8::vtype_name(kv.value.elem_type());
        m["count"] = kv.value.array_size();
      }
      m["value"] = value_json(kv.value);
      meta.push_back(std::move(m));
    }
    j["metadata"] = std::move(meta);
    json q = json::array();
    for (const auto& r : qrows)
      q.push_back({{"tensor", r.tensor}, {"sqnr_db", num_or_null(r.sqnr)},
                   {"max_abs_err", num_or_null(r.max_err)}, {"saturated_pct", num_or_null(r.sat)},
                   {"flushed_pct", num_or_null(r.flush)}});
    j["quant_stats"] = std::move(q);
    if (!tp_bytes.empty()) j["tp_rank_bytes"] = tp_bytes;
    if (const KvFootprint kv = kv_footprint(*f); kv.known)
      j["kv_cache"] = {{"dtype", "e4m3"},
                       {"latent", kv.latent},
                       {"values_per_token_per_layer", kv.values},
                       {"bytes_per_token_per_layer", kv.bytes()},
                       {"scale_bytes_per_token_per_layer", kv.scale_bytes},
                       {"layers", kv.layers},
                       {"bytes_per_token", kv.bytes() * kv.layers},
                       {"scale_bytes_per_layer", kv.latent ? 8 : 0}};
    json ts = json::array();
    for (const auto& t : f->tensors()) {
      json e;
      e["name"] = t.name;
      e["dtype"] = ggf8::dtype_name(t.dtype);
      e["shape"] = t.dims;
      e["scale_kind"] = ggf8::scale_kind_name(t.scale_kind);
      e["scale_tensor"] = t.scale_name.empty() ? json(nullptr) : json(t.scale_name);
      if (t.scale_kind == ggf8::ScaleKind::Block) e["block"] = {t.block_rows, t.block_cols};
      e["nbytes"] = t.nbytes;
      e["offset"] = t.offset;
      char cs[24];
      std::snprintf(cs, sizeof cs, "%016" PRIx64, t.checksum);
      e["checksum"] = t.has_checksum ? json(cs) : json(nullptr);
      ts.push_back(std::move(e));
    }
    j["tensors"] = std::move(ts);
    json tot;
    tot["tensors"] = f->tensors().size();
    tot["elements"] = total_elems;
    tot["bytes"] = total_bytes;
    tot["with_checksum"] = with_sum;
    json bd = json::object();
    for (const auto& [dt, d] : by_dtype)
      bd[ggf8::dtype_name(DType(dt))] = {{"tensors", d.tensors}, {"elements", d.elements}, {"bytes", d.bytes}};
    tot["by_dtype"] = std::move(bd);
    j["totals"] = std::move(tot);
    // Invalid UTF-8 in string values is replaced rather than failing.
    std::string out = j.dump(2, ' ', false, json::error_handler_t::replace);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
    return 0;
  }

  std::printf("file:      %s\n", path.c_str());
  std::printf("size:      %s (%s bytes)\n", human_bytes(f->file_size()).c_str(),
              with_commas(f->file_size()).c_str());
  std::printf("format:    GGF8 %u.%u, alignment %" PRIu64 ", data %s at byte %" PRIu64 "\n",
              f->version_major(), f->version_minor(), f->alignment(),
              human_bytes(f->data_size()).c_str(), f->data_offset());
  std::printf("contents:  %zu tensors (%zu with checksums), %zu metadata keys\n", f->tensors().size(),
              size_t(with_sum), f->metadata().size());
  if (const KvFootprint kv = kv_footprint(*f); kv.known) {
    const std::string scales = kv.latent ? "; + 2 f32 scales per layer"
                                         : " + " + with_commas(kv.scale_bytes) + " scale bytes, one BF16 scale per KV head";
    std::printf("kv cache:  %s bytes per token per layer in E4M3 (%s values%s), %s bytes per token over %" PRIu64
                " layers\n",
                with_commas(kv.bytes()).c_str(), kv.what.c_str(), scales.c_str(),
                with_commas(kv.bytes() * kv.layers).c_str(), kv.layers);
  }

  std::printf("\nmetadata:\n");
  size_t kw = 0;
  for (const auto& kv : f->metadata()) kw = std::max(kw, kv.key.size());
  kw = std::min<size_t>(kw, 48);
  for (const auto& kv : f->metadata()) {
    std::printf("  %-*s  %-14s %s\n", int(kw), kv.key.c_str(), type_str(kv.value).c_str(),
                value_text(kv.value).c_str());
  }

  if (!qrows.empty()) {
    size_t show = show_tensors ? qrows.size() : std::min<size_t>(qrows.size(), 10);
    std::printf("\nquantization stats (worst SQNR first; %zu of %zu%s):\n", show, qrows.size(),
                show < qrows.size() ? ", --tensors for all" : "");
    size_t nw = 6;
    for (size_t i = 0; i < show; ++i) nw = std::max(nw, qrows[i].tensor.size());
    std::printf("  %-*s  %8s  %11s  %7s  %7s\n", int(nw), "tensor", "SQNR dB", "max |err|", "sat %",
                "flush %");
    for (size_t i = 0; i < show; ++i) {
      const auto& r = qrows[i];
      std::printf("  %-*s  %8s  %11s  %7s  %7s\n", int(nw), r.tensor.c_str(),
                  fmt_num(r.sqnr, "%.2f").c_str(), fmt_num(r.max_err, "%.4g").c_str(),
                  fmt_num(r.sat, "%.3f").c_str(), fmt_num(r.flush, "%.3f").c_str());
    }
  }

  print_auto_choices(*f, show_tensors);

  std::printf("\ntotals by dtype:\n");
  std::printf("  %-6s %8s %18s %14s\n", "dtype", "tensors", "elements", "bytes");
  for (const auto& [dt, d] : by_dtype)
    std::printf("  %-6s %8" PRIu64 " %18s %14s\n", ggf8::dtype_name(DType(dt)), d.tensors,
                with_commas(d.elements).c_str(), human_bytes(d.bytes).c_str());
  std::printf("  %-6s %8zu %18s %14s\n", "total", f->tensors().size(), with_commas(total_elems).c_str(),
              human_bytes(total_bytes).c_str());

  if (show_tensors) {
    size_t nw = 4;
    for (const auto& t : f->tensors()) nw = std::max(nw, t.name.size());
    std::printf("\ntensors:\n  %-*s  %-5s  %-22s  %-28s  %12s  %14s\n", int(nw), "name", "dtype", "shape",
                "scale", "bytes", "offset");
    for (const auto& t : f->tensors()) {
      std::string scale = "-";
      if (t.scale_kind != ggf8::ScaleKind::None) {
        scale = std::string(ggf8::scale_kind_name(t.scale_kind));
        if (t.scale_kind == ggf8::ScaleKind::Block)
          scale += " " + std::to_string(t.block_rows) + "x" + std::to_string(t.block_cols);
        scale += " (" + t.scale_name + ")";
      }
      std::printf("  %-*s  %-5s  %-22s  %-28s  %12s  %14s\n", int(nw), t.name.c_str(),
                  ggf8::dtype_name(t.dtype), shape_str(t.dims).c_str(), scale.c_str(),
                  with_commas(t.nbytes).c_str(), with_commas(t.offset).c_str());
    }
  } else {
    std::printf("\n(--tensors lists every tensor; --json prints everything as JSON)\n");
  }
  if (!tp_bytes.empty()) {
    std::printf("\ntensor parallel %lld (weights + scales per rank; KV cache and activations not included):\n",
                (long long)tp);
    for (size_t r = 0; r < tp_bytes.size(); ++r)
      std::printf("  rank %zu: %s bytes (%.1f MiB)\n", r, with_commas(tp_bytes[r]).c_str(),
                  double(tp_bytes[r]) / 1048576.0);
  }
  return 0;
}

}  // namespace

F8_COMMAND("inspect", "show a .f8 file's header, metadata and tensors", run_inspect);

}  // namespace f8cli
