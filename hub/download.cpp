// download.cpp — see download.h.
#include "hub/download.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "hub/digest.h"
#include "hub/hub_api.h"

namespace f8hub {

namespace {
constexpr int kMaxTriesWithoutProgress = 5;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string mb(uint64_t b) {
  char s[32];
  std::snprintf(s, sizeof s, "%.1f MB", double(b) / 1e6);
  return s;
}
}  // namespace

Status download_blob(HttpClient& http, const RepoCache& cache, const BlobSpec& spec, DownloadHooks& hooks,
                     DownloadStats* stats) {
  auto note = [&](const std::string& m) {
    if (hooks.on_note) hooks.on_note(m);
  };
  auto bytes = [&](int64_t d) {
    if (hooks.on_bytes && d) hooks.on_bytes(d);
  };
  FileLock lock;
  F8HUB_TRY(lock.acquire(cache.lock_path(spec.etag), http.cancel(), [&] {
    note(spec.file + ": waiting for another download of it to finish (lock " + cache.lock_path(spec.etag) + ")");
  }));
  const std::string blob = cache.blob_path(spec.etag), part = cache.incomplete_path(spec.etag);
  struct stat st;
  if (::stat(blob.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    stats->already_there = true;
    return Status::Ok();
  }
  F8HUB_TRY(make_dirs(cache.storage() + "/blobs"));
  Fd f;
  f.fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (f.fd < 0) return Status::Error(Kind::Io, "cannot open " + part + ": " + std::strerror(errno));

  // The hash the Hub announced, computed as the bytes arrive.
  std::unique_ptr<Digest> dg;
  std::string want;
  if (!spec.sha256.empty()) {
    dg = std::make_unique<Digest>(Digest::Algo::Sha256);
    want = spec.sha256;
  } else if (!spec.git_sha1.empty() && spec.size >= 0) {
    dg = std::make_unique<Digest>(Digest::Algo::Sha1);
    want = spec.git_sha1;
  }
  auto digest_reset = [&] {
    if (!dg) return;
    dg->reset();
    if (!spec.sha256.empty()) return;
    const std::string h = git_blob_header(uint64_t(spec.size));
    dg->update(h.data(), h.size());
  };

  uint64_t have = 0;
  auto restart = [&]() -> Status {
    if (::ftruncate(f.fd, 0) != 0 || ::lseek(f.fd, 0, SEEK_SET) != 0)
      return Status::Error(Kind::Io, "cannot truncate " + part + ": " + std::strerror(errno));
    bytes(-int64_t(have));
    have = 0;
    digest_reset();
    return Status::Ok();
  };

  // Keep what an earlier run left, hashing it first.
  const off_t end = ::lseek(f.fd, 0, SEEK_END);
  have = end > 0 ? uint64_t(end) : 0;
  digest_reset();
  if (spec.size >= 0 && have > uint64_t(spec.size)) F8HUB_TRY(restart());
  if (have > 0 && dg) {
    std::vector<char> buf(size_t(1) << 20);
    uint64_t off = 0;
    while (off < have) {
      const ssize_t n = ::pread(f.fd, buf.data(), std::min<uint64_t>(buf.size(), have - off), off_t(off));
      if (n <= 0) break;
      dg->update(buf.data(), size_t(n));
      off += uint64_t(n);
    }
    if (off != have) F8HUB_TRY(restart());  // unreadable: start over
  }
  if (have > 0 && ::lseek(f.fd, off_t(have), SEEK_SET) < 0)
    return Status::Error(Kind::Io, "cannot seek " + part + ": " + std::strerror(errno));
  stats->resumed_from = have;
  if (have && hooks.on_kept) hooks.on_kept(have);
  bool resumed = have > 0;  // bytes in the blob that came from an earlier transfer
  bool fresh_retry_done = false;

  for (;;) {
    int fails = 0;
    while (spec.size < 0 || have < uint64_t(spec.size)) {
      HttpRequest r;
      r.url = spec.url;
      r.headers = spec.headers;
      r.range_from = have;
      r.follow_redirects = true;  // a CDN may redirect again (libcurl drops Authorization across hosts)
      r.connect_timeout_s = http.env().etag_timeout_s;
      r.stall_timeout_s = http.env().download_timeout_s;
      const uint64_t have_before = have;
      bool io_error = false, too_long = false, bad_range = false;
      int io_errno = 0;
      Status restart_status;
      r.on_headers = [&](const HeaderBlock& h) -> bool {
        const long s = h.status();
        if (s == 206) {
          uint64_t a, b, total;
          const std::string* cr = h.get("content-range");
          if (!cr || !parse_content_range(*cr, &a, &b, &total) || a != have) {
            bad_range = true;  // not the bytes we asked for
            return false;
          }
        } else if (s == 200 && have > 0) {
          restart_status = restart();  // the server ignored Range: the whole file follows
          return restart_status.ok();
        }
        return true;
      };
      r.on_body = [&](const char* p, size_t n) -> bool {
        if (spec.size >= 0 && have + n > uint64_t(spec.size)) {
          too_long = true;
          return false;
        }
        for (size_t off = 0; off < n;) {
          const ssize_t w = ::write(f.fd, p + off, n - off);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) {
            io_error = true;
            io_errno = errno;
            return false;
          }
          off += size_t(w);
        }
        if (dg) dg->update(p, n);
        have += n;
        stats->fetched += n;
        bytes(int64_t(n));
        return true;
      };
      HttpResponse resp = http.perform(r);
      if (!restart_status.ok()) return restart_status;
      if (io_error)
        return Status::Error(Kind::Io, "cannot write " + part + ": " + std::strerror(io_errno) + " (" + mb(have) +
                                 " kept; run again to resume)");
      if (resp.fail == HttpResponse::Fail::Cancelled)
        return Status::Error(Kind::Interrupted, spec.file + ": interrupted with " + mb(have) + " of " +
                                                    (spec.size >= 0 ? mb(uint64_t(spec.size)) : "?") + " in " + part);
      if (too_long) {
        ::unlink(part.c_str());
        return Status::Error(Kind::Integrity, spec.file + ": the server sent more than the " +
                                                  std::to_string(spec.size) + " bytes the Hub announced; discarded");
      }
      std::string reason;
      if (bad_range) {
        F8HUB_TRY(restart());
        reason = "a 206 reply for the wrong range";
      } else if (resp.ok() && (resp.status == 200 || resp.status == 206)) {
        if (spec.size < 0) break;  // no announced size: the server's end is the end
        if (have == uint64_t(spec.size)) break;
        reason = "the connection closed at byte " + std::to_string(have);
      } else if (resp.ok() && resp.status == 416 && have > 0) {
        if (spec.size < 0) break;  // the range starts at the end: complete (the hash decides)
        F8HUB_TRY(restart());
        reason = "HTTP 416 for a resumed range";
      } else if (resp.ok() && !transient_status(resp.status)) {
        return Status::Error(resp.status == 404 ? Kind::NotFound : resp.status == 401 || resp.status == 403 ? Kind::Auth
                                                                                                            : Kind::Http,
                             spec.file + ": GET " + url_without_query(spec.url) + " answered HTTP " +
                                 std::to_string(resp.status) + " (" + mb(have) + " kept in " + part + ")");
      } else {
        reason = resp.ok() ? "HTTP " + std::to_string(resp.status) : resp.error;
      }
      fails = have > have_before ? 1 : fails + 1;
      if (have > 0) resumed = true;
      if (fails >= kMaxTriesWithoutProgress)
        return Status::Error(Kind::Network, spec.file + ": download failed " + std::to_string(fails) +
                                                " times in a row (" + reason + "); " + mb(have) + " kept in " + part +
                                                ": run again to resume");
      double wait = parse_retry_after(resp.headers.get("retry-after"));
      if (wait < 0) wait = backoff_seconds(fails);
      note(spec.file + ": " + reason + "; resuming at byte " + std::to_string(have) + " in " +
           std::to_string(int(wait * 1000)) + " ms");
      if (!sleep_unless_cancelled(wait, http.cancel()))
        return Status::Error(Kind::Interrupted, spec.file + ": interrupted with " + mb(have) + " in " + part);
    }
    if (::fsync(f.fd) != 0) return Status::Error(Kind::Io, "cannot fsync " + part + ": " + std::strerror(errno));
    if (!dg) break;
    const std::string got = dg->hex();
    if (got == want) break;
    if (resumed && !fresh_retry_done) {
      // The kept prefix may be what is wrong: one clean download from byte 0.
      fresh_retry_done = true;
      resumed = false;
      note(spec.file + ": hash mismatch after a resumed download; downloading it again from byte 0");
      F8HUB_TRY(restart());
      continue;
    }
    ::unlink(part.c_str());
    bytes(-int64_t(have));
    return Status::Error(Kind::Integrity, spec.file + ": " + (spec.sha256.empty() ? "git blob sha1" : "sha256") +
                                              " mismatch: downloaded " + got + ", the Hub announced " + want +
                                              "; the download was discarded (run again to retry)");
  }
  if (::rename(part.c_str(), blob.c_str()) != 0)
    return Status::Error(Kind::Io, "cannot rename " + part + " to " + blob + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace f8hub
