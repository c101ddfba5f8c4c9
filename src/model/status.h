// status.h — the model layer's error type. The C API maps Code 1:1 onto
// f8_status (src/api/api_context.cpp); messages are one line and name the
// file / field / tensor and what was expected.
#pragma once

#include <string>

#include "backend/backend.h"

namespace f8model {

enum class Code : int {
  Ok = 0,
  InvalidArgument,  // caller passed something invalid (bad token id, position, seq id)
  Io,               // file unreadable
  Format,           // the file's metadata/tensors do not describe a valid model
  Unsupported,      // valid, but not something f8 runs (architecture, dtype)
  OutOfMemory,
  ContextFull,      // the KV cache has no room for the batch
  Aborted,          // the abort callback asked to stop
  Internal,
};

struct Status {
  Code code = Code::Ok;
  std::string message;
  bool ok() const { return code == Code::Ok; }
  static Status Ok() { return {}; }
  static Status Error(Code c, std::string m) { return {c, std::move(m)}; }
};

// The backend's status codes in the model's terms (CacheFull = ContextFull).
inline Code from_backend(f8backend::Code c) {
  switch (c) {
    case f8backend::Code::Ok: return Code::Ok;
    case f8backend::Code::InvalidArgument: return Code::InvalidArgument;
    case f8backend::Code::OutOfMemory: return Code::OutOfMemory;
    case f8backend::Code::Unsupported: return Code::Unsupported;
    case f8backend::Code::CacheFull: return Code::ContextFull;
  }
  return Code::Internal;
}

}  // namespace f8model
