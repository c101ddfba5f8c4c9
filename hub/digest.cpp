// digest.cpp — see digest.h.
#include "hub/digest.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace f8hub {

struct Digest::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Digest::Digest(Algo a) : impl_(std::make_unique<Impl>()), algo_(a) {
  impl_->ctx = EVP_MD_CTX_new();
  if (!impl_->ctx) throw std::bad_alloc();
  reset();
}

Digest::~Digest() { EVP_MD_CTX_free(impl_->ctx); }

void Digest::reset() {
  if (EVP_DigestInit_ex(impl_->ctx, algo_ == Algo::Sha256 ? EVP_sha256() : EVP_sha1(), nullptr) != 1)
    throw std::runtime_error("EVP_DigestInit_ex failed");
}

void Digest::update(const void* data, size_t n) {
  if (n) EVP_DigestUpdate(impl_->ctx, data, n);
}

std::string Digest::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  static const char* h = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += h[md[i] >> 4];
    out += h[md[i] & 15];
  }
  return out;
}

std::string git_blob_header(uint64_t size) {
  std::string h = "blob " + std::to_string(size);
  h.push_back('\0');
  return h;
}

std::string sha256_hex(const std::string& data) {
  Digest d(Digest::Algo::Sha256);
  d.update(data.data(), data.size());
  return d.hex();
}

std::string git_blob_sha1_hex(const std::string& data) {
  Digest d(Digest::Algo::Sha1);
  const std::string h = git_blob_header(data.size());
  d.update(h.data(), h.size());
  d.update(data.data(), data.size());
  return d.hex();
}

}  // namespace f8hub
