// hub_api.h — the two Hub requests a pull needs, made as huggingface_hub
// makes them:
//   GET  {endpoint}/api/models/{repo}/revision/{rev}?blobs=true
//        -> the commit id ("sha") and every file with its size, git blob id
//           and, for LFS files, the sha256 (the hash downloads are checked against);
//   HEAD {endpoint}/{repo}/resolve/{commit}/{file}  (Accept-Encoding: identity)
//        -> X-Repo-Commit, the blob's etag (X-Linked-Etag, else ETag), its size
//           (X-Linked-Size, else Content-Length) and where to GET it. Redirects
//           that stay on a Hub origin (a renamed repo) are followed; one to
//           another host (the CDN) is not: its Location is the download URL,
//           fetched without the Authorization header.
// Transient failures (connection errors, timeouts, 408/429/5xx) are retried
// with backoff (Retry-After honoured). Every error is one line naming the
// repo, revision, file or endpoint (see hub_status.h for the kinds).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hub/http_client.h"
#include "hub/hub_status.h"

namespace f8hub {

struct RepoFile {
  std::string path;
  int64_t size = -1;          // -1: not announced
  std::string blob_id;        // git blob id (of the LFS pointer for LFS files)
  std::string lfs_sha256;     // empty for regular git files
};

struct RepoInfo {
  std::string commit;
  std::vector<RepoFile> files;
  const RepoFile* find(const std::string& path) const;
};

struct FileMeta {
  std::string commit;         // X-Repo-Commit
  std::string etag;           // normalized: the blob's name in the cache
  std::string linked_etag;    // X-Linked-Etag (normalized) when sent: LFS sha256
  std::string location;       // the URL to GET
  int64_t size = -1;
};

// What a caller learns about requests as they happen (may be empty).
using NoteFn = std::function<void(const std::string&)>;

class HubApi {
 public:
  HubApi(HttpClient& http, NoteFn note = {});

  Status repo_info(const std::string& repo, const std::string& revision, RepoInfo* out);
  Status file_meta(const std::string& repo, const std::string& commit, const std::string& file, FileMeta* out);

  // "Authorization: Bearer ..." when a token is set and `url` is on a Hub
  // origin (huggingface.co, hf.co, the staging Hub, $HF_ENDPOINT); else none.
  std::vector<std::string> auth_headers(const std::string& url) const;

 private:
  HttpResponse request(HttpRequest r, const std::string& what);
  HttpClient& http_;
  NoteFn note_;
};

// The one-line error for a failed request. `repo`, `revision`, `file` name
// what was asked (file empty for the API call).
Status http_failure(const HttpResponse& r, const HubEnv& env, const std::string& url, const std::string& repo,
                    const std::string& revision, const std::string& file);

// Parses the revision API's JSON; false with *err.
bool parse_repo_info(const std::string& json_text, RepoInfo* out, std::string* err);

// Sleeps `seconds` in small steps; false when cancelled meanwhile.
bool sleep_unless_cancelled(double seconds, const Cancel& c);

}  // namespace f8hub
