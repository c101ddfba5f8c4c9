// digest.h — the two hashes the Hub announces for a file, computed
// incrementally while it downloads (OpenSSL's EVP, which uses the CPU's SHA
// instructions where they exist):
//   - LFS files (weights): sha256 of the content = the LFS oid = X-Linked-Etag;
//   - regular git files (config.json, tokenizer.json, ...): the git blob id,
//     sha1("blob <size>\0" + content).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace f8hub {

class Digest {
 public:
  enum class Algo { Sha256, Sha1 };
  explicit Digest(Algo a);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  void update(const void* data, size_t n);
  std::string hex();  // finishes; lower-case hex
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Algo algo_;
};

// The git blob header that precedes the content in a git blob id.
std::string git_blob_header(uint64_t size);

// Hex digest of a whole buffer (tests and small files).
std::string sha256_hex(const std::string& data);
std::string git_blob_sha1_hex(const std::string& data);

}  // namespace f8hub
