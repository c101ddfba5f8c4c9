// tok_fixture.h — shared by the tokenizer tests: where the fixtures live and
// how a fixture directory becomes a Tokenizer (through the converter's
// import, exactly as `f8 convert` stores it).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "convert/tokenizer_import.h"
#include "tokenizer/tokenizer.h"

namespace f8test {

inline std::filesystem::path tok_fixture_dir(const std::string& name) {
  const char* c = std::getenv("F8_CACHE");
  std::filesystem::path root = c && *c ? c : std::filesystem::path(std::getenv("HOME") ? std::getenv("HOME") : "/") / ".cache/f8";
  return root / "tokenizers" / name;
}

// Empty string on success, else the error.
inline std::string load_fixture(const std::filesystem::path& dir, std::unique_ptr<f8tok::Tokenizer>* out,
                                std::vector<ggf8::KV>* kvs_out = nullptr) {
  std::vector<ggf8::KV> kvs;
  ggf8::Status st = f8conv::import_tokenizer(dir.string(), &kvs);
  if (!st.ok()) return "import: " + st.message;
  st = f8tok::load_from_kvs(kvs, out);
  if (!st.ok()) return "load: " + st.message;
  if (kvs_out) *kvs_out = std::move(kvs);
  return "";
}

}  // namespace f8test
