// http_client.cpp — see http_client.h.
#include "hub/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace f8hub {

namespace {
std::once_flag g_init;
std::string g_user_agent = "f8";
std::mutex g_ua_mu;

struct Transfer {
  const HttpRequest* req;
  HttpResponse* resp;
  const Cancel* cancel;
  bool sink_refused = false;
};

size_t on_header(char* p, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const std::string line(p, size * n);
  const bool end_of_block = line == "\r\n" || line == "\n";
  if (end_of_block && t->resp->headers.status() >= 200 && t->req->on_headers && !t->req->on_headers(t->resp->headers)) {
    t->sink_refused = true;
    return 0;  // aborts the transfer
  }
  t->resp->headers.feed_line(line);
  return size * n;
}

size_t on_write(char* p, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const size_t len = size * n;
  // The body of a redirect or an error reply is not the file: collect it
  // (error text) but never hand it to the sink.
  const long st = t->resp->headers.status();
  if (t->req->on_body && st >= 200 && st < 300) {
    t->resp->body_bytes += len;
    if (!t->req->on_body(p, len)) {
      t->sink_refused = true;
      return 0;  // CURLE_WRITE_ERROR
    }
    return len;
  }
  t->resp->body_bytes += len;
  const size_t room = t->req->max_body > t->resp->body.size() ? t->req->max_body - t->resp->body.size() : 0;
  t->resp->body.append(p, std::min(len, room));
  return len;
}

int on_progress(void* ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(ud);
  return t->cancel->cancelled() ? 1 : 0;
}

HttpResponse::Fail classify(CURLcode c) {
  switch (c) {
    case CURLE_OK: return HttpResponse::Fail::None;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return HttpResponse::Fail::Resolve;
    case CURLE_COULDNT_CONNECT: return HttpResponse::Fail::Connect;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE: return HttpResponse::Fail::Tls;
    case CURLE_OPERATION_TIMEDOUT: return HttpResponse::Fail::Timeout;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return HttpResponse::Fail::Partial;
    case CURLE_ABORTED_BY_CALLBACK: return HttpResponse::Fail::Cancelled;
    case CURLE_WRITE_ERROR: return HttpResponse::Fail::Sink;
    default: return HttpResponse::Fail::Other;
  }
}
}  // namespace

void set_user_agent(const std::string& ua) {
  std::lock_guard<std::mutex> l(g_ua_mu);
  g_user_agent = ua;
}

HttpClient::HttpClient(const HubEnv& env, Cancel cancel) : env_(env), cancel_(cancel) {
  std::call_once(g_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

HttpResponse HttpClient::perform(const HttpRequest& r) {
  HttpResponse resp;
  CURL* c = static_cast<CURL*>(curl_);
  if (!c) {
    resp.fail = HttpResponse::Fail::Other;
    resp.error = "curl_easy_init failed";
    return resp;
  }
  if (cancel_.cancelled()) {
    resp.fail = HttpResponse::Fail::Cancelled;
    resp.error = "interrupted";
    return resp;
  }
  curl_easy_reset(c);  // keeps the connection cache, forgets the previous options
  Transfer t{&r, &resp, &cancel_};
  char errbuf[CURL_ERROR_SIZE] = {0};
  struct curl_slist* hdrs = nullptr;
  for (const auto& h : r.headers) hdrs = curl_slist_append(hdrs, h.c_str());
  // A plain header rather than CURLOPT_RANGE/RESUME_FROM: a server that
  // ignores it answers 200 with the whole file, which download.cpp handles.
  if (r.range_from > 0) hdrs = curl_slist_append(hdrs, ("Range: bytes=" + std::to_string(r.range_from) + "-").c_str());
  std::string ua;
  {
    std::lock_guard<std::mutex> l(g_ua_mu);
    ua = g_user_agent;
  }
  curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_USERAGENT, ua.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, r.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  // Verification stays on (libcurl's default, restated so no option can drop it).
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!env_.ca_bundle.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, env_.ca_bundle.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, long(r.connect_timeout_s * 1000));
  // "No byte for stall_timeout_s" = below 1 byte/s for that long.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, std::max(1L, long(r.stall_timeout_s + 0.5)));
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  if (r.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);

  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(hdrs);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status) resp.status = status;
  else resp.status = resp.headers.status();
  char* eff = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) resp.effective_url = eff;
  resp.fail = classify(rc);
  if (rc != CURLE_OK) {
    resp.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    while (!resp.error.empty() && (resp.error.back() == '\n' || resp.error.back() == ' ')) resp.error.pop_back();
    if (resp.fail == HttpResponse::Fail::Cancelled) resp.error = "interrupted";
  }
  return resp;
}

}  // namespace f8hub
