// auth.cpp — API key check (constant time, see server.h).
#include "server/server.h"

namespace f8srv {

bool keys_equal(const std::string& presented, const std::string& secret) {
  // Touch every byte of the secret whatever the presented key is, so the
  // response time does not reveal a matching prefix or the secret's bytes.
  volatile unsigned char diff = presented.size() != secret.size() ? 1 : 0;
  const size_t n = presented.size();
  for (size_t i = 0; i < secret.size(); ++i) {
    unsigned char p = n ? static_cast<unsigned char>(presented[i % n]) : 0;
    diff = diff | (p ^ static_cast<unsigned char>(secret[i]));
  }
  return diff == 0 && !secret.empty();
}

}  // namespace f8srv
