// fuzz_reader.cpp — libFuzzer target for the GGF8 reader: File::parse on the
// raw input, then every accessor on whatever was accepted, so that any
// field the validator let through is actually used (tensor bytes hashed,
// values converted, names looked up). Built by fuzz/CMakeLists.txt with
// -fsanitize=fuzzer,address,undefined; run by scripts/fuzz.sh (`make fuzz`).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "ggf8/ggf8.h"

using namespace ggf8;

static void walk_value(const Value& v) {
  uint64_t u;
  int64_t i;
  double d;
  bool b;
  (void)v.get_u64(&u);
  (void)v.get_i64(&i);
  (void)v.get_f64(&d);
  (void)v.get_bool(&b);
  if (const std::string* s = v.get_str()) (void)s->size();
  (void)v.is_integer();
  (void)v.is_number();
  if (v.is_array()) {
    (void)v.array_size();
    std::vector<int64_t> iv;
    std::vector<float> fv;
    (void)v.to_i64_vector(&iv);
    (void)v.to_f32_vector(&fv);
    if (const auto* ss = v.strings())
      for (const std::string& s : *ss) (void)s.size();
    const auto& raw = v.raw();
    if (!raw.empty() && raw.front() == 0xA5 && raw.back() == 0x5A) (void)vtype_name(v.elem_type());
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Copy into an exact-size heap buffer so ASan flags any read past the end.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[size ? size : 1]);
  if (size) std::copy(data, data + size, buf.get());
  std::unique_ptr<File> f;
  Status s = File::parse(buf.get(), size, &f, "fuzz.f8");
  if (!s.ok()) {
    if (s.message.empty() || f) std::abort();  // every rejection must explain itself
    (void)code_name(s.code);
    return 0;
  }
  (void)f->version_major();
  (void)f->version_minor();
  if (f->data_offset() + f->data_size() > f->file_size()) std::abort();
  for (const KV& kv : f->metadata()) {
    walk_value(kv.value);
    if (f->find(kv.key) != &kv.value) std::abort();  // keys are unique
    uint64_t u;
    std::string str;
    (void)f->get_u64(kv.key, &u);
    (void)f->get_str(kv.key, &str);
  }
  uint64_t sum = 0;
  for (const TensorInfo& t : f->tensors()) {
    if (f->tensor(t.name) != &t) std::abort();
    if (t.count() * dtype_size(t.dtype) != t.nbytes) std::abort();
    const uint8_t* p = f->data(t);
    sum += p[0] + p[t.nbytes - 1];  // first and last byte must be in bounds
    (void)dtype_name(t.dtype);
    (void)scale_kind_name(t.scale_kind);
    if (t.scale_kind != ScaleKind::None && !f->tensor(t.scale_name)) std::abort();
  }
  (void)f->verify();  // hashes every checksummed tensor's bytes
  return int(sum & 0);
}
