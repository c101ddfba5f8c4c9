// api_error.h — helpers every api_*.cpp uses to keep the C boundary clean:
// set the thread-local last error, and run a body behind an exception barrier.
#pragma once

#include <exception>
#include <new>
#include <string>

#include "f8.h"

namespace f8api {

// Sets the thread-local message and returns `s` (for `return set_error(...)`).
f8_status set_error(f8_status s, const std::string& msg);
void clear_error();

// Copies `s` + NUL into buf when it fits (capacity counts the NUL);
// *len = s.size() always, so a caller can size a retry.
// F8_ERR_BUFFER_TOO_SMALL (message names `fn`) when it does not fit.
f8_status put_text(const char* fn, const std::string& s, char* buf, size_t capacity, size_t* len);

// Runs `body` (returning f8_status); converts any escaping exception into
// F8_ERR_OUT_OF_MEMORY / F8_ERR_INTERNAL with a message naming `fn`.
template <class F>
f8_status guarded(const char* fn, F&& body) noexcept {
  try {
    clear_error();
    return body();
  } catch (const std::bad_alloc&) {
    return set_error(F8_ERR_OUT_OF_MEMORY, std::string(fn) + ": out of memory");
  } catch (const std::exception& e) {
    return set_error(F8_ERR_INTERNAL, std::string(fn) + ": internal error: " + e.what());
  } catch (...) {
    return set_error(F8_ERR_INTERNAL, std::string(fn) + ": internal error");
  }
}

}  // namespace f8api
