// api_core.cpp — status names, thread-local last error, version.
#include <cstring>
#include <string>

#include "api/api_error.h"
#include "f8.h"

namespace f8api {
thread_local std::string g_last_error;
f8_status set_error(f8_status s, const std::string& msg) {
  try {
    g_last_error = msg;
  } catch (...) {
    // Out of memory while recording the message: keep the status.
  }
  return s;
}
void clear_error() { g_last_error.clear(); }

f8_status put_text(const char* fn, const std::string& s, char* buf, size_t capacity, size_t* len) {
  *len = s.size();
  if (capacity < s.size() + 1 || !buf)
    return set_error(F8_ERR_BUFFER_TOO_SMALL, std::string(fn) + ": need " + std::to_string(s.size() + 1) +
                                                  " bytes (text + NUL), buffer has " + std::to_string(capacity));
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  return F8_OK;
}
}  // namespace f8api

extern "C" {

const char* f8_status_name(f8_status s) {
  switch (s) {
    case F8_OK: return "F8_OK";
    case F8_ERR_INVALID_ARGUMENT: return "F8_ERR_INVALID_ARGUMENT";
    case F8_ERR_IO: return "F8_ERR_IO";
    case F8_ERR_FORMAT: return "F8_ERR_FORMAT";
    case F8_ERR_UNSUPPORTED: return "F8_ERR_UNSUPPORTED";
    case F8_ERR_OUT_OF_MEMORY: return "F8_ERR_OUT_OF_MEMORY";
    case F8_ERR_CONTEXT_FULL: return "F8_ERR_CONTEXT_FULL";
    case F8_ERR_ABORTED: return "F8_ERR_ABORTED";
    case F8_ERR_BUFFER_TOO_SMALL: return "F8_ERR_BUFFER_TOO_SMALL";
    case F8_ERR_TEMPLATE: return "F8_ERR_TEMPLATE";
    case F8_ERR_INTERNAL: return "F8_ERR_INTERNAL";
  }
  return "F8_ERR_UNKNOWN";
}

const char* f8_last_error(void) { return f8api::g_last_error.c_str(); }

const char* f8_version(void) { return F8_VERSION_STRING; }

}  // extern "C"
