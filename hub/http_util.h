// http_util.h — the pure parts of talking HTTP to the Hub: URL building and
// joining, header parsing, ETag normalization, Content-Range, Retry-After and
// the retry backoff. No I/O, so every rule here is unit-tested
// (tests/hub/test_http_util.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace f8hub {

// Python's urllib.parse.quote(s, safe): every byte outside
// [A-Za-z0-9_.-~] and `safe` becomes %XX (upper-case hex).
std::string url_quote(const std::string& s, const std::string& safe = "/");

// "{endpoint}/{repo}/resolve/{quote(rev, safe='')}/{quote(file)}" as
// huggingface_hub's hf_hub_url builds it.
std::string resolve_url(const std::string& endpoint, const std::string& repo, const std::string& revision,
                        const std::string& file);
// "{endpoint}/api/models/{repo}/revision/{quote(rev, safe='')}?blobs=true"
std::string revision_api_url(const std::string& endpoint, const std::string& repo, const std::string& revision);

// The target of a redirect: `location` resolved against `base` (absolute,
// scheme-relative "//host/p", absolute-path "/p" or relative "p").
std::string url_join(const std::string& base, const std::string& location);

// (scheme, lower-case host, port with the scheme's default) as one string,
// e.g. "https://huggingface.co:443". Empty when `url` has no scheme.
std::string url_origin(const std::string& url);
bool same_origin(const std::string& a, const std::string& b);
// The URL without its query string (signed CDN URLs carry secrets there).
std::string url_without_query(const std::string& url);

// Response headers of one HTTP response, case-insensitive lookup. Fed line
// by line as libcurl delivers them; a status line ("HTTP/...") starts a new
// response (libcurl reports every hop of a redirect chain and 1xx replies).
class HeaderBlock {
 public:
  void feed_line(const std::string& line);
  long status() const { return status_; }
  const std::string* get(const std::string& name) const;  // last value, nullptr if absent
  void clear();

 private:
  long status_ = 0;
  std::vector<std::pair<std::string, std::string>> h_;  // lower-case name, trimmed value
};

// huggingface_hub's _normalize_etag: drops a leading W/ and the quotes.
std::string normalize_etag(const std::string& etag);

// "bytes FIRST-LAST/TOTAL" (TOTAL may be "*": *total = UINT64_MAX).
bool parse_content_range(const std::string& v, uint64_t* first, uint64_t* last, uint64_t* total);

// A non-negative decimal integer with nothing else; false otherwise.
bool parse_u64(const std::string& s, uint64_t* out);

// Retry-After in seconds (the delta-seconds form); -1 when absent or an
// HTTP date (then the caller's own backoff applies).
double parse_retry_after(const std::string* v);

// Delay before retry `attempt` (1-based): 0.5 s doubling, capped at 8 s.
double backoff_seconds(int attempt);

// Whether an HTTP status is worth retrying: 408, 429 and 5xx.
bool transient_status(long status);

}  // namespace f8hub
