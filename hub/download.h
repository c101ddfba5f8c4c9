// download.h — one blob into the cache, robustly:
//   - under the blob's lock (.locks/.../<etag>.lock, shared with huggingface_hub);
//   - into blobs/<etag>.incomplete, continued with "Range: bytes=N-" when it
//     already holds N bytes (a previous run, or a retry after a dropped
//     connection); a 200 reply to a Range request restarts from byte 0;
//   - hashed while it streams (the kept prefix is hashed first), then checked
//     against the size and the sha256 (LFS) or git blob id (regular file) the
//     Hub announced; a mismatch deletes the .incomplete and is an error naming
//     the file (one fresh retry first when the bytes came from a resume);
//   - transient failures (connection drops, stalls, 408/429/5xx) are retried
//     with backoff, up to 5 times in a row without progress;
//   - renamed to blobs/<etag> only when complete and verified.
// Ctrl-C (Cancel) stops at once and keeps the .incomplete for the next run.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hub/hub_cache.h"
#include "hub/http_client.h"
#include "hub/hub_status.h"

namespace f8hub {

struct BlobSpec {
  std::string file;                  // path in the repo (messages)
  std::string url;                   // where to GET it
  std::vector<std::string> headers;  // Authorization only when `url` is on the Hub
  std::string etag;                  // the blob's name
  int64_t size = -1;                 // announced size; -1 unknown
  std::string sha256;                // announced LFS sha256; empty: none
  std::string git_sha1;              // announced git blob id; empty: none (needs size)
};

struct DownloadHooks {
  std::function<void(int64_t)> on_bytes;             // bytes received (< 0: bytes discarded by a restart)
  std::function<void(uint64_t)> on_kept;             // bytes kept from an earlier .incomplete (once, at the start)
  std::function<void(const std::string&)> on_note;   // retries, lock waits
};

struct DownloadStats {
  uint64_t fetched = 0;      // body bytes received over the network for this blob
  uint64_t resumed_from = 0; // bytes kept from an earlier .incomplete at the start
  bool already_there = false;  // another process finished it while we waited for the lock
};

Status download_blob(HttpClient& http, const RepoCache& cache, const BlobSpec& spec, DownloadHooks& hooks,
                     DownloadStats* stats);

}  // namespace f8hub
