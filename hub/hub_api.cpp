// hub_api.cpp — see hub_api.h.
#include "hub/hub_api.h"

#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "hub/repo_ref.h"

namespace f8hub {

namespace {
constexpr int kMetaAttempts = 3;   // metadata requests: 3 tries (0.5 s, 1 s between)
constexpr int kMaxHubRedirects = 10;

bool is_hub_origin(const std::string& url, const HubEnv& env) {
  const std::string o = url_origin(url);
  for (const char* h : {"https://huggingface.co", "https://hub-ci.huggingface.co", "https://hf.co"})
    if (o == url_origin(h)) return true;
  return o == url_origin(env.endpoint);
}

bool transport_transient(HttpResponse::Fail f) {
  using F = HttpResponse::Fail;
  return f == F::Resolve || f == F::Connect || f == F::Timeout || f == F::Partial;
}

std::string host_of(const std::string& url) {
  const std::string o = url_origin(url);
  const size_t p = o.find("://");
  return p == std::string::npos ? url : o.substr(p + 3);
}
}  // namespace

const RepoFile* RepoInfo::find(const std::string& path) const {
  for (const auto& f : files)
    if (f.path == path) return &f;
  return nullptr;
}

bool sleep_unless_cancelled(double seconds, const Cancel& c) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(seconds * 1000));
  while (std::chrono::steady_clock::now() < end) {
    if (c.cancelled()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !c.cancelled();
}

HubApi::HubApi(HttpClient& http, NoteFn note) : http_(http), note_(std::move(note)) {}

std::vector<std::string> HubApi::auth_headers(const std::string& url) const {
  if (http_.env().token.empty() || !is_hub_origin(url, http_.env())) return {};
  return {"Authorization: Bearer " + http_.env().token};
}

HttpResponse HubApi::request(HttpRequest r, const std::string& what) {
  r.connect_timeout_s = http_.env().etag_timeout_s;
  r.stall_timeout_s = http_.env().etag_timeout_s;
  HttpResponse resp;
  for (int attempt = 1;; ++attempt) {
    resp = http_.perform(r);
    const bool retry = (!resp.ok() && transport_transient(resp.fail)) || (resp.ok() && transient_status(resp.status));
    if (!retry || attempt >= kMetaAttempts) return resp;
    double wait = parse_retry_after(resp.headers.get("retry-after"));
    if (wait < 0) wait = backoff_seconds(attempt);
    if (note_)
      note_(what + ": " + (resp.ok() ? "HTTP " + std::to_string(resp.status) : resp.error) + "; retrying in " +
            std::to_string(int(wait * 1000)) + " ms");
    if (!sleep_unless_cancelled(wait, http_.cancel())) {
      resp.fail = HttpResponse::Fail::Cancelled;
      resp.error = "interrupted";
      return resp;
    }
  }
}

Status http_failure(const HttpResponse& r, const HubEnv& env, const std::string& url, const std::string& repo,
                    const std::string& revision, const std::string& file) {
  using F = HttpResponse::Fail;
  const std::string at = repo + (revision.empty() ? "" : "@" + revision);
  if (r.fail == F::Cancelled) return Status::Error(Kind::Interrupted, "interrupted");
  if (r.fail == F::Tls)
    return Status::Error(Kind::Network, "TLS certificate verification failed for " + host_of(url) + ": " + r.error +
                                            " (a proxy that re-signs traffic needs its CA in SSL_CERT_FILE)");
  if (!r.ok())
    return Status::Error(Kind::Network, "cannot reach " + (is_hub_origin(url, env) ? env.endpoint : host_of(url)) +
                                            " for " + at + ": " + r.error +
                                            " (check the network or proxy; HF_HUB_OFFLINE=1 uses the local cache only)");
  const std::string* code = r.headers.get("x-error-code");
  const std::string* msg = r.headers.get("x-error-message");
  const std::string c = code ? *code : "";
  const std::string page = env.endpoint + "/" + repo;
  const std::string token_note =
      env.token.empty() ? "set HF_TOKEN to a token of an account that has access"
                        : "the token from " + env.token_source + " was sent: its account has no access yet";
  if (c == "GatedRepo")
    return Status::Error(Kind::Auth, repo + " is gated: accept its licence at " + page +
                                         " (logged in), then " + token_note);
  if (r.status == 401 && msg && *msg == "Invalid credentials in Authorization header")
    return Status::Error(Kind::Auth, env.endpoint + " rejected the token from " + env.token_source +
                                         " (invalid credentials): fix or unset it");
  if (c == "RevisionNotFound")
    return Status::Error(Kind::NotFound, "revision '" + revision + "' not found in " + repo + " at " + env.endpoint);
  if (c == "EntryNotFound" || (r.status == 404 && !file.empty() && c != "RepoNotFound"))
    return Status::Error(Kind::NotFound, at + " has no file " + file + " at " + env.endpoint);
  if (r.status == 404)
    return Status::Error(Kind::NotFound, "repository " + repo + " not found at " + env.endpoint);
  if (r.status == 401 || r.status == 403) {
    // The Hub answers 401 for a repo it will not show this caller: missing,
    // private or gated. Say all three in one line.
    return Status::Error(Kind::Auth, "repository " + repo + " not found at " + env.endpoint +
                                         ", or it is private or gated (HTTP " + std::to_string(r.status) +
                                         "): if it exists, request access at " + page + " and " + token_note);
  }
  std::string detail = msg ? *msg : "";
  if (detail.empty() && !r.body.empty() && r.body.size() < 300 && r.body.find('\n') == std::string::npos)
    detail = r.body;
  return Status::Error(Kind::Http, (is_hub_origin(url, env) ? env.endpoint : host_of(url)) + " answered HTTP " +
                                       std::to_string(r.status) + " for " + at + (file.empty() ? "" : " " + file) +
                                       (detail.empty() ? "" : ": " + detail));
}

bool parse_repo_info(const std::string& text, RepoInfo* out, std::string* err) {
  using nlohmann::json;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    *err = "the reply is not a JSON object";
    return false;
  }
  if (!j.contains("sha") || !j["sha"].is_string() || !is_commit_hash(j["sha"].get<std::string>())) {
    *err = "the reply has no commit id (\"sha\")";
    return false;
  }
  if (!j.contains("siblings") || !j["siblings"].is_array()) {
    *err = "the reply has no file list (\"siblings\")";
    return false;
  }
  RepoInfo info;
  info.commit = j["sha"].get<std::string>();
  for (const auto& s : j["siblings"]) {
    if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string()) {
      *err = "a \"siblings\" entry has no \"rfilename\"";
      return false;
    }
    RepoFile f;
    f.path = s["rfilename"].get<std::string>();
    if (s.contains("size") && s["size"].is_number_unsigned()) f.size = s["size"].get<int64_t>();
    if (s.contains("blobId") && s["blobId"].is_string()) f.blob_id = s["blobId"].get<std::string>();
    if (s.contains("lfs") && s["lfs"].is_object()) {
      const auto& l = s["lfs"];
      if (l.contains("sha256") && l["sha256"].is_string()) f.lfs_sha256 = l["sha256"].get<std::string>();
      if (l.contains("size") && l["size"].is_number_unsigned()) f.size = l["size"].get<int64_t>();
    }
    info.files.push_back(std::move(f));
  }
  *out = std::move(info);
  return true;
}

