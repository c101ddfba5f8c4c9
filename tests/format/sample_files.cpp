// sample_files.cpp — see sample_files.h.
#include "sample_files.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace samples {
using namespace ggf8;

std::vector<uint8_t> pattern(uint64_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 12345u;
  for (uint64_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    v[i] = uint8_t(x >> 16);
  }
  return v;
}

static std::vector<uint8_t> f32_bytes(const std::vector<float>& f) {
  std::vector<uint8_t> b(f.size() * 4);
  std::memcpy(b.data(), f.data(), b.size());
  return b;
}

#define TRY(expr)                  \
  do {                             \
    ggf8::Status st_ = (expr);     \
    if (!st_.ok()) return st_;     \
  } while (0)

Status write_full(const std::string& path, const WriterOptions& opts, bool compact) {
  const int vocab = compact ? 20 : 1000;
  const uint64_t rows = compact ? 40 : 300, cols = compact ? 36 : 260;
  const uint32_t blk = compact ? 16 : 128;
  std::unique_ptr<Writer> w;
  TRY(Writer::create(path, opts, &w));
  TRY(w->set_metadata("general.architecture", Value::str("llama")));
  TRY(w->set_metadata("general.name", Value::str("sample-full")));
  TRY(w->set_metadata("llm.block_count", Value::u64(2)));
  TRY(w->set_metadata("llm.context_length", Value::u32(2048)));
  TRY(w->set_metadata("llm.attention.layer_norm_rms_epsilon", Value::f32(1e-5f)));
  TRY(w->set_metadata("llm.rope.freq_base", Value::f64(10000.0)));
  TRY(w->set_metadata("llm.tie_word_embeddings", Value::boolean(true)));
  TRY(w->set_metadata("test.u8", Value::u8(200)));
  TRY(w->set_metadata("test.i8", Value::i8(-100)));
  TRY(w->set_metadata("test.u16", Value::u16(65000)));
  TRY(w->set_metadata("test.i16", Value::i16(-32000)));
  TRY(w->set_metadata("test.i32", Value::i32(-7)));
  TRY(w->set_metadata("test.i64", Value::i64(-(int64_t(1) << 40))));
  TRY(w->set_metadata("test.utf8", Value::str("h\xC3\xA9llo \xE2\x9C\x93")));
  TRY(w->set_metadata("tokenizer.sentencepiece.model", Value::bytes(pattern(compact ? 64 : 5000, 99))));
  std::vector<std::string> toks;
  std::vector<int32_t> types;
  for (int i = 0; i < vocab; ++i) {
    toks.push_back("tok" + std::to_string(i));
    types.push_back(i < 3 ? 3 : 1);
  }
  TRY(w->set_metadata("tokenizer.tokens", Value::array_str(toks)));
  TRY(w->set_metadata("tokenizer.token_type", Value::array_i32(types)));
  TRY(w->set_metadata("chat.eos_ids", Value::array_i32({2, 7})));
  TRY(w->set_metadata("test.u32s", Value::array_u32({1, 2, 3})));
  TRY(w->set_metadata("test.i64s", Value::array_i64({-1, 0, int64_t(1) << 50})));
  TRY(w->set_metadata("quant.stats.tensor", Value::array_str({"blk.0.w", "blk.1.w", "blk.2.w"})));
  TRY(w->set_metadata("quant.stats.sqnr_db", Value::array_f32({31.5f, 24.25f, 28.0f})));
  TRY(w->set_metadata("quant.stats.max_abs_err", Value::array_f32({0.01f, 0.05f, 0.02f})));
  TRY(w->set_metadata("quant.stats.saturated_pct", Value::array_f32({0.0f, 0.1f, 0.0f})));
  TRY(w->set_metadata("quant.stats.flushed_pct", Value::array_f32({0.5f, 1.5f, 0.25f})));

  // One tensor of every dtype.
  uint32_t seed = 1;
  for (uint32_t d = 0; d < kDTypeCount; ++d) {
    TensorDesc t;
    t.dtype = DType(d);
    t.name = std::string("all.") + dtype_name(t.dtype);
    t.dims = {3, 5};
    auto bytes = pattern(15 * dtype_size(t.dtype), seed++);
    TRY(w->add_tensor(t, bytes.data(), bytes.size()));
  }
  // Tensor-scaled: weight + scale [1]; channel: [rows]; block 128x128 on a
  // [300, 260] weight (compact: 16x16 on [40, 36]): scale [3, 3]. 4-D too.
  TensorDesc a{"blk.0.w", DType::E4M3, {16, 32}, ScaleKind::Tensor, 0, 0, "blk.0.w.scale"};
  auto ab = pattern(16 * 32, seed++);
  TRY(w->add_tensor(a, ab.data(), ab.size()));
  auto as = f32_bytes({0.5f});
  TRY(w->add_tensor({"blk.0.w.scale", DType::F32, {1}}, as.data(), as.size()));
  TensorDesc b{"blk.1.w", DType::E5M2, {16, 32}, ScaleKind::Channel, 0, 0, "blk.1.w.scale"};
  TRY(w->add_tensor(b, ab.data(), ab.size()));
  auto bs = f32_bytes(std::vector<float>(16, 0.25f));
  TRY(w->add_tensor({"blk.1.w.scale", DType::F32, {16}}, bs.data(), bs.size()));
  // The block-scaled one streams in uneven pieces.
  TensorDesc c{"blk.2.w", DType::E4M3, {rows, cols}, ScaleKind::Block, blk, blk, "blk.2.w.scale"};
  auto cb = pattern(rows * cols, seed++);
  TRY(w->begin_tensor(c));
  for (size_t off = 0; off < cb.size(); off += 7777)
    TRY(w->append(cb.data() + off, std::min<size_t>(7777, cb.size() - off)));
  TRY(w->end_tensor());
  auto cs = f32_bytes(std::vector<float>(9, 2.0f));
  TRY(w->add_tensor({"blk.2.w.scale", DType::F32, {3, 3}}, cs.data(), cs.size()));
  auto db = pattern(2 * 3 * 4 * 5 * 2, seed++);
  TRY(w->add_tensor({"four.d", DType::BF16, {2, 3, 4, 5}}, db.data(), db.size()));
  return w->finish();
}

Status write_minimal(const std::string& path, const WriterOptions& opts) {
  std::unique_ptr<Writer> w;
  TRY(Writer::create(path, opts, &w));
  TRY(w->set_metadata("general.name", Value::str("minimal")));
  auto b = f32_bytes({1.0f, 2.0f, 3.0f, 4.0f});
  TRY(w->add_tensor({"x", DType::F32, {4}}, b.data(), b.size()));
  return w->finish();
}
#undef TRY

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

TempDir::TempDir() {
  const char* t = std::getenv("TMPDIR");
  std::string tmpl = std::string(t && *t ? t : "/tmp") + "/ggf8test.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data())) path_ = buf.data();
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  if (DIR* d = ::opendir(path_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
        ::unlink((path_ + "/" + e->d_name).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(path_.c_str());
}

}  // namespace samples
