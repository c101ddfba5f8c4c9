// hub_env.h — the environment huggingface_hub reads, read the same way, so
// f8 and Python tools share one cache, one endpoint and one token:
//
//   HF_ENDPOINT                  the Hub (default https://huggingface.co), trailing '/' dropped
//   HF_HUB_CACHE                 the cache; else HUGGINGFACE_HUB_CACHE; else $HF_HOME/hub
//   HF_HOME                      default $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface
//   HF_HUB_OFFLINE               1/ON/YES/TRUE (any case): no request at all (also TRANSFORMERS_OFFLINE)
//   HF_TOKEN                     the token; else HUGGING_FACE_HUB_TOKEN; else the file
//                                HF_TOKEN_PATH (default $HF_HOME/token)
//   HF_HUB_ETAG_TIMEOUT          seconds for metadata requests (default 10)
//   HF_HUB_DOWNLOAD_TIMEOUT      seconds without a byte before a download is retried (default 10)
//   F8_HOME                      f8's own directory (default ~/.cache/f8); pulled models in $F8_HOME/models
//   SSL_CERT_FILE / REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE   a CA bundle replacing the system one
//
// Proxies (https_proxy, HTTPS_PROXY, http_proxy, ALL_PROXY, NO_PROXY) are
// read by libcurl itself (hub/http_client.cpp).
#pragma once

#include <functional>
#include <string>

namespace f8hub {

struct HubEnv {
  std::string endpoint = "https://huggingface.co";
  std::string cache_dir;      // the hub cache root (holds models--ORG--NAME/)
  std::string hf_home;
  bool offline = false;
  std::string token;          // empty: anonymous
  std::string token_source;   // "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN" or the token file's path
  double etag_timeout_s = 10;
  double download_timeout_s = 10;
  std::string ca_bundle;      // empty: libcurl's default (the system store)
  std::string f8_home;
};

using GetEnv = std::function<const char*(const char*)>;

// Reads the variables through `get` (tests pass a map); the token file is
// read from disk. getenv is used when `get` is empty.
HubEnv hub_env_from(const GetEnv& get = {});

// huggingface_hub's _is_true: "1", "ON", "YES", "TRUE" in any case.
bool env_true(const char* v);

}  // namespace f8hub