Status HubApi::repo_info(const std::string& repo, const std::string& revision, RepoInfo* out) {
  HttpRequest r;
  r.url = revision_api_url(http_.env().endpoint, repo, revision);
  r.headers = auth_headers(r.url);
  r.follow_redirects = true;  // a renamed repo answers 307 to its new name (same host)
  HttpResponse resp = request(r, repo + "@" + revision);
  if (!resp.ok() || resp.status != 200) return http_failure(resp, http_.env(), r.url, repo, revision, "");
  std::string err;
  if (!parse_repo_info(resp.body, out, &err))
    return Status::Error(Kind::Http, "GET " + r.url + ": " + err + " (does HF_ENDPOINT=" + http_.env().endpoint +
                                         " point to a Hugging Face Hub?)");
  return Status::Ok();
}

Status HubApi::file_meta(const std::string& repo, const std::string& commit, const std::string& file, FileMeta* out) {
  std::string url = resolve_url(http_.env().endpoint, repo, commit, file);
  const std::string first = url;
  for (int hop = 0; hop <= kMaxHubRedirects; ++hop) {
    HttpRequest r;
    r.method = "HEAD";
    r.url = url;
    r.headers = auth_headers(url);
    r.headers.push_back("Accept-Encoding: identity");  // the real size, not a compressed one
    HttpResponse resp = request(r, file);
    if (!resp.ok() || resp.status >= 400) return http_failure(resp, http_.env(), url, repo, commit, file);
    const std::string* loc = resp.headers.get("location");
    const bool redirect = resp.status >= 300 && resp.status < 400 && loc;
    if (redirect && (same_origin(url_join(url, *loc), url) || is_hub_origin(url_join(url, *loc), http_.env()))) {
      url = url_join(url, *loc);  // stays on the Hub: follow, the metadata comes from the next hop
      continue;
    }
    if (resp.status >= 300 && !redirect)
      return Status::Error(Kind::Http, "HEAD " + url + ": HTTP " + std::to_string(resp.status) + " without Location");
    FileMeta m;
    if (const std::string* c = resp.headers.get("x-repo-commit")) m.commit = *c;
    if (m.commit.empty())
      return Status::Error(Kind::Http, "HEAD " + url + " for " + file + ": no X-Repo-Commit header (does HF_ENDPOINT=" +
                                           http_.env().endpoint + " point to a Hugging Face Hub?)");
    const std::string* le = resp.headers.get("x-linked-etag");
    const std::string* et = resp.headers.get("etag");
    if (le) m.linked_etag = normalize_etag(*le);
    m.etag = normalize_etag(le ? *le : et ? *et : "");
    if (m.etag.empty()) return Status::Error(Kind::Http, "HEAD " + url + " for " + file + ": no ETag");
    for (char ch : m.etag)
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
        return Status::Error(Kind::Http, "HEAD " + url + " for " + file + ": ETag '" + m.etag +
                                             "' cannot name a cache blob");
    m.location = redirect ? url_join(url, *loc) : url;
    uint64_t n;
    const std::string* ls = resp.headers.get("x-linked-size");
    const std::string* cl = resp.headers.get("content-length");
    if (ls && parse_u64(*ls, &n)) m.size = int64_t(n);
    else if (!redirect && cl && parse_u64(*cl, &n)) m.size = int64_t(n);
    *out = std::move(m);
    return Status::Ok();
  }
  return Status::Error(Kind::Http, "HEAD " + first + ": more than " + std::to_string(kMaxHubRedirects) + " redirects");
}

}  // namespace f8hub
