// hub_status.h — what a Hub operation reports: a kind (so the CLI can pick
// the exit code and tests can tell failures apart) and one line of text that
// names the repo, revision, file or endpoint concerned.
#pragma once

#include <string>

namespace f8hub {

enum class Kind {
  Ok = 0,
  Usage,        // bad repo id / revision / option (CLI exit 2)
  Network,      // the endpoint cannot be reached (DNS, connect, TLS, timeout)
  Auth,         // 401/403: gated, private, or a bad token
  NotFound,     // 404: repo, revision or file
  Http,         // another HTTP failure (5xx after retries, a malformed reply)
  Integrity,    // size or sha256/sha1 differs from what the Hub announced
  Offline,      // HF_HUB_OFFLINE=1 and the cache does not hold what is needed
  Io,           // a local file operation failed
  Interrupted,  // Ctrl-C (the partial download is kept for resuming)
};

struct Status {
  Kind kind = Kind::Ok;
  std::string message;
  bool ok() const { return kind == Kind::Ok; }
  static Status Ok() { return {}; }
  static Status Error(Kind k, std::string m) { return {k, std::move(m)}; }
};

}  // namespace f8hub

// Returns from the enclosing function when `expr` (a Status) is not ok.
#define F8HUB_TRY(expr)                         \
  do {                                          \
    ::f8hub::Status f8hub_s_ = (expr);          \
    if (!f8hub_s_.ok()) return f8hub_s_;        \
  } while (0)
