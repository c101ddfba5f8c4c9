// hub_env.cpp — see hub_env.h.
#include "hub/hub_env.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <strings.h>

namespace f8hub {

bool env_true(const char* v) {
  if (!v) return false;
  for (const char* t : {"1", "ON", "YES", "TRUE"})
    if (strcasecmp(v, t) == 0) return true;
  return false;
}

namespace {
std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  const size_t e = s.find_last_not_of(ws);
  s.erase(e == std::string::npos ? 0 : e + 1);
  return s;
}

// os.path.expanduser for a leading "~" or "~/".
std::string expand_home(const std::string& p, const std::string& home) {
  if (p == "~") return home;
  if (p.rfind("~/", 0) == 0) return home + p.substr(1);
  return p;
}

double positive_or(const char* v, double def) {
  if (!v || !*v) return def;
  char* end = nullptr;
  const double x = std::strtod(v, &end);
  return (end && *end == '\0' && x > 0) ? x : def;
}
}  // namespace

HubEnv hub_env_from(const GetEnv& get_in) {
  GetEnv get = get_in ? get_in : GetEnv([](const char* k) -> const char* { return std::getenv(k); });
  auto val = [&](const char* k) -> std::string {
    const char* v = get(k);
    return v ? std::string(v) : std::string();
  };
  HubEnv e;
  const std::string home = val("HOME");
  const std::string xdg = val("XDG_CACHE_HOME");
  const std::string cache_root = !xdg.empty() ? xdg : home + "/.cache";

  std::string endpoint = val("HF_ENDPOINT");
  if (!endpoint.empty()) {
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    e.endpoint = endpoint;
  }
  e.hf_home = expand_home(!val("HF_HOME").empty() ? val("HF_HOME") : cache_root + "/huggingface", home);
  if (!val("HF_HUB_CACHE").empty()) e.cache_dir = expand_home(val("HF_HUB_CACHE"), home);
  else if (!val("HUGGINGFACE_HUB_CACHE").empty()) e.cache_dir = expand_home(val("HUGGINGFACE_HUB_CACHE"), home);
  else e.cache_dir = e.hf_home + "/hub";

  const char* off = get("HF_HUB_OFFLINE");
  if (!off || !*off) off = get("TRANSFORMERS_OFFLINE");
  e.offline = env_true(off);

  if (!trim(val("HF_TOKEN")).empty()) {
    e.token = trim(val("HF_TOKEN"));
    e.token_source = "HF_TOKEN";
  } else if (!trim(val("HUGGING_FACE_HUB_TOKEN")).empty()) {
    e.token = trim(val("HUGGING_FACE_HUB_TOKEN"));
    e.token_source = "HUGGING_FACE_HUB_TOKEN";
  } else {
    const std::string path =
        !val("HF_TOKEN_PATH").empty() ? expand_home(val("HF_TOKEN_PATH"), home) : e.hf_home + "/token";
    std::ifstream in(path);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      e.token = trim(ss.str());
      if (!e.token.empty()) e.token_source = path;
    }
  }
  e.etag_timeout_s = positive_or(get("HF_HUB_ETAG_TIMEOUT"), 10);
  e.download_timeout_s = positive_or(get("HF_HUB_DOWNLOAD_TIMEOUT"), 10);
  for (const char* k : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"})
    if (!val(k).empty()) {
      e.ca_bundle = val(k);
      break;
    }
  e.f8_home = expand_home(!val("F8_HOME").empty() ? val("F8_HOME") : home + "/.cache/f8", home);
  return e;
}

}  // namespace f8hub
