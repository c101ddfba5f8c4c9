// snapshot.h — a pull's two steps, the ones huggingface_hub's
// snapshot_download takes:
//   1. resolve: which commit the revision names now (the revision API), or,
//      with HF_HUB_OFFLINE=1 or when the endpoint cannot be reached, the one
//      refs/<revision> recorded (a commit id needs neither);
//   2. fetch: the files a conversion needs (file_select.h) into
//      snapshots/<commit>/, several at once (`jobs` threads, the largest
//      first); a file whose pointer is already there is not requested again,
//      a blob already there is only linked. Offline, step 2 only checks that
//      the cached snapshot holds every needed file and makes no request.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hub/cancel.h"
#include "hub/hub_api.h"
#include "hub/hub_env.h"
#include "hub/hub_status.h"
#include "hub/repo_ref.h"

namespace f8hub {

struct Resolved {
  std::string commit;
  bool from_cache = false;    // offline, or the endpoint could not be reached
  std::string why_cache;      // the network error when it fell back (empty when HF_HUB_OFFLINE)
  RepoInfo info;              // the Hub's file list (online only)
};

// Progress reports; called from the download threads (the receiver locks).
struct SnapshotHooks {
  // The plan: every needed file with its size (-1 unknown) and whether it is
  // already in the snapshot.
  std::function<void(const std::vector<std::pair<std::string, int64_t>>& files, uint64_t cached_bytes)> on_plan;
  std::function<void(const std::string& file, int64_t size)> on_start;  // a transfer begins
  std::function<void(int64_t delta)> on_bytes;                          // network bytes (< 0: discarded)
  std::function<void(uint64_t kept)> on_kept;                           // resumed from an .incomplete
  // A file is in the snapshot: `fetched` = bytes received for it now (0: it was cached).
  std::function<void(const std::string& file, int64_t size, uint64_t fetched, double seconds)> on_done;
  std::function<void(const std::string& note)> on_note;                // retries, lock waits, fallbacks
};

struct SnapshotResult {
  std::string commit;
  std::string dir;            // snapshots/<commit>: a directory `f8 convert` reads
  std::vector<std::string> files;
  uint64_t bytes = 0;         // total size of the needed files
  uint64_t fetched = 0;       // bytes received over the network
  int n_fetched = 0, n_cached = 0;
};

Status resolve_revision(const HubEnv& env, const RepoRef& ref, const Cancel& cancel, Resolved* out,
                        const NoteFn& note = {});

Status fetch_snapshot(const HubEnv& env, const RepoRef& ref, const Resolved& res, int jobs, const Cancel& cancel,
                      SnapshotHooks& hooks, SnapshotResult* out);

}  // namespace f8hub
