// http_util.cpp — see http_util.h.
#include "hub/http_util.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace f8hub {

std::string url_quote(const std::string& s, const std::string& safe) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || safe.find(char(c)) != std::string::npos) {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string resolve_url(const std::string& endpoint, const std::string& repo, const std::string& revision,
                        const std::string& file) {
  return endpoint + "/" + repo + "/resolve/" + url_quote(revision, "") + "/" + url_quote(file, "/");
}

std::string revision_api_url(const std::string& endpoint, const std::string& repo, const std::string& revision) {
  return endpoint + "/api/models/" + repo + "/revision/" + url_quote(revision, "") + "?blobs=true";
}

namespace {
// Splits "scheme://authority/rest" into its parts; false without "://".
bool split_url(const std::string& u, std::string* scheme, std::string* authority, std::string* rest) {
  const size_t p = u.find("://");
  if (p == std::string::npos || p == 0) return false;
  *scheme = u.substr(0, p);
  const size_t a = p + 3;
  size_t e = u.find_first_of("/?#", a);
  if (e == std::string::npos) e = u.size();
  *authority = u.substr(a, e - a);
  *rest = u.substr(e);
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  const size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}
}  // namespace

std::string url_join(const std::string& base, const std::string& location) {
  std::string scheme, auth, rest;
  if (location.find("://") != std::string::npos) {
    std::string s2, a2, r2;
    if (split_url(location, &s2, &a2, &r2)) return location;
  }
  if (!split_url(base, &scheme, &auth, &rest)) return location;
  if (location.rfind("//", 0) == 0) return scheme + ":" + location;
  if (!location.empty() && location[0] == '/') return scheme + "://" + auth + location;
  // Relative path: replace everything after the base path's last '/'.
  std::string path = rest.substr(0, rest.find_first_of("?#"));
  const size_t slash = path.rfind('/');
  path = slash == std::string::npos ? "/" : path.substr(0, slash + 1);
  return scheme + "://" + auth + path + location;
}

std::string url_origin(const std::string& url) {
  std::string scheme, auth, rest;
  if (!split_url(url, &scheme, &auth, &rest)) return "";
  scheme = lower(scheme);
  const size_t at = auth.rfind('@');  // drop user:password@
  if (at != std::string::npos) auth = auth.substr(at + 1);
  std::string host = auth, port;
  if (!auth.empty() && auth[0] == '[') {  // [v6]:port
    const size_t close = auth.find(']');
    host = auth.substr(0, close + 1);
    if (close != std::string::npos && close + 1 < auth.size() && auth[close + 1] == ':') port = auth.substr(close + 2);
  } else {
    const size_t colon = auth.rfind(':');
    if (colon != std::string::npos) {
      host = auth.substr(0, colon);
      port = auth.substr(colon + 1);
    }
  }
  if (port.empty()) port = scheme == "https" ? "443" : scheme == "http" ? "80" : "0";
  return scheme + "://" + lower(host) + ":" + port;
}

bool same_origin(const std::string& a, const std::string& b) {
  const std::string oa = url_origin(a);
  return !oa.empty() && oa == url_origin(b);
}

std::string url_without_query(const std::string& url) { return url.substr(0, url.find_first_of("?#")); }

void HeaderBlock::feed_line(const std::string& raw) {
  const std::string line = trim(raw);
  if (line.rfind("HTTP/", 0) == 0) {
    clear();
    const size_t sp = line.find(' ');
    if (sp != std::string::npos) status_ = std::strtol(line.c_str() + sp + 1, nullptr, 10);
    return;
  }
  const size_t colon = line.find(':');
  if (colon == std::string::npos || colon == 0) return;  // the blank line that ends the block, or junk
  h_.emplace_back(lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
}

const std::string* HeaderBlock::get(const std::string& name) const {
  const std::string n = lower(name);
  for (auto it = h_.rbegin(); it != h_.rend(); ++it)
    if (it->first == n) return &it->second;
  return nullptr;
}

void HeaderBlock::clear() {
  status_ = 0;
  h_.clear();
}

std::string normalize_etag(const std::string& etag) {
  std::string e = trim(etag);
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  // Python's str.strip('"'): quotes at both ends.
  const size_t a = e.find_first_not_of('"');
  if (a == std::string::npos) return "";
  const size_t b = e.find_last_not_of('"');
  return e.substr(a, b - a + 1);
}

bool parse_u64(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool parse_content_range(const std::string& v, uint64_t* first, uint64_t* last, uint64_t* total) {
  const std::string t = trim(v);
  if (t.rfind("bytes ", 0) != 0) return false;
  const std::string r = trim(t.substr(6));
  const size_t dash = r.find('-'), slash = r.find('/');
  if (dash == std::string::npos || slash == std::string::npos || dash > slash) return false;
  uint64_t f, l, n = UINT64_MAX;
  if (!parse_u64(r.substr(0, dash), &f) || !parse_u64(r.substr(dash + 1, slash - dash - 1), &l) || l < f) return false;
  const std::string tot = r.substr(slash + 1);
  if (tot != "*" && (!parse_u64(tot, &n) || l >= n)) return false;
  *first = f;
  *last = l;
  *total = n;
  return true;
}

double parse_retry_after(const std::string* v) {
  uint64_t s;
  if (!v || !parse_u64(trim(*v), &s)) return -1;
  return double(std::min<uint64_t>(s, 3600));
}

double backoff_seconds(int attempt) {
  double d = 0.5;
  for (int i = 1; i < attempt && d < 8; ++i) d *= 2;
  return std::min(d, 8.0);
}

bool transient_status(long status) { return status == 408 || status == 429 || (status >= 500 && status <= 599); }

}  // namespace f8hub
