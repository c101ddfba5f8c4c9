// api_backend.cpp — which backends this build has and whether one runs here.
#include <string>

#include "api/api_error.h"
#include "backend/backend.h"
#include "f8.h"

namespace {
f8_status from_backend_code(f8backend::Code c) {
  switch (c) {
    case f8backend::Code::Ok: return F8_OK;
    case f8backend::Code::InvalidArgument: return F8_ERR_INVALID_ARGUMENT;
    case f8backend::Code::OutOfMemory: return F8_ERR_OUT_OF_MEMORY;
    case f8backend::Code::Unsupported: return F8_ERR_UNSUPPORTED;
    default: return F8_ERR_INTERNAL;
  }
}
}  // namespace

extern "C" {

const char* f8_backends(void) {
  static const std::string names = [] {
    std::string s;
    for (const std::string& n : f8backend::backend_names()) s += (s.empty() ? "" : ",") + n;
    return s;
  }();
  return names.c_str();
}

f8_status f8_backend_probe(const char* name, char* desc, size_t capacity) {
  return f8api::guarded("f8_backend_probe", [&]() -> f8_status {
    if (!name) return f8api::set_error(F8_ERR_INVALID_ARGUMENT, "f8_backend_probe: name is NULL");
    std::unique_ptr<f8backend::Backend> b;
    const f8backend::Status s = f8backend::create_backend(name, {}, &b);
    if (!s.ok()) return f8api::set_error(from_backend_code(s.code), std::string(name) + ": " + s.message);
    if (desc && capacity) {
      size_t len = 0;
      return f8api::put_text("f8_backend_probe", b->description(), desc, capacity, &len);
    }
    return F8_OK;
  });
}

}  // extern "C"
