// http_client.h — one HTTP(S) connection handle over libcurl (Debian's
// libcurl4-openssl-dev; docs/pull.md says why). Certificate verification is
// always on (the system CA store, or HubEnv::ca_bundle); proxies come from the
// usual environment variables, which libcurl reads itself; only http and
// https are allowed, also on redirects. One HttpClient per thread: libcurl
// handles are not shared, and keep-alive connections are reused per handle.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hub/cancel.h"
#include "hub/http_util.h"
#include "hub/hub_env.h"

namespace f8hub {

struct HttpRequest {
  std::string method = "GET";          // "GET" or "HEAD"
  std::string url;
  std::vector<std::string> headers;    // "Name: value"
  bool follow_redirects = false;
  uint64_t range_from = 0;             // > 0: "Range: bytes=N-"
  double connect_timeout_s = 10;
  double stall_timeout_s = 10;         // no byte for this long: the transfer fails (a timeout)
  // Called when a response's headers are complete (every hop of a followed
  // redirect, not 1xx), before its body; false aborts the transfer (Fail::Sink).
  std::function<bool(const HeaderBlock&)> on_headers;
  // Receives the body of the final response (only when its status is 2xx);
  // returning false aborts the transfer. Empty: the body is kept in
  // HttpResponse::body, at most max_body bytes.
  std::function<bool(const char*, size_t)> on_body;
  size_t max_body = size_t(64) << 20;
};

struct HttpResponse {
  enum class Fail { None, Resolve, Connect, Tls, Timeout, Partial, Cancelled, Sink, Other };
  Fail fail = Fail::None;              // a transport failure (status may still be set)
  std::string error;                   // libcurl's message for `fail`
  long status = 0;                     // of the last response received
  HeaderBlock headers;                 // its headers
  std::string body;
  std::string effective_url;
  uint64_t body_bytes = 0;             // bytes of the final response's body received
  bool ok() const { return fail == Fail::None; }
};

class HttpClient {
 public:
  HttpClient(const HubEnv& env, Cancel cancel);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse perform(const HttpRequest& r);
  const HubEnv& env() const { return env_; }
  const Cancel& cancel() const { return cancel_; }

 private:
  HubEnv env_;
  Cancel cancel_;
  void* curl_ = nullptr;  // CURL*
};

// "f8/<version> (libcurl/<v>)": set once by the CLI before any request.
void set_user_agent(const std::string& ua);

}  // namespace f8hub
